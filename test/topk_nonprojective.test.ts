/**
 * NonProjectiveDependencyCRF.topk(k), the k best spanning arborescences (Lawler's partition over the constrained
 * Chu-Liu-Edmonds, cpp/include/latent_struct/arborescence_kbest.h), with a single root and with any number of
 * roots, on the CPU backend, against the enumeration oracle (test/oracles/nonprojective.ts): for every k from 1 to
 * the number of trees and past it (the −Infinity tail of −1 heads and zero parts), n up to 5 (and k ≤ 300 at n = 6), mixed lengths with
 * length 1; the order of scores exactly, every listed tree a distinct tree of the sentence with its score and
 * parts, in the oracle's order where no two trees tie; −Infinity masks (masked trees never listed, masks that
 * leave one tree or none); integer-score ties (each group of equal scores listed with distinct members, the whole
 * group when it fits in k; the list for k is the first k of the list for any larger k, rank 0 is argmaxDecoded's
 * tree); float32 against float64; ±1e3 scores; async = sync; typed errors. CUDA parity:
 * test/parity/topk_nonprojective.parity.test.ts.
 */
import { AnyTensor, NonProjectiveDependencyCRF, Tensor } from '../lib';
import { errorCode, expectClose, randomTensor, rng, toFloat32 } from './helpers';
import { checkTopk as checkRows } from './topk_check';
import { Structure } from './oracles/enumerate';
import { dependencySentence, structureOf } from './oracles/dependency';
import { nonProjectiveTrees } from './oracles/nonprojective';

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

interface Top {
  heads: Int32Array;
  score: AnyTensor;
  parts: AnyTensor;
}

/** Each sentence's trees of finite score, by score descending (ties in the oracle's lexicographic order). */
function oracleOf(arcs: Tensor, lengths: number[], singleRoot: boolean): Structure[][] {
  const x64 = new Tensor(Float64Array.from(arcs.data), arcs.shape);
  return lengths.map((n, b) => {
    const sentence = dependencySentence(x64, b, lengths, singleRoot);
    return nonProjectiveTrees(n, singleRoot)
      .map((heads) => structureOf(sentence, heads))
      .filter((s) => s.score > -Infinity)
      .sort((a, c) => c.score - a.score);
  });
}

/** topk_check.ts's checkTopk on NonProjectiveDependencyCRF rows. */
function checkTopk(result: Top, k: number, N: number, oracle: Structure[][], rtol: number, exactOrder: boolean): void {
  expect(result.parts.shape).toEqual([k, oracle.length, N, N]);
  checkRows({ decoded: result.heads, score: result.score, parts: result.parts }, k, oracle.length, N, N * N, oracle, {
    rtol,
    atol: rtol,
    exactOrder,
  });
}

/** Whether `small` (topk(k)) is exactly the first k rows of `large` (topk(K), K ≥ k) for B sentences. */
function isPrefix(small: Top, large: Top, k: number, B: number, N: number): boolean {
  const rows = k * B;
  const same = (a: ArrayLike<number>, c: ArrayLike<number>, count: number) => {
    for (let i = 0; i < count; i++) if (!Object.is(a[i], c[i])) return false;
    return true;
  };
  return (
    same(small.heads, large.heads, rows * N) &&
    same((small.score as Tensor).data, (large.score as Tensor).data, rows) &&
    same((small.parts as Tensor).data, (large.parts as Tensor).data, rows * N * N)
  );
}

/**
 * Checks topk(most) against the oracle, most = 1 + the most trees of a sentence (at most 1024), then every k in
 * `ks` up to most (default: every one) as the first k of it.
 */
function checkEveryK(arcs: Tensor, lengths: number[], singleRoot: boolean, rtol: number, exactOrder: boolean, ks?: number[]): void {
  const N = arcs.shape[1];
  const B = lengths.length;
  const oracle = oracleOf(arcs, lengths, singleRoot);
  const crf = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot });
  const most = Math.min(Math.max(...oracle.map((o) => o.length)) + 1, 1024);
  const full = crf.topk(most);
  checkTopk(full, most, N, oracle, rtol, exactOrder);
  for (const k of (ks ?? Array.from({ length: most }, (_, i) => i + 1)).filter((k) => k <= most)) {
    expect(isPrefix(crf.topk(k), full, k, B, N)).toBe(true);
  }
}

/** Integer scores in {0, 1} (many ties). */
function integerArcs(shape: number[], seed: number): Tensor {
  const random = rng(seed);
  return new Tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 2)), shape);
}

describe.each([true, false])('NonProjectiveDependencyCRF.topk (singleRoot %s)', (singleRoot) => {
  // N = 4: 64 single-rooted trees, 125 with any number of roots; lengths 4, 1, 3, 2.
  const [B, N] = [4, 4];
  const lengths = [4, 1, 3, 2];

  test('float64, mixed lengths with length 1: every k from 1 to the number of trees and past it', () => {
    const oracle = oracleOf(randomTensor([B, N, N], rng(1)), lengths, singleRoot);
    expect(oracle.map((o) => o.length)).toEqual(singleRoot ? [64, 1, 9, 2] : [125, 1, 16, 3]);
    checkEveryK(randomTensor([B, N, N], rng(1)), lengths, singleRoot, 1e-12, true);
  });

  test('n = 5: every k (single root: 625 trees) or k up to 1024 of 1296 (any number of roots)', () => {
    const arcs = randomTensor([2, 5, 5], rng(2));
    checkEveryK(arcs, [5, 4], singleRoot, 1e-12, true, singleRoot ? undefined : [1, 2, 3, 10, 100, 500, 1023, 1024]);
  });

  test('n = 6 (7776 / 16807 trees), k up to 300, scores of scale 1 and 1e3', () => {
    const arcs = randomTensor([1, 6, 6], rng(17));
    checkTopk(new NonProjectiveDependencyCRF(arcs, { singleRoot }).topk(300), 300, 6, oracleOf(arcs, [6], singleRoot), 1e-12, true);
    const large = randomTensor([2, 6, 6], rng(18), 1e3);
    const oracle = oracleOf(large, [6, 5], singleRoot);
    for (const k of [1, 2, 10, 60]) {
      checkTopk(new NonProjectiveDependencyCRF(large, { lengths: [6, 5], singleRoot }).topk(k), k, 6, oracle, 1e-12, true);
    }
  });

  test('−Infinity masks: masked trees never listed, masks that leave few trees, one, or only the argmax', () => {
    const arcs = randomTensor([B, N, N], rng(3));
    const random = rng(4);
    for (let i = 0; i < arcs.data.length; i++) if (random() < 0.5) arcs.data[i] = -Infinity;
    // keep the chain root → 0 → 1 → … in every sentence, so that each has a tree
    for (let b = 0; b < B; b++) {
      arcs.data[b * N * N] = 0;
      for (let m = 1; m < N; m++) arcs.data[(b * N + m - 1) * N + m] = 0;
    }
    checkEveryK(arcs, lengths, singleRoot, 1e-12, true);
    // sentence 0: only the chain (every other head masked); sentence 2: the chain or word 2 under the root
    const only = randomTensor([B, N, N], rng(5));
    for (const b of [0, 2]) {
      for (let h = 0; h < N; h++) for (let m = 0; m < N; m++) if (!(m === 0 ? h === 0 : h === m - 1)) only.data[(b * N + h) * N + m] = -Infinity;
    }
    only.data[(2 * N + 2) * N + 2] = 1;
    const oracle = oracleOf(only, lengths, singleRoot);
    expect(oracle[0].length).toBe(1);
    expect(oracle[2].length).toBe(singleRoot ? 1 : 2);
    checkEveryK(only, lengths, singleRoot, 1e-12, true);
    const top = new NonProjectiveDependencyCRF(only, { lengths, singleRoot }).topk(3);
    expect(Array.from(top.heads.subarray(0, N))).toEqual([0, 0, 1, 2]);
    expect(data(top.score)[B]).toBe(-Infinity);
  });

  test('ties on integer scores: equal scores list distinct members of their group, whole groups when they fit', () => {
    checkEveryK(integerArcs([B, N, N], 6), lengths, singleRoot, 0, false);
    checkEveryK(new Tensor(new Float64Array(B * N * N), [B, N, N]), lengths, singleRoot, 0, false);
    checkEveryK(integerArcs([2, 5, 5], 7), [5, 3], singleRoot, 0, false, [1, 5, 17, 100, 400]);
  });

  test('rank 0 is argmaxDecoded, ties included', () => {
    for (const arcs of [randomTensor([B, N, N], rng(8)), integerArcs([B, N, N], 9), new Tensor(new Float64Array(B * N * N), [B, N, N])]) {
      const crf = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot });
      const best = crf.argmaxDecoded();
      const top = crf.topk(4);
      expect(Array.from(top.heads.subarray(0, B * N))).toEqual(Array.from(best.heads));
      expect(data(top.score).slice(0, B)).toEqual(data(best.score));
      expect(data(top.parts).slice(0, B * N * N)).toEqual(data(best.parts));
    }
  });

  test('float32: exact against the oracle of its own values, scores within 1e-4 of float64', () => {
    const arcs = randomTensor([B, N, N], rng(10));
    const arcs32 = toFloat32(arcs);
    checkEveryK(arcs32, lengths, singleRoot, 1e-6, true, [1, 2, 5, 17, 64, 126]);
    const k = 20;
    const top32 = new NonProjectiveDependencyCRF(arcs32, { lengths, singleRoot }).topk(k);
    const top64 = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot }).topk(k);
    expect((top32.score as Tensor).data.constructor.name).toBe('Float32Array');
    expect((top32.parts as Tensor).data.constructor.name).toBe('Float32Array');
    expectClose(data(top32.score), data(top64.score), 1e-4, 1e-4);
  });

  test('±1e3 scores: exact order and finite scores', () => {
    const arcs = randomTensor([B, N, N], rng(11), 1e3);
    checkEveryK(arcs, lengths, singleRoot, 1e-12, true, [1, 3, 30, 64, 126]);
    const top = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot }).topk(2);
    // every sentence but the one of length 1 has two trees
    expect(data(top.score).every((v, r) => Number.isFinite(v) || r === B + 1)).toBe(true);
  });

  test('async equals sync', async () => {
    const crf = new NonProjectiveDependencyCRF(randomTensor([B, N, N], rng(12)), { lengths, singleRoot });
    const a = await crf.topkAsync(9);
    const s = crf.topk(9);
    expect(Array.from(a.heads)).toEqual(Array.from(s.heads));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
  });

  test('typed errors: k out of range, no tree of finite score, NaN', async () => {
    const crf = new NonProjectiveDependencyCRF(randomTensor([B, N, N], rng(13)), { lengths, singleRoot });
    expect(errorCode(() => crf.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk(1.5))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk('2' as unknown as number))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    // sentence 1: words 1 and 2 can only head each other (a cycle the root cannot reach)
    const cycle = randomTensor([B, N, N], rng(14));
    for (const m of [1, 2]) for (let h = 0; h < N; h++) if (h !== 3 - m) cycle.data[(N + h) * N + m] = -Infinity;
    const noTree = new NonProjectiveDependencyCRF(cycle, { singleRoot });
    expect(errorCode(() => noTree.topk(2))).toBe('RangeError:ERR_INVALID_SCORES');
    await expect(noTree.topkAsync(2)).rejects.toMatchObject({ code: 'ERR_INVALID_SCORES' });
    const nan = randomTensor([B, N, N], rng(15));
    nan.data[5] = NaN;
    expect(errorCode(() => new NonProjectiveDependencyCRF(nan, { singleRoot }).topk(2))).toBe('RangeError:ERR_INVALID_SCORES');
  });
});

describe('NonProjectiveDependencyCRF.topk: single root against any number of roots', () => {
  test('the single-rooted list is the multi-rooted list without the trees of several root children', () => {
    const arcs = randomTensor([2, 4, 4], rng(16));
    const lengths = [4, 3];
    const single = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot: true }).topk(64);
    const multi = new NonProjectiveDependencyCRF(arcs, { lengths, singleRoot: false }).topk(125);
    for (let b = 0; b < 2; b++) {
      const rows = (t: Top, k: number) =>
        Array.from({ length: k }, (_, j) => Array.from(t.heads.subarray((j * 2 + b) * 4, (j * 2 + b + 1) * 4)))
          .filter((h) => h[0] >= 0)
          .map((h) => h.join(','));
      const roots = (key: string) => key.split(',').filter((h, m) => Number(h) === m).length;
      expect(rows(single, 64)).toEqual(rows(multi, 125).filter((key) => roots(key) === 1));
    }
  });
});
