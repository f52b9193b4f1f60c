/**
 * The enumeration oracle of the DependencyCRF (projective dependency trees): every head vector of a
 * sentence of n ≤ 6 words is listed (each word headed by the root or another word: n^n vectors), those
 * that are trees and projective — no two arcs cross with the root placed at position −1, root arcs
 * included — are kept (with exactly one root child for `singleRoot`), and every quantity is computed from
 * that list in float64 — no Eisner.
 *
 * Parts of one sentence, flat: `h·N + m` for the arc h → m, and `m·N + m` for root → m, i.e. the layout
 * of one sentence's `[N, N]` block.
 */
import { Tensor } from '../../lib';
import { Distribution, Structure, distributionOf, scoreOfParts } from './enumerate';

/** The root's position in head vectors. */
export const ROOT = -1;

/** One sentence of a batch of arc potentials `[B, N, N]`. */
export interface DependencySentence {
  N: number;
  /** The sentence's length. */
  n: number;
  singleRoot: boolean;
  /** s(h → m), h = ROOT for the root arc. */
  score(h: number, m: number): number;
}

export function dependencySentence(
  arcs: Tensor,
  b: number,
  lengths: ArrayLike<number> | null | undefined,
  singleRoot: boolean,
): DependencySentence {
  const N = arcs.shape[1];
  const d = arcs.data;
  return {
    N,
    n: lengths ? lengths[b] : N,
    singleRoot,
    score: (h, m) => d[(b * N + (h === ROOT ? m : h)) * N + m],
  };
}

export function partCount(x: DependencySentence): number {
  return x.N * x.N;
}

export function arcPart(N: number, h: number, m: number): number {
  return (h === ROOT ? m : h) * N + m;
}

/** Whether following heads from every word reaches the root (no cycle). */
export function isTree(heads: readonly number[]): boolean {
  const n = heads.length;
  for (let m = 0; m < n; m++) {
    let v = m;
    let steps = 0;
    while (v !== ROOT) {
      v = heads[v];
      if (++steps > n) return false;
    }
  }
  return true;
}

/** Whether no two arcs (root arcs from position −1 included) cross. */
export function noCrossing(heads: readonly number[]): boolean {
  const arcs = heads.map((h, m) => [Math.min(h, m), Math.max(h, m)]);
  for (const [a, b] of arcs) {
    for (const [c, d] of arcs) {
      if (a < c && c < b && b < d) return false;
    }
  }
  return true;
}

/**
 * Projectivity by the other classical definition (for the cross-check of {@link noCrossing}): every
 * node's yield (itself and its descendants) is a contiguous interval of positions, the root at −1.
 */
export function contiguousYields(heads: readonly number[]): boolean {
  const n = heads.length;
  for (let h = ROOT; h < n; h++) {
    const inYield = (m: number): boolean => {
      let v = m;
      for (let steps = 0; steps <= n; steps++) {
        if (v === h) return true;
        if (v === ROOT) return false;
        v = heads[v];
      }
      return false;
    };
    const members = [h];
    for (let m = 0; m < n; m++) if (m !== h && inYield(m)) members.push(m);
    if (Math.max(...members) - Math.min(...members) + 1 !== members.length) return false;
  }
  return true;
}

/** Every head vector of n words (each head ROOT or another word), in lexicographic order. */
export function allHeadVectors(n: number): number[][] {
  const out: number[][] = [];
  const heads = new Array<number>(n).fill(ROOT);
  const visit = (m: number): void => {
    if (m === n) {
      out.push([...heads]);
      return;
    }
    for (let h = ROOT; h < n; h++) {
      if (h === m) continue;
      heads[m] = h;
      visit(m + 1);
    }
  };
  visit(0);
  return out;
}

const treeCache = new Map<string, number[][]>();

/** The projective trees of n words (head vectors, ROOT = −1), single-rooted or not (cached). */
export function projectiveTrees(n: number, singleRoot: boolean): number[][] {
  const key = `${n}:${singleRoot}`;
  let out = treeCache.get(key);
  if (!out) {
    out = allHeadVectors(n).filter(
      (heads) =>
        isTree(heads) && noCrossing(heads) && (!singleRoot || heads.filter((h) => h === ROOT).length === 1),
    );
    treeCache.set(key, out);
  }
  return out;
}

/** The structure of a head vector: parts, decoded heads (`h = m` for the root, −1 padding) and score. */
export function structureOf(x: DependencySentence, heads: readonly number[]): Structure {
  const decoded = new Array<number>(x.N).fill(-1);
  const parts: number[] = [];
  let score = 0;
  heads.forEach((h, m) => {
    decoded[m] = h === ROOT ? m : h;
    parts.push(arcPart(x.N, h, m));
    score += x.score(h, m);
  });
  return { parts, decoded, score };
}

/** Score of any list of parts of the sentence. */
export function scoreOf(x: DependencySentence, parts: readonly number[]): number {
  return scoreOfParts(parts, (q) => {
    const h = Math.floor(q / x.N);
    const m = q % x.N;
    return x.score(h === m ? ROOT : h, m);
  });
}

/** The exact distribution over the sentence's trees. */
export function dependencyDistribution(x: DependencySentence): Distribution {
  if (x.n > 7) throw new Error(`oracle: n = ${x.n} is too long to enumerate`);
  return distributionOf(
    projectiveTrees(x.n, x.singleRoot).map((heads) => structureOf(x, heads)),
    partCount(x),
  );
}
