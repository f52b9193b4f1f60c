/**
 * DependencyCRF (projective dependency trees, Eisner): the enumeration oracle itself (hand enumeration, the
 * counts binom(3n−2, n−1)/n and binom(3n, n)/(2n+1), non-crossing arcs = contiguous yields), then the common
 * dependency suite (test/dependency_suite.ts) with the projective oracle — with a single root and with any
 * number of roots, on every available backend: float64 against the enumeration oracle (1e-9) with mixed
 * lengths (length 1 included), junk in the ignored entries and −inf masks, gradients against finite
 * differences and the oracle's Cov(z)·g, the sampler against the exact distribution (chi-square), float32
 * against float64, scores of ±1e3 / ±1e4 and −inf masks, length-1 sentences, batched = one by one,
 * async = sync, typed errors.
 */
import { DependencyCRF } from '../lib';
import { describeDependencyStructure } from './dependency_suite';
import {
  ROOT,
  allHeadVectors,
  contiguousYields,
  dependencyDistribution,
  isTree,
  noCrossing,
  projectiveTrees,
} from './oracles/dependency';

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

describe('the DependencyCRF oracle itself', () => {
  test('hand enumeration for n = 1, 2, 3', () => {
    expect(projectiveTrees(1, true)).toEqual([[ROOT]]);
    expect(projectiveTrees(1, false)).toEqual([[ROOT]]);
    // n = 2: root → 0 → 1, root → 1 → 0; and with two roots, root → 0 and root → 1.
    expect(projectiveTrees(2, true)).toEqual([
      [ROOT, 0],
      [1, ROOT],
    ]);
    expect(projectiveTrees(2, false)).toEqual([
      [ROOT, ROOT],
      [ROOT, 0],
      [1, ROOT],
    ]);
    // n = 3, single root: root child 0 → {0→1,0→2; 0→1→2; 0→2→1} (3), root child 2 → 3 mirrored, root
    // child 1 → 1→0 and 1→2 (1): 7. Any number of roots adds {0,1} roots with 1→2 (0→2 would cross
    // root→1), {0,2} roots with 0→1 or 2→1, {1,2} roots with 1→0, and all three roots: 7 + 5 = 12.
    const single = projectiveTrees(3, true).map((h) => h.join(','));
    expect(single.sort()).toEqual(['-1,0,0', '-1,0,1', '-1,2,0', '1,-1,1', '1,2,-1', '2,0,-1', '2,2,-1'].sort());
    const multi = projectiveTrees(3, false).map((h) => h.join(','));
    expect(multi.sort()).toEqual([...single, '-1,-1,1', '-1,0,-1', '-1,2,-1', '1,-1,-1', '-1,-1,-1'].sort());
    // Crossing arcs are excluded, root arcs included: 0 ← 2 crosses root → 1.
    expect(multi).not.toContain('2,-1,-1');
    expect(multi).not.toContain('-1,-1,0');
  });

  test('counts for n = 1..6: single root binom(3n−2, n−1)/n, any number of roots binom(3n, n)/(2n+1)', () => {
    const single = [1, 2, 3, 4, 5, 6].map((n) => projectiveTrees(n, true).length);
    const multi = [1, 2, 3, 4, 5, 6].map((n) => projectiveTrees(n, false).length);
    expect(single).toEqual([1, 2, 7, 30, 143, 728]);
    expect(multi).toEqual([1, 3, 12, 55, 273, 1428]);
    expect([1, 2, 3, 4, 5, 6].map((n) => binomial(3 * n - 2, n - 1) / n)).toEqual(single);
    expect([1, 2, 3, 4, 5, 6].map((n) => binomial(3 * n, n) / (2 * n + 1))).toEqual(multi);
  });

  test('non-crossing arcs and contiguous yields define the same trees', () => {
    for (let n = 1; n <= 6; n++) {
      let trees = 0;
      for (const heads of allHeadVectors(n)) {
        if (!isTree(heads)) continue;
        trees++;
        expect(noCrossing(heads)).toBe(contiguousYields(heads));
      }
      // Cayley: (n + 1)^(n − 1) trees on n + 1 labelled nodes rooted at the root.
      expect(trees).toBe((n + 1) ** (n - 1));
    }
  });
});

describeDependencyStructure({
  name: 'DependencyCRF',
  Class: DependencyCRF,
  distribution: dependencyDistribution,
  crossingArcs: false,
  sizes: [
    [3, 5],
    [4, 6],
    [2, 1],
    [3, 4],
    [2, 2],
  ],
  seeds: { enumeration: 2000, finiteDifferences: 88, sampling: 41, float32: 23, largeScores: 0, batch: 6, async: 4 },
  sampling: { N: 4, lengths: [4, 1, 3], k: 8000 },
  largeScoreLogZAtol: () => 1e-12,
});
