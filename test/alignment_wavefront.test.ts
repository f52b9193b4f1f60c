/**
 * AlignmentCRF on the CPU at sizes past the wavefront's strips (cpp/cpu/alignment_wavefront.h sweeps the rows 128 at a
 * time, the anti-diagonals of each strip a vector at a time): log Z, the marginals and the argmax against the plain
 * float64 forward-backward of test/oracles/alignment.ts, global and local, with lengths and target lengths that cut
 * strips anywhere (a last strip of 1 row, n = 128, 129, 257), 1-row and 1-column instances, ±1e3 scores and −inf
 * masks (never on one kept path); float32 against float64 on the same scores.
 */
import { AlignmentCRF, Tensor } from '../lib';
import { values } from './arcs';
import { expectClose, normal, rng } from './helpers';
import {
  alignmentForwardBackward,
  alignmentInstance,
  alignmentKeeper,
  alignmentPartsOfDecoded,
  alignmentScoreOf,
} from './oracles/alignment';

interface Case {
  N: number;
  M: number;
  lengths: number[];
  targetLengths: number[];
}

const cases: Case[] = [
  { N: 130, M: 7, lengths: [130, 129, 128, 1], targetLengths: [7, 1, 3, 7] },
  { N: 258, M: 40, lengths: [258, 257, 200, 127], targetLengths: [40, 33, 1, 17] },
  { N: 140, M: 140, lengths: [140, 2, 139, 64], targetLengths: [140, 140, 129, 128] },
  { N: 3, M: 300, lengths: [3, 1, 2, 3], targetLengths: [300, 299, 150, 1] },
];

/** Random scores, a fraction masked, but never the parts of one kept path per instance (test/oracles/alignment.ts). */
function scoresOf(c: Case, random: () => number, scale: number, maskRate: number, local: boolean): Tensor {
  const data = Float64Array.from({ length: c.lengths.length * c.N * c.M * 3 }, () => scale * normal(random));
  const p = new Tensor(data, [c.lengths.length, c.N, c.M, 3]);
  const D = c.N * c.M * 3;
  c.lengths.forEach((_, b) => {
    const kept = new Set(alignmentKeeper(alignmentInstance(p, b, { lengths: c.lengths, targetLengths: c.targetLengths, local })));
    for (let q = 0; q < D; q++) if (!kept.has(q) && random() < maskRate) data[b * D + q] = -Infinity;
  });
  return p;
}

describe('AlignmentCRF wavefronts (CPU) against the plain forward-backward at sizes past a strip', () => {
  for (const local of [false, true]) {
    for (const [scale, maskRate] of [
      [1.5, 0],
      [1e3, 0],
      [2, local ? 0.3 : 0.02],
    ]) {
      test(`${local ? 'local' : 'global'}, scores × ${scale}, ${maskRate * 100}% masked`, () => {
        const random = rng(17 + scale + (local ? 1 : 0));
        for (const c of cases) {
          const options = { lengths: c.lengths, targetLengths: c.targetLengths, local };
          const p = scoresOf(c, random, scale, maskRate, local);
          const crf = new AlignmentCRF(p, options);
          const logZ = values(crf.logPartition());
          const mu = values(crf.marginals());
          const map = crf.argmaxDecoded();
          const width = map.path.length / c.lengths.length;
          const D = c.N * c.M * 3;
          c.lengths.forEach((_, b) => {
            const x = alignmentInstance(p, b, options);
            const fb = alignmentForwardBackward(x);
            expectClose([logZ[b]], [fb.logZ], 1e-9, 1e-9);
            expectClose(mu.slice(b * D, (b + 1) * D), fb.marginals, 1e-9, 1e-12);
            const parts = alignmentPartsOfDecoded(x, map.path.subarray(b * width, (b + 1) * width));
            expectClose([values(map.score)[b], alignmentScoreOf(x, parts)], [fb.best, fb.best], 1e-12, 1e-9);
            const oneHot = values(map.parts).slice(b * D, (b + 1) * D);
            expect(oneHot.reduce((a, v) => a + v, 0)).toBe(parts.length);
            for (const q of parts) expect(oneHot[q]).toBe(1);
          });
          // float32 against float64 on the same (rounded) scores: a float32 log Z of a few hundred is good to ~3e-5,
          // which moves marginals by ~2e-4 (the generic lattice pass's too); at ±1e3 by ~1e-2, so those are compared
          // at the smaller scales only.
          const rounded = new Tensor(Float64Array.from(Float32Array.from(p.data)), p.shape);
          const crf64 = new AlignmentCRF(rounded, options);
          const crf32 = new AlignmentCRF(new Tensor(Float32Array.from(p.data), p.shape), options);
          expectClose(values(crf32.logPartition()), values(crf64.logPartition()), 1e-5, 1e-4);
          if (scale < 100) expectClose(values(crf32.marginals()), values(crf64.marginals()), 0, 1e-3);
          expect(Array.from(crf32.argmaxDecoded().path)).toEqual(Array.from(crf64.argmaxDecoded().path));
        }
      });
    }
  }
});
