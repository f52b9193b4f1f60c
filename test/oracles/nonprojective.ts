/**
 * The enumeration oracle of the NonProjectiveDependencyCRF (non-projective dependency trees): every head
 * vector of a sentence of n ≤ 6 words is listed (each word headed by the root or another word: n^n vectors),
 * those that are trees — following heads from every word reaches the root, crossing arcs allowed — are kept
 * (with exactly one root child for `singleRoot`), and every quantity is computed from that list in float64 —
 * no Matrix-Tree theorem, no Chu-Liu-Edmonds.
 *
 * Sentences, parts and decoded forms are those of the projective oracle (test/oracles/dependency.ts): parts
 * `h·N + m` for the arc h → m and `m·N + m` for root → m, heads `h = m` for the root, −1 past the length.
 */
import { Distribution, distributionOf } from './enumerate';
import { DependencySentence, ROOT, allHeadVectors, isTree, partCount, structureOf } from './dependency';

const treeCache = new Map<string, number[][]>();

/**
 * The non-projective trees of n words (head vectors, ROOT = −1, in lexicographic order), single-rooted or not
 * (cached): (n + 1)^(n − 1) trees with any number of roots, n^(n − 1) with one.
 */
export function nonProjectiveTrees(n: number, singleRoot: boolean): number[][] {
  const key = `${n}:${singleRoot}`;
  let out = treeCache.get(key);
  if (!out) {
    out = allHeadVectors(n).filter(
      (heads) => isTree(heads) && (!singleRoot || heads.filter((h) => h === ROOT).length === 1),
    );
    treeCache.set(key, out);
  }
  return out;
}

/** Whether a head vector (ROOT = −1) is a tree, single-rooted when asked. */
export function isDependencyTree(heads: readonly number[], singleRoot: boolean): boolean {
  return isTree(heads) && (!singleRoot || heads.filter((h) => h === ROOT).length === 1);
}

/** The head vector (ROOT = −1) of the first n entries of a decoded form (`h = m` for the root). */
export function headsOfDecoded(decoded: ArrayLike<number>, n: number): number[] {
  return Array.from({ length: n }, (_, m) => (decoded[m] === m ? ROOT : decoded[m]));
}

/** The exact distribution over the sentence's non-projective trees. */
export function nonProjectiveDistribution(x: DependencySentence): Distribution {
  if (x.n > 6) throw new Error(`oracle: n = ${x.n} is too long to enumerate`);
  return distributionOf(
    nonProjectiveTrees(x.n, x.singleRoot).map((heads) => structureOf(x, heads)),
    partCount(x),
  );
}
