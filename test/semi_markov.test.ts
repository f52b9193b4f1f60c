/**
 * SemiMarkovCRF (torch-struct's SemiMarkov: edges [B, N−1, K, C, C]) on every available backend: the common path
 * suite (test/path_suite.ts) against the enumeration oracle of test/oracles/semi_markov.ts, plus its own checks —
 * the oracle against a port of torch-struct's SemiMarkovTest.enumerate and from_parts, length-1 instances (C
 * structures of score 0: log Z = log C, uniform samples, label 0 on the argmax's tie), C = 1, and K = 2 against
 * LinearChainCRF on the same edges.
 */
import { Device, LinearChainCRF, SemiMarkovCRF, Tensor } from '../lib';
import { host, row, values } from './arcs';
import { chiSquarePValue, expectClose, randomTensor, rng } from './helpers';
import { keyOf } from './oracles/enumerate';
import {
  SemiMarkovInstance,
  semiMarkovCount,
  semiMarkovDistribution,
  semiMarkovForwardBackward,
  semiMarkovFromParts,
  semiMarkovInstance,
  semiMarkovKeeper,
  semiMarkovPartCount,
  semiMarkovPartsOfDecoded,
  semiMarkovScoreOf,
  semiMarkovStructures,
  semiMarkovUsed,
  torchStructSemiMarkovChains,
} from './oracles/semi_markov';
import { Lens, PathOracle, PathSpec, describePathStructure, mixedLens, scoresOf } from './path_suite';

function oracleOf(x: SemiMarkovInstance): PathOracle {
  return {
    partCount: semiMarkovPartCount(x),
    used: (q) => semiMarkovUsed(x, q),
    keeper: () => semiMarkovKeeper(x),
    structures: () => semiMarkovStructures(x),
    partsOfDecoded: (d) => semiMarkovPartsOfDecoded(x, d),
    scoreOf: (parts) => semiMarkovScoreOf(x, parts),
    forwardBackward: () => semiMarkovForwardBackward(x),
  };
}

const lengthsOf = (lens: Lens[] | undefined) => lens?.map((l) => l[0]);

const spec: PathSpec = {
  name: 'SemiMarkovCRF',
  shape: (B, [N, K, C]) => [B, N - 1, K, C, C],
  make: (p, lens, device) => new SemiMarkovCRF(p, { lengths: lengthsOf(lens), device }),
  oracle: (p, b, lens) => oracleOf(semiMarkovInstance(p, b, lengthsOf(lens))),
  decoded: (d) => d.labels as Int32Array,
  decodedWidth: ([N]) => N,
  full: ([N]) => [N],
  ones: () => [[1]],
  randomLens: ([N], random) => [1 + Math.floor(random() * N)],
  cut: (p, b, lens) => {
    // The block is position-major, so a sequence of length l ≥ 2 is the prefix of its block ([1, l−1, K, C, C]); a
    // length-1 sequence (no edges) keeps the shape and its length.
    const [, N1, K, C] = p.shape;
    const [l] = lens[b];
    const block = N1 * K * C * C;
    const rows = l === 1 ? N1 : l - 1;
    const data = Float64Array.from(p.data.subarray(b * block, b * block + rows * K * C * C));
    return {
      scores: new Tensor(data, [1, rows, K, C, C]),
      lens: l === 1 ? [[1]] : undefined,
      dims: [rows + 1, K, C],
      partIndex: (q) => q,
    };
  },
  sizes: [
    [4, [5, 3, 2]],
    [3, [4, 4, 3]],
    [3, [2, 2, 1]],
    [3, [5, 3, 1]],
    [3, [6, 2, 2]],
    [3, [5, 5, 2]],
  ],
  masked: { dims: [5, 3, 2], lens: [[5], [4], [5], [3]] },
  finiteDifferences: { dims: [4, 3, 2], lens: [[4], [1], [3], [2]] },
  sampling: { dims: [4, 3, 2], lens: [[4], [1], [3]], k: 6000 },
  largeScores: { dims: [5, 3, 2], lens: [[5], [1], [4], [3]] },
  alone: { dims: [6, 3, 2], lens: [[6], [2], [1], [4]] },
  async: { dims: [6, 3, 2], lens: [[6], [3], [1], [5], [2]] },
  perturb: { dims: [5, 3, 2], lens: [[5], [3], [1]] },
  sparsemap: { dims: [4, 3, 2], lens: [[4], [1], [3]] },
  float32Sizes: [
    [3, [12, 4, 3]],
    [3, [25, 5, 2]],
    [2, [40, 3, 4]],
  ],
  seed: 7000,
  argument: 'edges',
  badShapes: [
    [3, 3, 3, 2],
    [3, 3, 3, 2, 2, 1],
    [3, 3, 3, 2, 3],
    [3, 3, 1, 2, 2],
  ],
  errorDims: [4, 3, 2],
  badOptions: [
    ['lengths [4, 0, 2]', (p) => new SemiMarkovCRF(p, { lengths: [4, 0, 2] }), 'RangeError:ERR_OUT_OF_RANGE', /lengths/],
    ['lengths [4, 5, 2]', (p) => new SemiMarkovCRF(p, { lengths: [4, 5, 2] }), 'RangeError:ERR_OUT_OF_RANGE', /lengths/],
    ['lengths [4, 1.5, 2]', (p) => new SemiMarkovCRF(p, { lengths: [4, 1.5, 2] }), 'RangeError:ERR_OUT_OF_RANGE', /lengths/],
    ['lengths [4, 2]', (p) => new SemiMarkovCRF(p, { lengths: [4, 2] }), 'RangeError:ERR_SHAPE_MISMATCH', /lengths/],
  ],
  extras: { backend: ownTests },
};

describe('the SemiMarkovCRF oracle itself', () => {
  test('counts, distinct structures, parts ↔ decoded (torch-struct from_parts), the used parts and the keeper', () => {
    const random = rng(1);
    for (const [N, K, C] of [
      [5, 3, 2],
      [4, 4, 3],
      [6, 2, 2],
      [5, 5, 2],
      [4, 3, 1],
    ]) {
      for (let l = 1; l <= N; l++) {
        const p = randomTensor([1, N - 1, K, C, C], random);
        const x = semiMarkovInstance(p, 0, [l]);
        const list = semiMarkovStructures(x);
        expect(list.length).toBe(semiMarkovCount(l, K, C));
        expect(new Set(list.map((s) => keyOf(s.decoded))).size).toBe(list.length);
        if (l >= 2) expect(new Set(list.map((s) => [...s.parts].sort((a, b) => a - b).join(','))).size).toBe(list.length);
        const used = new Set<number>();
        for (const s of list) {
          s.parts.forEach((q) => used.add(q));
          // (from_parts cannot tell the label of a length-1 sequence: it has no parts.)
          if (l >= 2) expect(semiMarkovFromParts(x, s.parts)).toEqual(s.decoded);
          expect(semiMarkovPartsOfDecoded(x, s.decoded)).toEqual(s.parts);
          expectClose([semiMarkovScoreOf(x, s.parts)], [s.score], 1e-15, 1e-15);
        }
        for (let q = 0; q < semiMarkovPartCount(x); q++) expect(semiMarkovUsed(x, q)).toBe(used.has(q));
        const keeper = semiMarkovKeeper(x);
        expect(list.some((s) => s.parts.join(',') === keeper.join(','))).toBe(true);
        if (l === 1) {
          expect(list.map((s) => s.decoded[0])).toEqual(Array.from({ length: C }, (_, c) => c));
          list.forEach((s) => expect(s.parts).toEqual([]));
        }
      }
    }
    // By hand: N = 3, K = 3, C = 1 — gaps (1, 1) or (2).
    const x = semiMarkovInstance(randomTensor([1, 2, 3, 1, 1], random), 0);
    expect(semiMarkovStructures(x).map((s) => s.decoded)).toEqual([
      [0, 0, 0],
      [0, -1, 0],
    ]);
    expect(semiMarkovCount(5, 3, 1)).toBe(5); // Fibonacci: compositions of 4 into 1s and 2s
  });

  test('equals a port of torch-struct SemiMarkovTest.enumerate (same structures, same scores)', () => {
    const random = rng(2);
    for (const [N, K, C] of [
      [5, 3, 2],
      [4, 4, 3],
      [6, 3, 1],
    ]) {
      for (const l of [1, 2, N - 1, N]) {
        const x = semiMarkovInstance(randomTensor([1, N - 1, K, C, C], random), 0, [l]);
        const ours = new Map(semiMarkovStructures(x).map((s) => [keyOf(s.decoded), s.score]));
        const theirs = torchStructSemiMarkovChains(x);
        expect(theirs.length).toBe(ours.size);
        for (const { decoded, score } of theirs) {
          const s = ours.get(keyOf(decoded));
          if (s === undefined) throw new Error(`torch-struct chain [${decoded}] is no structure of the oracle`);
          expectClose([score], [s], 1e-14, 1e-14);
        }
      }
    }
  });

  test('its forward-backward (for larger sizes) equals the enumeration, −inf masks included', () => {
    const random = rng(4);
    for (const [N, K, C] of [
      [5, 3, 2],
      [4, 4, 3],
      [6, 2, 1],
    ]) {
      for (let l = 1; l <= N; l++) {
        const p = randomTensor([1, N - 1, K, C, C], random, 1.5);
        for (let q = 0; q < p.size; q++) if (random() < 0.2 && q % (C * C) !== 0) p.data[q] = -Infinity; // keeps (·, ·, 0, 0)
        const x = semiMarkovInstance(p, 0, [l]);
        const d = semiMarkovDistribution(x);
        const fb = semiMarkovForwardBackward(x);
        expectClose([fb.logZ, fb.best], [d.logZ, d.best.score], 1e-12, 1e-12);
        expectClose(fb.marginals, d.marginals, 1e-10, 1e-13);
      }
    }
  });

  test('a decoded form that is no structure is rejected by partsOfDecoded', () => {
    const x = semiMarkovInstance(randomTensor([1, 4, 3, 2, 2], rng(3)), 0, [4]);
    for (const bad of [
      [-1, 0, 1, 0, -1], // no label at 0
      [0, -1, 1, -1, -1], // no label at l − 1 = 3
      [0, -1, -1, 1, -1], // a gap of 3 > K − 1
      [0, 1, 2, 0, -1], // label 2 ≥ C
      [0, 1, 1, 0, 1], // a label past the length
      [0, 1, 1], // wrong width
    ]) {
      expect(() => semiMarkovPartsOfDecoded(x, bad)).toThrow();
    }
    expect(semiMarkovPartsOfDecoded(x, [1, -1, 0, 1, -1]).length).toBe(2);
  });
});

/** SemiMarkovCRF's own checks on one backend (added to `SemiMarkovCRF on <device>`). */
function ownTests(device: Device): void {
  test('length-1 sequences: C structures of score 0, log Z = entropy = log C, zero marginals, label 0, uniform samples', () => {
    const [B, N, K, C] = [3, 4, 3, 3];
    const random = rng(31);
    const lens: Lens[] = [[1], [4], [1]];
    const p = scoresOf(spec, [N, K, C], lens, random);
    const crf = new SemiMarkovCRF(p, { lengths: [1, 4, 1], device });
    const block = (N - 1) * K * C * C;
    const logZ = values(crf.logPartition());
    const entropy = values(crf.entropy());
    const marginals = values(crf.marginals());
    const hvp = values(crf.marginalsBackward(randomTensor([...p.shape], random)));
    const best = crf.argmaxDecoded();
    for (const b of [0, 2]) {
      expectClose([logZ[b], entropy[b]], [Math.log(C), Math.log(C)], 1e-14, 1e-14);
      expect(row(marginals, b, block)).toEqual(new Array(block).fill(0));
      expect(row(hvp, b, block).every((v) => v === 0)).toBe(true);
      expect(row(best.labels, b, N)).toEqual([0, -1, -1, -1]);
      expect(values(best.score)[b]).toBe(0);
      expect(row(values(best.parts), b, block).every((v) => v === 0)).toBe(true);
    }
    const logProb = values(crf.logProb(new Tensor(new Float64Array(p.size), p.shape)));
    expectClose([logProb[0], logProb[2]], [-Math.log(C), -Math.log(C)], 1e-14, 1e-14);
    const k = 3000;
    const samples = crf.sampleDecoded(k, { seed: 99 });
    for (const b of [0, 2]) {
      const counts = new Array<number>(C).fill(0);
      for (let s = 0; s < k; s++) {
        const r = row(samples.labels, s * B + b, N);
        expect(r.slice(1)).toEqual([-1, -1, -1]);
        counts[r[0]]++;
      }
      expect(chiSquarePValue(counts, new Array(C).fill(1 / C))).toBeGreaterThan(1e-4);
    }
    crf.dispose();
  });

  test('K = 2 (every segment one position) is LinearChainCRF over edges[:, :, 1]', () => {
    const [B, N, C] = [4, 6, 3];
    const lengths = [6, 2, 5, 3];
    const random = rng(32);
    const p = randomTensor([B, N - 1, 2, C, C], random);
    const chainEdges = new Float64Array(B * (N - 1) * C * C);
    for (let e = 0; e < B * (N - 1); e++) {
      for (let cc = 0; cc < C * C; cc++) chainEdges[e * C * C + cc] = p.data[(e * 2 + 1) * C * C + cc];
    }
    const semi = new SemiMarkovCRF(p, { lengths, device });
    const chain = new LinearChainCRF(new Tensor(chainEdges, [B, N - 1, C, C]), { lengths, device });
    expectClose(values(semi.logPartition()), values(chain.logPartition()), 1e-12, 1e-12);
    expectClose(values(semi.entropy()), values(chain.entropy()), 1e-10, 1e-12);
    const m = values(semi.marginals());
    const mc = values(chain.marginals() as Tensor);
    for (let e = 0; e < B * (N - 1); e++) {
      expect(m.slice(e * 2 * C * C, (e * 2 + 1) * C * C)).toEqual(new Array(C * C).fill(0));
      expectClose(m.slice((e * 2 + 1) * C * C, (e * 2 + 2) * C * C), mc.slice(e * C * C, (e + 1) * C * C), 1e-10, 1e-13);
    }
    expect(Array.from(semi.argmaxDecoded().labels)).toEqual(Array.from(chain.argmaxDecoded().labels));
    semi.dispose();
    chain.dispose();
  });

  test('the decoded labels of a batch match torch-struct from_parts of the one-hot parts', () => {
    const [B, N, K, C] = [4, 7, 4, 2];
    const random = rng(33);
    const lens = mixedLens(spec, B, [N, K, C], random);
    const p = scoresOf(spec, [N, K, C], lens, random);
    const crf = new SemiMarkovCRF(p, { lengths: lens.map((l) => l[0]), device });
    const block = (N - 1) * K * C * C;
    for (const result of [crf.argmaxDecoded(), crf.sampleDecoded(5, { seed: 3 })]) {
      const parts = host(result.parts).data;
      const rows = result.labels.length / N;
      for (let r = 0; r < rows; r++) {
        const b = r % B;
        const x = semiMarkovInstance(p, b, lens.map((l) => l[0]));
        const chosen = row(parts, r, block).flatMap((v, q) => (v ? [q] : []));
        const labels = row(result.labels, r, N);
        if (x.n === 1) expect(labels.slice(1)).toEqual(new Array(N - 1).fill(-1));
        else expect(labels).toEqual(semiMarkovFromParts(x, chosen));
      }
    }
    crf.dispose();
  });

  test('logZ of all-zero scores counts the structures: log(semiMarkovCount) at larger sizes', () => {
    for (const [N, K, C] of [
      [12, 4, 3],
      [20, 6, 2],
    ]) {
      const lengths = [N, 1, Math.ceil(N / 2)];
      const crf = new SemiMarkovCRF(new Tensor(new Float64Array(3 * (N - 1) * K * C * C), [3, N - 1, K, C, C]), { lengths, device });
      expectClose(values(crf.logPartition()), lengths.map((l) => Math.log(semiMarkovCount(l, K, C))), 1e-12, 1e-12);
      crf.dispose();
    }
  });
}

describePathStructure(spec);
