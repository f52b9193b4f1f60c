/**
 * Generic brute-force quantities of a distribution p(z) ∝ exp(score(z)) given the explicit list of its
 * structures, each as the set of its parts (flat indices into one sentence's block of potentials) — shared
 * by the tree oracles (test/oracles/tree.ts, test/oracles/dependency.ts). Everything is a plain loop over
 * the list, in float64: no dynamic programming, so it is independent of the kernels.
 */

/** One structure of one sentence. */
export interface Structure {
  /** Flat indices (within one sentence's block) of the parts it uses, each once. */
  parts: number[];
  /** Its decoded form exactly as the API lays it out for one sentence (padded with −1). */
  decoded: number[];
  /** Σ of the potentials of its parts (−Infinity when it uses a masked part). */
  score: number;
}

/** The distribution over an explicit list of structures. */
export interface Distribution {
  structures: Structure[];
  probs: number[];
  logZ: number;
  /** μ over the parts of one sentence's block (zero on entries no structure uses). */
  marginals: Float64Array;
  entropy: number;
  /** The structure of highest score (first in list order on ties). */
  best: Structure;
}

/** log Σ exp(v) (−Infinity for an empty list or all −Infinity). */
export function logSumExp(values: readonly number[]): number {
  let top = -Infinity;
  for (const v of values) if (v > top) top = v;
  if (top === -Infinity) return -Infinity;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - top);
  return top + Math.log(sum);
}

/** Σ of `potential(q)` over the parts q. */
export function scoreOfParts(parts: readonly number[], potential: (q: number) => number): number {
  let s = 0;
  for (const q of parts) s += potential(q);
  return s;
}

export function distributionOf(structures: Structure[], partCount: number): Distribution {
  if (structures.length === 0) throw new Error('oracle: no structure');
  const logZ = logSumExp(structures.map((s) => s.score));
  if (!Number.isFinite(logZ)) throw new Error('oracle: every structure has score -Infinity');
  const probs = structures.map((s) => Math.exp(s.score - logZ));
  const marginals = new Float64Array(partCount);
  let entropy = 0;
  let best = 0;
  structures.forEach((s, k) => {
    if (s.score > structures[best].score) best = k;
    if (probs[k] === 0) return;
    for (const q of s.parts) marginals[q] += probs[k];
    entropy -= probs[k] * (s.score - logZ);
  });
  return { structures, probs, logZ, marginals, entropy, best: structures[best] };
}

/** Cov(z)·g = E[z (g·z)] − μ (g·μ), for g laid out like the marginals. */
export function covarianceProduct(d: Distribution, g: ArrayLike<number>): Float64Array {
  const out = new Float64Array(d.marginals.length);
  let meanGain = 0;
  d.structures.forEach((s, k) => {
    const p = d.probs[k];
    if (p === 0) return;
    const gain = scoreOfParts(s.parts, (q) => g[q]);
    meanGain += p * gain;
    for (const q of s.parts) out[q] += p * gain;
  });
  for (let q = 0; q < out.length; q++) out[q] -= d.marginals[q] * meanGain;
  return out;
}

/** The one-hot vector of a structure's parts over one sentence's block. */
export function oneHot(parts: readonly number[], partCount: number): number[] {
  const out = new Array<number>(partCount).fill(0);
  for (const q of parts) out[q] += 1;
  return out;
}

/** Stable key of a decoded form (for counting samples). */
export function keyOf(decoded: ArrayLike<number>): string {
  return Array.from(decoded).join(',');
}
