/**
 * AlignmentCRF (torch-struct's Alignment: scores [B, N, M, 3]), global and local (Smith–Waterman), on every available
 * backend: the common path suite (test/path_suite.ts) against the enumeration oracle of test/oracles/alignment.ts,
 * once per variant, plus its own checks — the oracle against a port of torch-struct's AlignmentTest.enumerate and
 * the Delannoy counts, M < N, 1 × m and n × 1 instances, log Z of zero scores = log(number of paths) at larger
 * sizes, and local ⊇ global.
 */
import { AlignmentCRF, Device, Tensor } from '../lib';
import { row, values } from './arcs';
import { errorCode, expectClose, randomTensor, rng } from './helpers';
import { keyOf } from './oracles/enumerate';
import {
  AlignmentInstance,
  alignmentCount,
  alignmentDecodedWidth,
  alignmentDistribution,
  alignmentForwardBackward,
  alignmentInstance,
  alignmentKeeper,
  alignmentPart,
  alignmentPartCount,
  alignmentPartsOfDecoded,
  alignmentScoreOf,
  alignmentStructures,
  alignmentUsed,
  delannoy,
  torchStructAlignmentChains,
} from './oracles/alignment';
import { Lens, PathOracle, PathSpec, describePathStructure, distributionAt, scoresOf } from './path_suite';

function oracleOf(x: AlignmentInstance): PathOracle {
  return {
    partCount: alignmentPartCount(x),
    used: (q) => alignmentUsed(x, q),
    keeper: () => alignmentKeeper(x),
    structures: () => alignmentStructures(x),
    partsOfDecoded: (d) => alignmentPartsOfDecoded(x, d),
    scoreOf: (parts) => alignmentScoreOf(x, parts),
    forwardBackward: () => alignmentForwardBackward(x),
  };
}

const optionsOf = (lens: Lens[] | undefined, local: boolean) => ({
  lengths: lens?.map((l) => l[0]),
  targetLengths: lens?.map((l) => l[1]),
  local,
});

function alignmentSpec(local: boolean): PathSpec {
  return {
    name: local ? 'AlignmentCRF local' : 'AlignmentCRF',
    shape: (B, [N, M]) => [B, N, M, 3],
    make: (p, lens, device) => new AlignmentCRF(p, { ...optionsOf(lens, local), device }),
    oracle: (p, b, lens) => oracleOf(alignmentInstance(p, b, optionsOf(lens, local))),
    decoded: (d) => d.path as Int32Array,
    decodedWidth: ([N, M]) => alignmentDecodedWidth(N, M),
    full: ([N, M]) => [N, M],
    ones: ([N, M]) => [
      [1, 1],
      [1, M],
      [N, 1],
    ],
    randomLens: ([N, M], random) => [1 + Math.floor(random() * N), 1 + Math.floor(random() * M)],
    cut: (p, b, lens) => {
      const [, N, M] = p.shape;
      const [n, m] = lens[b];
      const data = new Float64Array(n * m * 3);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let op = 0; op < 3; op++) data[(i * m + j) * 3 + op] = p.data[((b * N + i) * M + j) * 3 + op];
      return {
        scores: new Tensor(data, [1, n, m, 3]),
        lens: undefined,
        dims: [n, m],
        partIndex: (q) => (Math.floor(q / 3 / m) * M + (Math.floor(q / 3) % m)) * 3 + (q % 3),
      };
    },
    sizes: local
      ? [
          [4, [3, 3]],
          [3, [2, 4]],
          [3, [4, 3]],
          [3, [1, 2]],
        ]
      : [
          [4, [3, 4]],
          [3, [4, 2]],
          [3, [1, 3]],
          [3, [4, 4]],
          [4, [3, 1]],
        ],
    masked: local
      ? {
          dims: [3, 4],
          lens: [
            [3, 4],
            [3, 3],
            [2, 4],
            [3, 2],
          ],
        }
      : {
          dims: [4, 4],
          lens: [
            [4, 4],
            [3, 4],
            [4, 3],
            [2, 2],
          ],
        },
    finiteDifferences: {
      dims: [3, 3],
      lens: [
        [3, 3],
        [1, 1],
        [2, 3],
        [3, 1],
      ],
    },
    sampling: local
      ? {
          dims: [3, 3],
          lens: [
            [3, 3],
            [2, 2],
            [1, 1],
          ],
          k: 8000,
        }
      : {
          dims: [3, 4],
          lens: [
            [3, 4],
            [2, 3],
            [1, 1],
          ],
          k: 6000,
        },
    largeScores: {
      dims: local ? [3, 4] : [4, 4],
      lens: [
        local ? [3, 4] : [4, 4],
        [1, 1],
        [3, 4],
        [local ? 3 : 4, 2],
      ],
    },
    alone: {
      dims: [5, 4],
      lens: [
        [5, 4],
        [1, 1],
        [2, 4],
        [5, 1],
        [3, 2],
      ],
    },
    async: {
      dims: [5, 6],
      lens: [
        [5, 6],
        [3, 2],
        [1, 1],
        [4, 6],
        [2, 5],
      ],
    },
    perturb: {
      dims: [3, 4],
      lens: [
        [3, 4],
        [2, 3],
        [1, 1],
      ],
    },
    sparsemap: {
      dims: [3, 3],
      lens: local
        ? [
            [3, 3],
            [1, 2],
            [2, 2],
          ]
        : [
            [3, 3],
            [1, 1],
            [2, 3],
          ],
    },
    float32Sizes: [
      [3, [10, 12]],
      [3, [20, 15]],
      [2, [30, 30]],
    ],
    seed: local ? 9000 : 8000,
    argument: 'scores',
    badShapes: [
      [3, 4, 5],
      [3, 4, 5, 2],
      [3, 4, 5, 3, 1],
    ],
    errorDims: [3, 4],
    badOptions: [
      ['lengths [3, 0, 2]', (p) => new AlignmentCRF(p, { lengths: [3, 0, 2], local }), 'RangeError:ERR_OUT_OF_RANGE', /\blengths\b/],
      ['lengths [3, 4, 2]', (p) => new AlignmentCRF(p, { lengths: [3, 4, 2], local }), 'RangeError:ERR_OUT_OF_RANGE', /\blengths\b/],
      ['lengths [3, 2]', (p) => new AlignmentCRF(p, { lengths: [3, 2], local }), 'RangeError:ERR_SHAPE_MISMATCH', /\blengths\b/],
      // The messages must name targetLengths, not lengths (at a3f362e they said "lengths[1] = 0 is outside [1, 4]").
      ['targetLengths [4, 0, 2]', (p) => new AlignmentCRF(p, { targetLengths: [4, 0, 2], local }), 'RangeError:ERR_OUT_OF_RANGE', /targetLengths/],
      ['targetLengths [4, 5, 2]', (p) => new AlignmentCRF(p, { targetLengths: [4, 5, 2], local }), 'RangeError:ERR_OUT_OF_RANGE', /targetLengths/],
      ['targetLengths [4, 2.5, 2]', (p) => new AlignmentCRF(p, { targetLengths: [4, 2.5, 2], local }), 'RangeError:ERR_OUT_OF_RANGE', /targetLengths/],
      ['targetLengths [4, 2]', (p) => new AlignmentCRF(p, { targetLengths: [4, 2], local }), 'RangeError:ERR_SHAPE_MISMATCH', /targetLengths/],
    ],
    extras: { backend: (device) => ownTests(device, local) },
  };
}

describe('the AlignmentCRF oracle itself', () => {
  test('Delannoy counts, distinct paths, parts ↔ decoded, the used parts and the keeper', () => {
    expect([0, 1, 2, 3, 4].map((k) => delannoy(k, k))).toEqual([1, 3, 13, 63, 321]);
    expect(delannoy(2, 3)).toBe(25);
    const random = rng(1);
    for (const local of [false, true]) {
      for (const [N, M] of [
        [3, 4],
        [4, 2],
        [1, 3],
        [3, 3],
      ]) {
        for (let n = 1; n <= N; n++) {
          for (let m = 1; m <= M; m++) {
            const x = alignmentInstance(randomTensor([1, N, M, 3], random), 0, { lengths: [n], targetLengths: [m], local });
            const list = alignmentStructures(x);
            expect(list.length).toBe(alignmentCount(n, m, local));
            expect(new Set(list.map((s) => keyOf(s.decoded))).size).toBe(list.length);
            expect(new Set(list.map((s) => [...s.parts].sort((a, b) => a - b).join(','))).size).toBe(list.length);
            const used = new Set<number>();
            for (const s of list) {
              s.parts.forEach((q) => used.add(q));
              expect(alignmentPartsOfDecoded(x, s.decoded)).toEqual(s.parts);
              expectClose([alignmentScoreOf(x, s.parts)], [s.score], 1e-15, 1e-15);
              expect(s.decoded.length).toBe(alignmentDecodedWidth(N, M));
              if (!local) expect(s.parts.length).toBeGreaterThanOrEqual(Math.max(n, m));
            }
            for (let q = 0; q < alignmentPartCount(x); q++) expect(alignmentUsed(x, q)).toBe(used.has(q));
            const keeper = alignmentKeeper(x);
            expect(list.some((s) => s.parts.join(',') === keeper.join(','))).toBe(true);
          }
        }
      }
    }
    // By hand: 2 × 2 global — right then down, diagonal, down then right (ops tried 0, 1, 2).
    const x = alignmentInstance(randomTensor([1, 2, 2, 3], random), 0);
    expect(alignmentStructures(x).map((s) => s.decoded)).toEqual([
      [0, 0, 1, 0, 1, 0, 1, 1, 2],
      [0, 0, 1, 1, 1, 1, -1, -1, -1],
      [0, 0, 1, 1, 0, 2, 1, 1, 0],
    ]);
    expect(alignmentCount(2, 2, true)).toBe(11); // from (0, 0): 1 + 1 + 1 + 3; from (0, 1) and (1, 0): 2 each; from (1, 1): 1
  });

  test('global paths equal a port of torch-struct AlignmentTest.enumerate (same paths, same scores)', () => {
    const random = rng(2);
    for (const [N, M, n, m] of [
      [3, 4, 3, 4],
      [4, 4, 4, 4],
      [4, 2, 3, 2],
      [2, 5, 2, 3],
      [1, 3, 1, 3],
    ]) {
      const x = alignmentInstance(randomTensor([1, N, M, 3], random), 0, { lengths: [n], targetLengths: [m] });
      const ours = new Map(alignmentStructures(x).map((s) => [keyOf(s.decoded.slice(0, 3 * s.parts.length).filter((_, e) => e % 3 !== 2)), s.score]));
      const theirs = torchStructAlignmentChains(x);
      expect(theirs.length).toBe(ours.size);
      for (const { cells, score } of theirs) {
        const s = ours.get(keyOf(cells.flat()));
        if (s === undefined) throw new Error(`torch-struct chain [${cells.flat()}] is no path of the oracle`);
        expectClose([score], [s], 1e-14, 1e-14);
      }
    }
  });

  test('its forward-backward (for larger sizes) equals the enumeration, global and local, −inf masks included', () => {
    const random = rng(4);
    for (const local of [false, true]) {
      for (const [N, M] of [
        [3, 4],
        [4, 2],
        [1, 3],
        [3, 3],
      ]) {
        for (let n = 1; n <= N; n++) {
          for (let m = 1; m <= M; m++) {
            const p = randomTensor([1, N, M, 3], random, 1.5);
            for (let q = 0; q < p.size; q++) if (random() < 0.2 && q !== 1) p.data[q] = -Infinity;
            const x = alignmentInstance(p, 0, { lengths: [n], targetLengths: [m], local });
            if (!alignmentStructures(x).some((st) => st.score > -Infinity)) continue;
            const d = alignmentDistribution(x);
            const fb = alignmentForwardBackward(x);
            expectClose([fb.logZ, fb.best], [d.logZ, d.best.score], 1e-12, 1e-12);
            expectClose(fb.marginals, d.marginals, 1e-10, 1e-13);
          }
        }
      }
    }
  });

  test('a decoded form that is no path is rejected by partsOfDecoded', () => {
    const g = alignmentInstance(randomTensor([1, 2, 3, 3], rng(3)), 0);
    const l = alignmentInstance(randomTensor([1, 2, 3, 3], rng(3)), 0, { local: true });
    const pad = (rows: number[]) => [...rows, ...new Array(alignmentDecodedWidth(2, 3) - rows.length).fill(-1)];
    expect(alignmentPartsOfDecoded(g, pad([0, 0, 1, 1, 1, 1, 1, 2, 0]))).toEqual([1, alignmentPart(g, 1, 1, 1), alignmentPart(g, 1, 2, 0)]);
    expect(alignmentPartsOfDecoded(l, pad([0, 1, 1, 1, 2, 1]))).toEqual([alignmentPart(l, 0, 1, 1), alignmentPart(l, 1, 2, 1)]);
    for (const bad of [
      pad([0, 0, 1, 1, 1, 1]), // global, does not reach (1, 2)
      pad([0, 1, 1, 1, 2, 1]), // global, does not start at (0, 0)
      pad([0, 0, 0, 0, 1, 0, 1, 2, 1]), // starts with op 0
      pad([0, 0, 1, 1, 1, 2, 1, 2, 0]), // op 2 into (1, 1) steps from (0, 1), not (0, 0)
      pad([0, 0, 1, 0, 1, 0, 0, 2, 0, 0, 3, 0]), // (0, 3) is outside 2 × 3
      [0, 0, 1, 1, 1, 1, 1, 2, 0, -1, 5, -1], // junk past the end
    ]) {
      expect(() => alignmentPartsOfDecoded(g, bad)).toThrow();
    }
    expect(() => alignmentPartsOfDecoded(l, pad([]))).toThrow();
  });
});

/** AlignmentCRF's own checks on one backend (added to `AlignmentCRF[ local] on <device>`). */
function ownTests(device: Device, local: boolean): void {
  test('log Z of zero scores = log(number of paths) at larger sizes, M < N and M > N', () => {
    for (const [N, M] of [
      [9, 12],
      [14, 6],
    ]) {
      const lengths = [N, 1, Math.ceil(N / 2), N];
      const targetLengths = [M, M, Math.ceil(M / 3), 1];
      const crf = new AlignmentCRF(new Tensor(new Float64Array(4 * N * M * 3), [4, N, M, 3]), { lengths, targetLengths, local, device });
      expectClose(
        values(crf.logPartition()),
        lengths.map((n, b) => Math.log(alignmentCount(n, targetLengths[b], local))),
        1e-12,
        1e-12,
      );
      crf.dispose();
    }
  });

  test('a 1 × 1 instance: one path (local and global), log Z = s(0, 0, 1), μ(0, 0, 1) = 1', () => {
    const random = rng(41);
    const p = randomTensor([2, 3, 2, 3], random);
    const crf = new AlignmentCRF(p, { lengths: [1, 3], targetLengths: [1, 2], local, device });
    const block = 3 * 2 * 3;
    expectClose([values(crf.logPartition())[0]], [p.data[1]], 1e-15, 1e-15);
    expectClose([values(crf.entropy())[0]], [0], 0, 1e-12);
    const m = row(values(crf.marginals()), 0, block);
    expect(m).toEqual(Array.from({ length: block }, (_, q) => (q === 1 ? 1 : 0)));
    const width = alignmentDecodedWidth(3, 2);
    expect(row(crf.argmaxDecoded().path, 0, width)).toEqual([0, 0, 1, ...new Array(width - 3).fill(-1)]);
    crf.dispose();
  });

  if (local) {
    test('local alignment: the global paths are among its structures; a single strong cell is its MAP', () => {
      const random = rng(42);
      const [N, M] = [3, 3];
      const p = randomTensor([1, N, M, 3], random);
      const global = alignmentStructures(alignmentInstance(p, 0));
      const localKeys = new Set(alignmentStructures(alignmentInstance(p, 0, { local: true })).map((s) => keyOf(s.decoded)));
      for (const s of global) expect(localKeys.has(keyOf(s.decoded))).toBe(true);
      // Every part −1 except the start of (1, 2), +5: the MAP is that single cell.
      const q = new Tensor(new Float64Array(N * M * 3).fill(-1), [1, N, M, 3]);
      q.data[alignmentPart(alignmentInstance(q, 0), 1, 2, 1)] = 5;
      const crf = new AlignmentCRF(q, { local: true, device });
      expect(Array.from(crf.argmaxDecoded().path)).toEqual([1, 2, 1, ...new Array(alignmentDecodedWidth(N, M) - 3).fill(-1)]);
      const d = distributionAt(localSpec, q, 0, [[N, M]]);
      expectClose(values(crf.logPartition()), [d.logZ], 1e-12, 1e-12);
      crf.dispose();
    });
  } else {
    test('global: every path has at least max(n, m) cells; the MAP of a strong diagonal is the diagonal', () => {
      const [N, M] = [4, 4];
      const p = new Tensor(new Float64Array(N * M * 3).fill(-1), [1, N, M, 3]);
      const x = alignmentInstance(p, 0);
      for (let i = 0; i < N; i++) p.data[alignmentPart(x, i, i, 1)] = 2;
      const crf = new AlignmentCRF(p, { device });
      const path = Array.from(crf.argmaxDecoded().path);
      expect(path).toEqual([0, 0, 1, 1, 1, 1, 2, 2, 1, 3, 3, 1, ...new Array(alignmentDecodedWidth(N, M) - 12).fill(-1)]);
      crf.dispose();
    });
  }
}

const globalSpec = alignmentSpec(false);
const localSpec = alignmentSpec(true);

describePathStructure(globalSpec);
describePathStructure(localSpec);

describe('AlignmentCRF options', () => {
  test('local defaults to false; lengths and targetLengths are independent', () => {
    const p = scoresOf(globalSpec, [3, 4], [[3, 4]], rng(6));
    const a = new AlignmentCRF(p);
    const b = new AlignmentCRF(p, { local: false });
    expect(values(a.logPartition())).toEqual(values(b.logPartition()));
    expect(values(new AlignmentCRF(p, { local: true }).logPartition())[0]).toBeGreaterThan(values(a.logPartition())[0]);
    expect(errorCode(() => new AlignmentCRF(p, { lengths: [3], targetLengths: [1] }).logPartition())).toBe('no error');
  });
});
