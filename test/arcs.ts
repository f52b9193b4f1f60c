/**
 * Shared pieces of the dependency-tree tests (DependencyCRF and NonProjectiveDependencyCRF, the common suite in
 * test/dependency_suite.ts): host copies of results, rows of a batch, random arc scores with junk padding,
 * −Infinity masks that keep a tree, parts tensors from enumerated structures, one-hot parts and decoded heads
 * checked as trees, and exact zeros.
 */
import { AnyTensor, DeviceTensor, Tensor } from '../lib';
import { normal, randomTensor } from './helpers';
import { Structure } from './oracles/enumerate';
import { DependencySentence } from './oracles/dependency';
import { headsOfDecoded, isDependencyTree } from './oracles/nonprojective';

/** Both root variants, as [name, singleRoot]. */
export const rootVariants: [string, boolean][] = [
  ['single root', true],
  ['any number of roots', false],
];

/** A result on the host (freeing a device copy). */
export function host(t: AnyTensor): Tensor {
  const h = t.toHost();
  if (t instanceof DeviceTensor) t.dispose();
  return h;
}

/** A result's values on the host. */
export function values(t: AnyTensor): number[] {
  return Array.from(host(t).data);
}

/** Row r of a batch of rows of `size` values. */
export function row<T extends ArrayLike<number>>(a: T, r: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => (a as ArrayLike<number>)[r * size + i]);
}

/** Whether flat part q = h·N + m of a sentence is no arc of any tree (a word past the length). */
export function outside(x: DependencySentence, q: number): boolean {
  return Math.floor(q / x.N) >= x.n || q % x.N >= x.n;
}

/** Mixed lengths: N first, 1 second, the rest random. */
export function lengthsFor(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)));
}

/** Random arc scores (scale · N(0, 1)); entries past the length get junk (large values and −Infinity). */
export function arcsOf(B: number, N: number, lengths: number[], random: () => number, scale = 1): Tensor {
  const p = randomTensor([B, N, N], random, scale);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < N; h++) {
      for (let m = 0; m < N; m++) {
        if (h < lengths[b] && m < lengths[b]) continue;
        p.data[(b * N + h) * N + m] = random() < 0.3 ? -Infinity : 40 * normal(random);
      }
    }
  }
  return p;
}

/** Masks some arcs with −Infinity, never root → 0 nor m−1 → m (the chain tree, single-rooted). */
export function mask(p: Tensor, lengths: number[], random: () => number, rate = 0.25): void {
  const [B, N] = p.shape;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < lengths[b]; h++) {
      for (let m = 0; m < lengths[b]; m++) {
        const kept = (h === 0 && m === 0) || h === m - 1;
        if (!kept && random() < rate) p.data[(b * N + h) * N + m] = -Infinity;
      }
    }
  }
}

/** The parts tensor [S, B, N, N] holding structure s mod count_b of sentence b in row (s, b). */
export function partsTensor(B: number, N: number, lists: Structure[][], S: number): Tensor {
  const data = new Float64Array(S * B * N * N);
  for (let s = 0; s < S; s++) {
    for (let b = 0; b < B; b++) {
      const list = lists[b];
      for (const q of list[s % list.length].parts) data[(s * B + b) * N * N + q] = 1;
    }
  }
  return new Tensor(data, [S, B, N, N]);
}

/** The flat parts (within one sentence's block) that are 1 in row r of a one-hot parts array. */
export function chosenParts(parts: ArrayLike<number>, r: number, size: number): number[] {
  return row(parts, r, size).flatMap((v, q) => (v ? [q] : []));
}

/** The one-hot parts of decoded heads (first n entries) over one sentence's block. */
export function partsOfHeads(decoded: readonly number[], N: number, n: number): number[] {
  const out = new Array<number>(N * N).fill(0);
  for (let m = 0; m < n; m++) out[decoded[m] * N + m] = 1;
  return out;
}

/** Expects the first n decoded heads of row r to be a (single-rooted) tree and the rest −1. */
export function expectTree(heads: ArrayLike<number>, r: number, N: number, n: number, singleRoot: boolean): void {
  const decoded = row(heads, r, N);
  if (!isDependencyTree(headsOfDecoded(decoded, n), singleRoot) || decoded.slice(n).some((h) => h !== -1)) {
    throw new Error(`row ${r}: heads ${decoded} (length ${n}) are no ${singleRoot ? 'single-rooted ' : ''}tree`);
  }
}

/** Expects v to be zero (either sign). */
export function expectZero(v: number, what: string): void {
  if (v !== 0) throw new Error(`${what}: got ${v}, expected 0`);
}
