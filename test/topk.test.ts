/**
 * topk(k): the k best structures in order, against enumeration (test/oracles) for every k from 1 to the number of
 * structures (and past it: the −Infinity tail of −1 decoded rows and zero parts), on the CPU backend:
 * Categorical (ties: the smaller class first), SemiMarkovCRF and AlignmentCRF, global and local (k-best Viterbi;
 * ties: by the choices read walking back from the end of the path — the end label or cell, then each in-edge index
 * — smaller first), with mixed lengths, −Infinity masks (masked structures never listed), controlled ties on
 * integer scores, float64 and float32; the typed errors (k out of range). CUDA parity: test/parity/topk.parity.test.ts.
 * TreeCRF and DependencyCRF: test/topk_trees.test.ts; NonProjectiveDependencyCRF: test/topk_nonprojective.test.ts.
 */
import { AlignmentCRF, AnyTensor, Categorical, SemiMarkovCRF, Tensor } from '../lib';
import { errorCode, randomTensor, rng, toFloat32 } from './helpers';
import { Structure } from './oracles/enumerate';
import { checkTopk } from './topk_check';
import { alignmentInstance, alignmentPartCount, alignmentStructures } from './oracles/alignment';
import { semiMarkovInstance, semiMarkovPartCount, semiMarkovStructures } from './oracles/semi_markov';

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

/** Lexicographic comparison of two key sequences. */
function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The documented order: score descending, then the tie key ascending; −Infinity structures dropped. */
function ranked(structures: Structure[], tieKey: (s: Structure) => number[]): Structure[] {
  return structures
    .filter((s) => s.score > -Infinity)
    .sort((a, b) => (a.score !== b.score ? b.score - a.score : compareKeys(tieKey(a), tieKey(b))));
}

/** SemiMarkov's tie key: the label at l − 1, then (gap − 1)·C + label before of each segment walking back, then 0. */
function semiMarkovTieKey(C: number, n: number): (s: Structure) => number[] {
  return (s) => {
    const positions: number[] = [];
    for (let p = 0; p < n; p++) if (s.decoded[p] >= 0) positions.push(p);
    const key = [s.decoded[n - 1]];
    for (let i = positions.length - 1; i > 0; i--) key.push((positions[i] - positions[i - 1] - 1) * C + s.decoded[positions[i - 1]]);
    key.push(0);
    return key;
  };
}

/** Alignment's tie key: the end cell's index i·m + j (local; 0 global), each row's op walking back, 3 for the start. */
function alignmentTieKey(m: number, local: boolean): (s: Structure) => number[] {
  return (s) => {
    const rows: number[][] = [];
    for (let r = 0; 3 * r < s.decoded.length && s.decoded[3 * r] >= 0; r++) rows.push(s.decoded.slice(3 * r, 3 * r + 3));
    const last = rows[rows.length - 1];
    const key = [local ? last[0] * m + last[1] : 0];
    for (let r = rows.length - 1; r > 0; r--) key.push(rows[r][2]);
    key.push(3);
    return key;
  };
}

describe('Categorical.topk', () => {
  const B = 3;
  const K = 5;
  const oracleOf = (x: Tensor): Structure[][] =>
    Array.from({ length: B }, (_, b) =>
      ranked(
        Array.from({ length: K }, (_, c) => ({ parts: [c], decoded: [c], score: x.data[b * K + c] })),
        (s) => s.decoded,
      ),
    );
  const check = (x: Tensor, exactOrder: boolean, rtol: number) => {
    const oracle = oracleOf(new Tensor(Float64Array.from(x.data), x.shape));
    for (let k = 1; k <= K + 1; k++) {
      const r = new Categorical(x).topk(k);
      checkTopk({ decoded: r.index, score: r.score, parts: r.parts }, k, B, 1, K, oracle, { rtol, atol: rtol, exactOrder });
    }
  };

  test('float64 with a −Infinity mask, every k', () => {
    const x = randomTensor([B, K], rng(1));
    x.data[K + 2] = -Infinity;
    x.data[2 * K] = -Infinity;
    x.data[2 * K + 4] = -Infinity;
    check(x, true, 1e-12);
  });
  test('float32', () => {
    check(toFloat32(randomTensor([B, K], rng(2))), true, 1e-6);
  });
  test('ties: the smaller class first', () => {
    const x = new Tensor(Float64Array.from([1, 2, 2, 1, 2, 0, 0, 0, 0, 0, 3, -Infinity, 3, 3, -1]), [B, K]);
    const r = new Categorical(x).topk(5);
    // [k, B]: row 0 → 1, 2, 4, 0, 3; row 1 → 0..4; row 2 → 0, 2, 3, 4, then none
    expect(Array.from(r.index)).toEqual([1, 0, 0, 2, 1, 2, 4, 2, 3, 0, 3, 4, 3, 4, -1]);
    check(x, true, 0);
  });
  test('async equals sync', async () => {
    const x = randomTensor([B, K], rng(3));
    const a = await new Categorical(x).topkAsync(3);
    const s = new Categorical(x).topk(3);
    expect(Array.from(a.index)).toEqual(Array.from(s.index));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
  });
  test('k out of range: typed errors', () => {
    const c = new Categorical(randomTensor([B, K], rng(4)));
    expect(errorCode(() => c.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => c.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => c.topk(1.5))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => c.topk('2' as unknown as number))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });
});

describe('SemiMarkovCRF.topk', () => {
  // edges [B, N − 1, K, C, C]: N = 4, K = 3, C = 2; lengths 4, 1 and 3 (32, 2 and 12 structures).
  const [B, N, K, C] = [3, 4, 3, 2];
  const lengths = [4, 1, 3];
  const width = N;
  const partCount = (N - 1) * K * C * C;
  const oracleOf = (edges: Tensor): Structure[][] => {
    const x64 = new Tensor(Float64Array.from(edges.data), edges.shape);
    return lengths.map((n, b) => ranked(semiMarkovStructures(semiMarkovInstance(x64, b, lengths)), semiMarkovTieKey(C, n)));
  };
  const check = (edges: Tensor, exactOrder: boolean, rtol: number) => {
    const oracle = oracleOf(edges);
    const most = Math.max(...oracle.map((o) => o.length));
    expect(semiMarkovPartCount(semiMarkovInstance(edges, 0))).toBe(partCount);
    for (let k = 1; k <= most + 1; k++) {
      const result = new SemiMarkovCRF(edges, { lengths }).topk(k);
      checkTopk({ ...result, decoded: result.labels }, k, B, width, partCount, oracle, { rtol, atol: rtol, exactOrder });
    }
  };

  test('float64, mixed lengths, every k', () => {
    check(randomTensor([B, N - 1, K, C, C], rng(11)), true, 1e-12);
  });
  test('−Infinity masks: masked structures never listed, a −Infinity tail', () => {
    const edges = randomTensor([B, N - 1, K, C, C], rng(12));
    const random = rng(13);
    for (let i = 0; i < edges.data.length; i++) if (random() < 0.3) edges.data[i] = -Infinity;
    // keep one structure per instance: every gap 1, every label 0
    for (let b = 0; b < B; b++) for (let n = 0; n < N - 1; n++) edges.data[b * partCount + (n * K + 1) * C * C] = 0;
    check(edges, true, 1e-12);
  });
  test('ties on integer scores: the documented order', () => {
    const random = rng(14);
    const edges = new Tensor(Float64Array.from({ length: B * partCount }, () => Math.floor(random() * 2)), [B, N - 1, K, C, C]);
    check(edges, true, 0);
    check(new Tensor(new Float64Array(B * partCount), [B, N - 1, K, C, C]), true, 0);
  });
  test('float32', () => {
    check(toFloat32(randomTensor([B, N - 1, K, C, C], rng(15))), false, 1e-5);
  });
  test('rank 0 is argmaxDecoded', () => {
    const edges = randomTensor([B, N - 1, K, C, C], rng(16));
    const crf = new SemiMarkovCRF(edges, { lengths });
    const best = crf.argmaxDecoded();
    const top = crf.topk(1);
    expect(Array.from(top.labels)).toEqual(Array.from(best.labels));
    expect(data(top.score)).toEqual(data(best.score));
  });
  test('async equals sync', async () => {
    const crf = new SemiMarkovCRF(randomTensor([B, N - 1, K, C, C], rng(17)), { lengths });
    const a = await crf.topkAsync(5);
    const s = crf.topk(5);
    expect(Array.from(a.labels)).toEqual(Array.from(s.labels));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
  });
  test('k out of range: typed errors', () => {
    const crf = new SemiMarkovCRF(randomTensor([B, N - 1, K, C, C], rng(18)), { lengths });
    expect(errorCode(() => crf.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });
});

describe.each([false, true])('AlignmentCRF.topk (local %s)', (local) => {
  // scores [B, N, M, 3]: N = M = 3; lengths (3, 3), (2, 3), (1, 2).
  const [B, N, M] = [3, 3, 3];
  const lengths = [3, 2, 1];
  const targetLengths = [3, 3, 2];
  const width = (N + M - 1) * 3;
  const partCount = N * M * 3;
  const options = { lengths, targetLengths, local };
  const oracleOf = (scores: Tensor): Structure[][] => {
    const x64 = new Tensor(Float64Array.from(scores.data), scores.shape);
    return lengths.map((_, b) =>
      ranked(alignmentStructures(alignmentInstance(x64, b, options)), alignmentTieKey(targetLengths[b], local)),
    );
  };
  const check = (scores: Tensor, exactOrder: boolean, rtol: number) => {
    const oracle = oracleOf(scores);
    const most = Math.max(...oracle.map((o) => o.length));
    expect(alignmentPartCount(alignmentInstance(scores, 0))).toBe(partCount);
    const ks = most <= 40 ? Array.from({ length: most + 1 }, (_, i) => i + 1) : [1, 2, 3, 7, 13, 40, most - 1, most, most + 1];
    for (const k of ks) {
      const result = new AlignmentCRF(scores, options).topk(k);
      checkTopk({ ...result, decoded: result.path }, k, B, width, partCount, oracle, { rtol, atol: rtol, exactOrder });
    }
  };

  test('float64, mixed lengths', () => {
    check(randomTensor([B, N, M, 3], rng(21)), true, 1e-12);
  });
  test('every k from 1 to the number of paths', () => {
    const scores = randomTensor([B, N, M, 3], rng(22));
    const oracle = oracleOf(scores);
    const most = Math.max(...oracle.map((o) => o.length));
    for (let k = 1; k <= most; k++) {
      const result = new AlignmentCRF(scores, options).topk(k);
      checkTopk({ ...result, decoded: result.path }, k, B, width, partCount, oracle, { rtol: 1e-12, atol: 1e-12, exactOrder: true });
    }
  });
  test('−Infinity masks: masked structures never listed, a −Infinity tail', () => {
    const scores = randomTensor([B, N, M, 3], rng(23));
    const random = rng(24);
    for (let i = 0; i < scores.data.length; i++) if (random() < 0.3) scores.data[i] = -Infinity;
    // keep one path per instance: the diagonal start, then right along row 0 and down the last column
    for (let b = 0; b < B; b++) {
      const at = (i: number, j: number, op: number) => ((b * N + i) * M + j) * 3 + op;
      scores.data[at(0, 0, 1)] = 0;
      for (let j = 1; j < M; j++) scores.data[at(0, j, 0)] = 0;
      for (let i = 1; i < N; i++) scores.data[at(i, targetLengths[b] - 1, 2)] = 0;
    }
    check(scores, true, 1e-12);
  });
  test('ties on integer scores: the documented order', () => {
    const random = rng(25);
    check(new Tensor(Float64Array.from({ length: B * partCount }, () => Math.floor(random() * 2)), [B, N, M, 3]), true, 0);
    check(new Tensor(new Float64Array(B * partCount), [B, N, M, 3]), true, 0);
  });
  test('float32', () => {
    check(toFloat32(randomTensor([B, N, M, 3], rng(26))), false, 1e-5);
  });
});
