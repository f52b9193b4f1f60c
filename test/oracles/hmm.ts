/**
 * The enumeration oracle of the HMM: every one of the C^L state sequences of an observed sequence, scored from
 * the HMM's parameters directly (torch-struct's convention: transition[next, previous], emission[symbol, state],
 * init[state]), in float64 — no chain, no dynamic programming.
 *
 * Parts of one sequence, flat: `[N·C]` state indicators followed by `[C·C]` transition counts `[i, j]` (from i
 * to j), the layout of the HMM's (factored chain's) marginals.
 */

import { logSumExp } from './enumerate';
import { labellings } from './linear_chain';

/** Host float64 parameters and one observed sequence. */
export interface OracleHMM {
  /** `[C, C]`, `[j, i]` scores i followed by j. */
  transition: ArrayLike<number>;
  /** `[V, C]`. */
  emission: ArrayLike<number>;
  /** `[C]`. */
  init: ArrayLike<number>;
  C: number;
  N: number;
  /** The sequence's length L ≤ N. */
  L: number;
  /** Its N observations (only the first L are read). */
  x: ArrayLike<number>;
}

/** log p(x, y) = init[y_0] + Σ_n emission[x_n, y_n] + Σ_n transition[y_{n+1}, y_n]. */
export function jointScore(h: OracleHMM, y: readonly number[]): number {
  const { C, L } = h;
  let s = h.init[y[0]];
  for (let n = 0; n < L; n++) {
    s += h.emission[h.x[n] * C + y[n]];
    if (n + 1 < L) s += h.transition[y[n + 1] * C + y[n]];
  }
  return s;
}

/** Indices (with multiplicity) of the parts state sequence y uses. */
export function hmmPartsOf(h: OracleHMM, y: readonly number[]): number[] {
  const { N, C, L } = h;
  const parts: number[] = [];
  for (let n = 0; n < L; n++) {
    parts.push(n * C + y[n]);
    if (n + 1 < L) parts.push(N * C + y[n] * C + y[n + 1]);
  }
  return parts;
}

export interface EnumeratedHMM {
  /** Every state sequence (−1 past L), lexicographic. */
  labellings: number[][];
  scores: number[];
  probs: number[];
  logZ: number;
  /** μ over the parts (flat, see the module doc). */
  marginals: Float64Array;
  entropy: number;
  argmax: { labels: number[]; score: number };
}

export function enumerateHMM(h: OracleHMM): EnumeratedHMM {
  const ys = labellings(h);
  const scores = ys.map((v) => jointScore(h, v));
  const logZ = logSumExp(scores);
  const probs = scores.map((s) => Math.exp(s - logZ));
  const marginals = new Float64Array(h.N * h.C + h.C * h.C);
  let entropy = 0;
  let best = 0;
  ys.forEach((v, k) => {
    if (scores[k] > scores[best]) best = k;
    if (probs[k] === 0) return;
    for (const q of hmmPartsOf(h, v)) marginals[q] += probs[k];
    entropy -= probs[k] * (scores[k] - logZ);
  });
  return { labellings: ys, scores, probs, logZ, marginals, entropy, argmax: { labels: ys[best], score: scores[best] } };
}
