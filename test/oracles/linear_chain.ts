/**
 * The enumeration oracle of the LinearChainCRF: every one of the C^L labellings of a sequence is listed
 * with its score and its parts, and every building block is computed from that list in float64 — no
 * dynamic programming, so it is independent of the kernels.
 *
 * Parts of one sequence, flat: edge form `[(N-1)·C·C]` laid out as the edges `[n, j, i]`; factored form
 * `[N·C]` label indicators followed by `[C·C]` transition counts `[i, j]`.
 */
import { Tensor } from '../../lib';

/** Host float64 potentials of a batch: edges `[B, N-1, C, C]` or unary `[B, N, C]` + transition. */
export type OraclePotentials = { edges: Tensor } | { unary: Tensor; transition: Tensor };

/** One sequence of a batch, readable by (n, i, j). */
export interface OracleChain {
  factored: boolean;
  N: number;
  C: number;
  L: number;
  phi(n: number, c: number): number;
  psi(n: number, i: number, j: number): number;
}

export function oracleChain(p: OraclePotentials, b: number, lengths?: ArrayLike<number> | null): OracleChain {
  if ('edges' in p) {
    const [, N1, C] = p.edges.shape;
    const N = N1 + 1;
    const e = p.edges.data;
    return {
      factored: false,
      N,
      C,
      L: lengths ? lengths[b] : N,
      phi: () => 0,
      psi: (n, i, j) => e[((b * N1 + n) * C + j) * C + i],
    };
  }
  const [, N, C] = p.unary.shape;
  const u = p.unary.data;
  const t = p.transition.data;
  const tOffset = p.transition.shape.length === 3 ? b * C * C : 0;
  return {
    factored: true,
    N,
    C,
    L: lengths ? lengths[b] : N,
    phi: (n, c) => u[(b * N + n) * C + c],
    psi: (_n, i, j) => t[tOffset + i * C + j],
  };
}

/** Number of parts of one sequence. */
export function partCount(x: OracleChain): number {
  return x.factored ? x.N * x.C + x.C * x.C : (x.N - 1) * x.C * x.C;
}

/** Indices of the parts (with multiplicity) that labelling y uses. */
export function partsOf(x: OracleChain, y: readonly number[]): number[] {
  const { N, C, L } = x;
  const parts: number[] = [];
  for (let n = 0; n < L; n++) {
    if (x.factored) parts.push(n * C + y[n]);
    if (n + 1 < L) parts.push(x.factored ? N * C + y[n] * C + y[n + 1] : (n * C + y[n + 1]) * C + y[n]);
  }
  return parts;
}

export function scoreOf(x: OracleChain, y: readonly number[]): number {
  let s = 0;
  for (let n = 0; n < x.L; n++) {
    s += x.phi(n, y[n]);
    if (n + 1 < x.L) s += x.psi(n, y[n], y[n + 1]);
  }
  return s;
}

/** Every labelling of the sequence (labels past L are −1), in lexicographic order. */
export function labellings(x: Pick<OracleChain, 'N' | 'C' | 'L'>): number[][] {
  const out: number[][] = [];
  const y = new Array<number>(x.N).fill(-1);
  const visit = (n: number): void => {
    if (n === x.L) {
      out.push([...y]);
      return;
    }
    for (let c = 0; c < x.C; c++) {
      y[n] = c;
      visit(n + 1);
    }
    y[n] = -1;
  };
  visit(0);
  return out;
}

export interface Enumerated {
  labellings: number[][];
  scores: number[];
  probs: number[];
  logZ: number;
  /** μ over the parts (flat, see the module doc). */
  marginals: Float64Array;
  entropy: number;
  /** The best labelling (first in lexicographic order on ties) and its score. */
  argmax: { labels: number[]; score: number };
}

export function enumerateChain(x: OracleChain): Enumerated {
  const ys = labellings(x);
  const scores = ys.map((y) => scoreOf(x, y));
  const top = Math.max(...scores);
  const logZ = top + Math.log(scores.reduce((s, v) => s + Math.exp(v - top), 0));
  const probs = scores.map((s) => Math.exp(s - logZ));
  const marginals = new Float64Array(partCount(x));
  let entropy = 0;
  ys.forEach((y, k) => {
    if (probs[k] === 0) return;
    for (const part of partsOf(x, y)) marginals[part] += probs[k];
    entropy -= probs[k] * (scores[k] - logZ);
  });
  let best = 0;
  scores.forEach((s, k) => {
    if (s > scores[best]) best = k;
  });
  return { labellings: ys, scores, probs, logZ, marginals, entropy, argmax: { labels: ys[best], score: scores[best] } };
}

/** Cov(z)·g = E[z (g·z)] − μ (g·μ) over the parts, for g laid out like the marginals. */
export function covarianceProduct(x: OracleChain, g: ArrayLike<number>): Float64Array {
  const e = enumerateChain(x);
  const out = new Float64Array(partCount(x));
  let meanGain = 0;
  e.labellings.forEach((y, k) => {
    const parts = partsOf(x, y);
    const gain = parts.reduce((s, q) => s + g[q], 0);
    meanGain += e.probs[k] * gain;
    for (const q of parts) out[q] += e.probs[k] * gain;
  });
  for (let q = 0; q < out.length; q++) out[q] -= e.marginals[q] * meanGain;
  return out;
}
