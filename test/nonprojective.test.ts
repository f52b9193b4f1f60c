/**
 * NonProjectiveDependencyCRF (non-projective dependency trees, Matrix-Tree theorem and Chu-Liu-Edmonds): the
 * enumeration oracle itself (hand enumeration, the counts (n+1)^(n−1) and n^(n−1), trees = acyclic head vectors,
 * uniform scores), then the common dependency suite (test/dependency_suite.ts) with the non-projective oracle —
 * with a single root and with any number of roots, on every available backend: float64 against the enumeration
 * oracle (1e-9) with mixed lengths (length 1 included), junk in the ignored entries and −inf masks, gradients
 * against finite differences and the oracle's Cov(z)·g, the sampler against the exact distribution
 * (chi-square), float32 against float64, scores of ±1e3 / ±1e4 and −inf masks, length-1 sentences, batched =
 * one by one, async = sync, typed errors — and this structure's own tests: best heads forming cycles at ±1e3 /
 * ±1e4, argmax against the zero-temperature limit of log Z, non-projective ⊇ projective, a sentence whose only
 * tree is non-projective, and sentences without a spanning tree (a headless word, a closed cycle).
 */
import { DependencyCRF, Device, NonProjectiveDependencyCRF, Tensor } from '../lib';
import { arcsOf, chosenParts, expectTree, mask, partsOfHeads, row, values } from './arcs';
import { crfOfClass, describeDependencyStructure, resultsOf } from './dependency_suite';
import { chiSquarePValue, errorCode, errorMessage, expectClose, randomTensor, rng, toFloat32 } from './helpers';
import { covarianceProduct, keyOf } from './oracles/enumerate';
import {
  ROOT,
  allHeadVectors,
  dependencyDistribution,
  dependencySentence,
  isTree,
  noCrossing,
  projectiveTrees,
  scoreOf,
} from './oracles/dependency';
import { isDependencyTree, nonProjectiveDistribution, nonProjectiveTrees } from './oracles/nonprojective';

describe('the NonProjectiveDependencyCRF oracle itself', () => {
  test('hand enumeration for n = 1, 2, 3', () => {
    expect(nonProjectiveTrees(1, true)).toEqual([[ROOT]]);
    expect(nonProjectiveTrees(1, false)).toEqual([[ROOT]]);
    // n = 2: every tree is projective.
    expect(nonProjectiveTrees(2, true)).toEqual([
      [ROOT, 0],
      [1, ROOT],
    ]);
    expect(nonProjectiveTrees(2, false)).toEqual([
      [ROOT, ROOT],
      [ROOT, 0],
      [1, ROOT],
    ]);
    // n = 3, single root: the 7 projective trees and two under root → 1 whose arc between 0 and 2 crosses
    // root → 1: 1 → 0 → 2 (heads 1,−1,0) and 1 → 2 → 0 (heads 2,−1,1).
    const single = nonProjectiveTrees(3, true).map((h) => h.join(','));
    const projectiveSingle = ['-1,0,0', '-1,0,1', '-1,2,0', '1,-1,1', '1,2,-1', '2,0,-1', '2,2,-1'];
    expect([...single].sort()).toEqual([...projectiveSingle, '1,-1,0', '2,-1,1'].sort());
    // Any number of roots: the 12 projective trees and 4 crossing ones (the two above, and roots {1, 2}
    // with 2 → 0, roots {0, 1} with 0 → 2).
    const multi = nonProjectiveTrees(3, false).map((h) => h.join(','));
    const projectiveMulti = [...projectiveSingle, '-1,-1,1', '-1,0,-1', '-1,2,-1', '1,-1,-1', '-1,-1,-1'];
    expect([...multi].sort()).toEqual([...projectiveMulti, '1,-1,0', '2,-1,1', '2,-1,-1', '-1,-1,0'].sort());
    // Cycles are excluded.
    expect(multi).not.toContain('1,0,-1');
    expect(single).not.toContain('2,-1,0');
  });

  test('counts for n = 1..6: any number of roots (n+1)^(n−1), single root n^(n−1)', () => {
    const ns = [1, 2, 3, 4, 5, 6];
    const multi = ns.map((n) => nonProjectiveTrees(n, false).length);
    const single = ns.map((n) => nonProjectiveTrees(n, true).length);
    expect(multi).toEqual([1, 3, 16, 125, 1296, 16807]);
    expect(single).toEqual([1, 2, 9, 64, 625, 7776]);
    expect(ns.map((n) => (n + 1) ** (n - 1))).toEqual(multi);
    expect(ns.map((n) => n ** (n - 1))).toEqual(single);
  });

  test('the trees are exactly the acyclic head vectors, the projective trees among them those without crossings', () => {
    for (let n = 1; n <= 5; n++) {
      for (const singleRoot of [true, false]) {
        const trees = nonProjectiveTrees(n, singleRoot);
        const keys = new Set(trees.map((h) => h.join(',')));
        expect(keys.size).toBe(trees.length);
        for (const heads of allHeadVectors(n)) {
          expect(keys.has(heads.join(','))).toBe(isDependencyTree(heads, singleRoot));
        }
        const projective = new Set(projectiveTrees(n, singleRoot).map((h) => h.join(',')));
        for (const heads of trees) expect(projective.has(heads.join(','))).toBe(noCrossing(heads));
        for (const key of projective) expect(keys.has(key)).toBe(true);
      }
    }
  });

  test('uniform scores: log Z = entropy = log #trees, and the marginals sum to one per word', () => {
    for (const singleRoot of [true, false]) {
      const N = 4;
      const x = dependencySentence(new Tensor(new Float64Array(N * N), [1, N, N]), 0, null, singleRoot);
      const d = nonProjectiveDistribution(x);
      const count = singleRoot ? 64 : 125;
      expect(d.logZ).toBeCloseTo(Math.log(count), 12);
      expect(d.entropy).toBeCloseTo(Math.log(count), 12);
      for (let m = 0; m < N; m++) {
        let total = 0;
        for (let h = 0; h < N; h++) total += d.marginals[h * N + m];
        expect(total).toBeCloseTo(1, 12);
        // By symmetry every word is a root child with the same probability: 1/n single-rooted; with any
        // number of roots E[#root children] = Σ_k k·C(n−1, k−1)·n^(n−k) / (n+1)^(n−1) = 2n/(n+1) (n = 4:
        // (64 + 2·48 + 3·12 + 4·1)/125 = 8/5), i.e. 2/(n+1) per word.
        expect(d.marginals[m * N + m]).toBeCloseTo(singleRoot ? 1 / N : 2 / (N + 1), 12);
      }
    }
  });
});

const crfOf = crfOfClass(NonProjectiveDependencyCRF);

/** Best heads forming cycles at ±1e3 / ±1e4, the zero-temperature limit, and non-projective ⊇ projective. */
function variantTests(device: Device, singleRoot: boolean): void {
  test.each([30, 150, 300, 600])(
    'scores at scale %d (the linear elimination, its per-step fallback to log space, and the log one) match the oracle',
    (scale) => {
      const random = rng(scale + (singleRoot ? 1 : 0));
      const [B, N] = [6, 5];
      const lengths = [5, 5, 4, 5, 3, 5];
      const p = arcsOf(B, N, lengths, random, scale);
      const crf = new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot });
      const { logZ, entropy, marginals, g, hvp } = resultsOf(crf, random);
      const size = N * N;
      for (let b = 0; b < B; b++) {
        const d = nonProjectiveDistribution(dependencySentence(p, b, lengths, singleRoot));
        expectClose([logZ[b]], [d.logZ], 1e-12, 1e-14 * scale * N);
        expectClose([entropy[b]], [d.entropy], 1e-6, 1e-9 * scale);
        expectClose(row(marginals, b, size), d.marginals, 1e-9, 1e-11);
        expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-7, 1e-9);
      }
      crf.dispose();
    },
  );

  // Scale 2: the inverse of the Laplacian serves every word; scale 30: peaked scores, where (with any number of
  // roots) some of its columns fail their check, midway through a sample or at its first word, and the rest of
  // that sample is drawn by elimination.
  test.each([
    [2, 48, 300],
    [30, 20, 120],
  ])('long sentences at scale %d (the O(n³) sampler), N = %d: every sample is a tree, and arc frequencies match the marginals', (scale, N, k) => {
    const random = rng(91 + scale + (singleRoot ? 1 : 0));
    const B = 3;
    const lengths = [N, Math.floor((2 * N) / 3), 2];
    const p = arcsOf(B, N, lengths, random, scale);
    mask(p, lengths, random, 0.2);
    const crf = crfOf(p, lengths, device, singleRoot);
    const marginals = values(crf.marginals());
    const { heads } = crf.sampleDecoded(k, { seed: 2024 });
    const counts = new Array<number>(B * N * N).fill(0);
    for (let s = 0; s < k; s++) {
      for (let b = 0; b < B; b++) {
        expectTree(heads, s * B + b, N, lengths[b], singleRoot);
        for (let m = 0; m < lengths[b]; m++) counts[(b * N + heads[(s * B + b) * N + m]) * N + m]++;
      }
    }
    // Each arc's count is binomial(k, mu): within 6 standard deviations (plus 2 counts for the rare arcs).
    counts.forEach((count, i) => {
      const mu = Math.min(Math.max(marginals[i], 0), 1); // 1 + 1e-15 happens
      const bound = 6 * Math.sqrt(k * mu * (1 - mu)) + 2;
      if (!(Math.abs(count - k * mu) <= bound)) throw new Error(`arc ${i}: ${count} of ${k} samples, marginal ${mu}`);
    });
    crf.dispose();
  });

  test('argmax is the zero-temperature limit of log Z on long sentences: T·best ≤ log Z(T·s) ≤ T·best + log #trees', () => {
    const random = rng(71 + (singleRoot ? 1 : 0));
    const [B, N] = [4, 24];
    const lengths = [24, 17, 9, 3];
    const p = arcsOf(B, N, lengths, random);
    mask(p, lengths, random, 0.2);
    const crf = crfOf(p, lengths, device, singleRoot);
    const best = crf.argmaxDecoded();
    const bestScore = values(best.score);
    const bestParts = values(best.parts);
    const T = 1e4;
    const hot = new Tensor(Float64Array.from(p.data, (v) => T * v), p.shape);
    const cold = crfOf(hot, lengths, device, singleRoot);
    const logZ = values(cold.logPartition());
    const projective = new DependencyCRF(p, { lengths, device, singleRoot });
    const projectiveScore = values(projective.argmaxDecoded().score);
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      expectTree(best.heads, b, N, n, singleRoot);
      const x = dependencySentence(p, b, lengths, singleRoot);
      expectClose([scoreOf(x, chosenParts(bestParts, b, N * N))], [bestScore[b]], 1e-12, 1e-12);
      const logCount = (n - 1) * Math.log(singleRoot ? n : n + 1);
      const gap = logZ[b] / T - bestScore[b];
      if (!(gap >= -1e-9 && gap <= logCount / T + 1e-9)) {
        throw new Error(`sentence ${b} (n = ${n}): log Z(T s)/T − best = ${gap}, expected in [0, ${logCount / T}]`);
      }
      expect(bestScore[b]).toBeGreaterThanOrEqual(projectiveScore[b] - 1e-12);
    }
    crf.dispose();
    cold.dispose();
    projective.dispose();
  });

  test.each([1e3, -1e3, 1e4, -1e4])('best heads forming cycles at scale %d: exact results, argmax and samples', (scale) => {
    const [B, N] = [4, 5];
    const lengths = [5, 5, 4, 3];
    const random = rng(Math.abs(scale) + (scale < 0 ? 3 : 0) + (singleRoot ? 1 : 0));
    const size = N * N;
    const p = arcsOf(B, N, lengths, random);
    const at = (b: number, h: number, m: number) => (b * N + h) * N + m;
    const big = Math.abs(scale);
    // Sentence 0: s(0 → 1) = s(1 → 0) = big, everything else 0 (every word's best head in the 2-cycle or
    // tied; the best trees use exactly one of the two arcs).
    for (let q = 0; q < size; q++) p.data[q] = 0;
    p.data[at(0, 0, 1)] = big;
    p.data[at(0, 1, 0)] = big;
    // Sentence 1: a 3-cycle 0 → 1 → 2 → 0 of +big over N(0, 1) noise (the best tree uses two of its arcs).
    p.data[at(1, 0, 1)] += big;
    p.data[at(1, 1, 2)] += big;
    p.data[at(1, 2, 0)] += big;
    // Sentence 2: two 2-cycles {0, 1}, {2, 3} of +big and root arcs of −big (or, for negative scale, every
    // other arc at −big): contracting both cycles is needed.
    p.data[at(2, 0, 1)] += big;
    p.data[at(2, 1, 0)] += big;
    p.data[at(2, 2, 3)] += big;
    p.data[at(2, 3, 2)] += big;
    for (let h = 0; h < 4; h++) {
      for (let m = 0; m < 4; m++) {
        const inCycle = (h < 2 && m < 2 && h !== m) || (h >= 2 && m >= 2 && h !== m);
        if (h === m) p.data[at(2, h, m)] -= big;
        else if (!inCycle && scale < 0) p.data[at(2, h, m)] -= big;
      }
    }
    // Sentence 3: every word-to-word arc at −big except the 2-cycle {1, 2}, whose arcs are at +big; one root arc masked.
    for (let h = 0; h < 3; h++) {
      for (let m = 0; m < 3; m++) {
        if (h === m) continue;
        p.data[at(3, h, m)] += (h === 1 && m === 2) || (h === 2 && m === 1) ? big : -big;
      }
    }
    p.data[at(3, 1, 1)] = -Infinity;
    // Negative scale: sentences 0 and 1 shifted by −2·big on every arc (the cycle at −big, the rest at −2·big).
    if (scale < 0) for (let q = 0; q < 2 * size; q++) p.data[q] -= 2 * big;
    const crf = crfOf(p, lengths, device, singleRoot);
    const { logZ, entropy, marginals, g, hvp, best, bestScore } = resultsOf(crf, random);
    for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
    const bestParts = values(best.parts);
    const ds = Array.from({ length: B }, (_, b) => nonProjectiveDistribution(dependencySentence(p, b, lengths, singleRoot)));
    for (let b = 0; b < B; b++) {
      const x = dependencySentence(p, b, lengths, singleRoot);
      const d = ds[b];
      // Rounding the ±big inputs alone moves log Z by a few ulp of big: the absolute tolerance scales with it.
      expectClose([logZ[b]], [d.logZ], 1e-12, 1e-14 * big * N);
      expectClose([entropy[b]], [d.entropy], 1e-6, 1e-8);
      expectClose(row(marginals, b, size), d.marginals, 1e-9, 1e-9);
      expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-7, 1e-8);
      expectTree(best.heads, b, N, lengths[b], singleRoot);
      expect(row(bestParts, b, size)).toEqual(partsOfHeads(row(best.heads, b, N), N, lengths[b]));
      expectClose([bestScore[b]], [d.best.score], 1e-12);
      expectClose([scoreOf(x, chosenParts(bestParts, b, size))], [d.best.score], 1e-12);
      // Sentence 0 has tied best trees; the others have a unique one.
      if (b > 0) expect(row(best.heads, b, N)).toEqual(d.best.decoded);
    }
    // Samples: trees, following the exact distribution (which is concentrated on the few trees using the
    // +big arcs, or spread for sentence 0 — mass exactly 0 elsewhere in float64 makes any stray sample fail).
    const k = 3000;
    const samples = crf.sampleDecoded(k, { seed: 77 });
    for (let b = 0; b < B; b++) {
      const d = ds[b];
      const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
      const counts = new Array<number>(d.structures.length).fill(0);
      for (let s = 0; s < k; s++) {
        expectTree(samples.heads, s * B + b, N, lengths[b], singleRoot);
        counts[index.get(keyOf(row(samples.heads, s * B + b, N))) as number]++;
      }
      const pValue = chiSquarePValue(counts, d.probs);
      if (!(pValue > 1e-4)) throw new Error(`sentence ${b}: chi-square p-value ${pValue}`);
    }
    const c32 = crfOf(toFloat32(p), lengths, device, singleRoot);
    const logZ32 = values(c32.logPartition());
    const m32 = values(c32.marginals());
    for (const v of [...logZ32, ...values(c32.entropy()), ...m32]) expect(Number.isFinite(v)).toBe(true);
    expectClose(logZ32, logZ, 1e-5, 1e-2);
    expectClose(m32, marginals, 0, 2e-2);
    expectClose(values(c32.argmaxDecoded().score), bestScore, 1e-6, 1e-2);
    c32.dispose();
    crf.dispose();
  });

  test('non-projective log Z ≥ projective log Z on the same scores, equal for n ≤ 2; so are the best scores', () => {
    const [B, N] = [6, 6];
    const lengths = [6, 5, 4, 3, 2, 1];
    const random = rng(61 + (singleRoot ? 1 : 0));
    const p = arcsOf(B, N, lengths, random, 1.5);
    const crf = crfOf(p, lengths, device, singleRoot);
    const projective = new DependencyCRF(p, { lengths, device, singleRoot });
    const logZ = values(crf.logPartition());
    const logZProjective = values(projective.logPartition());
    const marginals = values(crf.marginals());
    const marginalsProjective = values(projective.marginals());
    const best = values(crf.argmaxDecoded().score);
    const bestProjective = values(projective.argmaxDecoded().score);
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      if (n <= 2) {
        expectClose([logZ[b]], [logZProjective[b]], 1e-12, 1e-12);
        expectClose(row(marginals, b, N * N), row(marginalsProjective, b, N * N), 1e-12, 1e-12);
        expectClose([best[b]], [bestProjective[b]], 1e-12, 1e-12);
      } else {
        // Strictly larger: the crossing trees all have a finite score. The difference is the oracle's.
        expect(logZ[b]).toBeGreaterThan(logZProjective[b]);
        const x = dependencySentence(p, b, lengths, singleRoot);
        expectClose([logZ[b] - logZProjective[b]], [nonProjectiveDistribution(x).logZ - dependencyDistribution(x).logZ], 1e-9, 1e-12);
        expect(best[b]).toBeGreaterThanOrEqual(bestProjective[b] - 1e-12);
      }
    }
    crf.dispose();
    projective.dispose();
  });
}

/** A sentence whose only tree is non-projective. */
function backendTests(device: Device): void {
  test('a sentence whose only tree is non-projective (root → 1, 1 → 0, 0 → 2): DependencyCRF has none', () => {
    const N = 3;
    const data = new Float64Array(N * N).fill(-Infinity);
    data[1 * N + 1] = 0.5; // root → 1
    data[1 * N + 0] = -1.25; // 1 → 0
    data[0 * N + 2] = 2; // 0 → 2, crossing root → 1
    const p = new Tensor(data, [1, N, N]);
    for (const singleRoot of [true, false]) {
      const crf = crfOf(p, undefined, device, singleRoot);
      expectClose(values(crf.logPartition()), [1.25], 1e-15);
      expectClose(values(crf.entropy()), [0], 0, 1e-12);
      expectClose(values(crf.marginals()), [0, 0, 1, 1, 1, 0, 0, 0, 0], 1e-12, 1e-12);
      expect(Array.from(crf.argmaxDecoded().heads)).toEqual([1, 1, 0]);
      expect(Array.from(crf.sampleDecoded(4, { seed: 9 }).heads)).toEqual([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
      let thrown: unknown;
      try {
        new DependencyCRF(p, { device, singleRoot }).logPartition();
      } catch (error) {
        thrown = error;
      }
      expect((thrown as { code?: string } | undefined)?.code).toBe('ERR_INVALID_SCORES');
    }
    expect(isTree([1, ROOT, 0]) && !noCrossing([1, ROOT, 0])).toBe(true);
  });
}

/** Sentences without a spanning tree although every word has a finite head; sentences too long. */
function errorTests(): void {
  const arcs = () => randomTensor([3, 4, 4], rng(1));

  test('no spanning tree although every word has a finite head: a word without any head, and a closed cycle', () => {
    for (const singleRoot of [true, false]) {
      // Sentence 1: word 3 has no finite incoming arc (root arc included).
      const q = arcs();
      for (let h = 0; h < 4; h++) q.data[(1 * 4 + h) * 4 + 3] = -Infinity;
      const f = () => new NonProjectiveDependencyCRF(q, { singleRoot }).logPartition();
      expect(errorCode(f)).toBe('RangeError:ERR_INVALID_SCORES');
      expect(errorMessage(f)).toMatch(/\b1\b/);
      // Sentence 0: words 1 and 2 can only be headed by each other (a cycle the root cannot reach); every
      // word still has a finite head.
      const c = arcs();
      for (const m of [1, 2]) for (let h = 0; h < 4; h++) if (h !== 3 - m) c.data[h * 4 + m] = -Infinity;
      const g = () => new NonProjectiveDependencyCRF(c, { singleRoot }).marginals();
      expect(errorCode(g)).toBe('RangeError:ERR_INVALID_SCORES');
      expect(errorMessage(g)).toMatch(/\b0\b/);
      expect(errorCode(() => new NonProjectiveDependencyCRF(c, { singleRoot }).argmaxDecoded())).toBe('RangeError:ERR_INVALID_SCORES');
      // The same cycle past the length of a sentence is ignored.
      expect(errorCode(() => new NonProjectiveDependencyCRF(c, { singleRoot, lengths: [1, 4, 4] }).logPartition())).toBe('no error');
    }
    // Sentence 2: every word-to-word arc masked: only the all-roots tree, which singleRoot forbids.
    const w = arcs();
    for (let h = 0; h < 4; h++) for (let m = 0; m < 4; m++) if (h !== m) w.data[(2 * 4 + h) * 4 + m] = -Infinity;
    expect(errorCode(() => new NonProjectiveDependencyCRF(w, { singleRoot: true }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(errorCode(() => new NonProjectiveDependencyCRF(w, { singleRoot: false }).logPartition())).toBe('no error');
    expect(errorCode(() => new NonProjectiveDependencyCRF(w, { singleRoot: true, lengths: [4, 4, 1] }).logPartition())).toBe('no error');
  });

  test('sentences longer than 1024 words are a typed error (five N × N double matrices per thread)', () => {
    const long = new Tensor(new Float32Array(1025 * 1025), [1, 1025, 1025]);
    expect(errorCode(() => new NonProjectiveDependencyCRF(long).logPartition())).toBe('RangeError:ERR_SIZE_OVERFLOW');
    expect(errorMessage(() => new NonProjectiveDependencyCRF(long).logPartition())).toMatch(/arcs.*1024/);
  });
}

describeDependencyStructure({
  name: 'NonProjectiveDependencyCRF',
  Class: NonProjectiveDependencyCRF,
  distribution: nonProjectiveDistribution,
  crossingArcs: true,
  sizes: [
    [3, 5],
    [4, 4],
    [2, 1],
    [3, 3],
    [2, 2],
  ],
  seeds: { enumeration: 3000, finiteDifferences: 98, sampling: 51, float32: 33, largeScores: 7, batch: 16, async: 14 },
  sampling: { N: 5, lengths: [4, 1, 3, 5], k: 10000 },
  // Rounding the ±scale inputs alone moves log Z by a few ulp of scale: the absolute tolerance scales with it.
  largeScoreLogZAtol: (scale, N) => 1e-14 * scale * N,
  extras: { variant: variantTests, backend: backendTests, errors: errorTests },
});
