/**
 * The enumeration oracle of the Categorical structure: its structures are the K one-hot vectors of a row,
 * so everything is computed by looping over them, in float64, with algorithms independent of the kernels
 * (the sparse normalizers by bisection on the threshold plus the closed form on the support found).
 */

/** The K structures of a row, enumerated: their scores are the row's entries. */
export function enumerate(row: ArrayLike<number>): { index: number; score: number }[] {
  return Array.from(row, (score, index) => ({ index, score }));
}

export function logPartition(row: ArrayLike<number>): number {
  const structures = enumerate(row);
  const top = Math.max(...structures.map((s) => s.score));
  return top + Math.log(structures.reduce((sum, s) => sum + Math.exp(s.score - top), 0));
}

/** p(z = k) for each structure. */
export function probabilities(row: ArrayLike<number>): number[] {
  const logZ = logPartition(row);
  return enumerate(row).map((s) => Math.exp(s.score - logZ));
}

export function entropy(row: ArrayLike<number>): number {
  const logZ = logPartition(row);
  return enumerate(row).reduce((h, s) => (s.score === -Infinity ? h : h + Math.exp(s.score - logZ) * (logZ - s.score)), 0);
}

/** The MAP structure: first maximum. */
export function argmax(row: ArrayLike<number>): number {
  return enumerate(row).reduce((best, s) => (s.score > best.score ? s : best)).index;
}

/**
 * alpha-entmax of a row (alpha > 1): p_k = ((alpha-1) x_k - tau)_+^(1/(alpha-1)) with sum 1. tau by 200
 * bisection steps; for alpha = 2 and 1.5 the support then gives tau in closed form.
 */
export function entmax(row: ArrayLike<number>, alpha: number): number[] {
  if (alpha === 1) return probabilities(row);
  const z = Array.from(row, (x) => (alpha - 1) * x);
  const finite = z.filter(Number.isFinite);
  const top = Math.max(...finite);
  const power = 1 / (alpha - 1);
  const mass = (tau: number) => z.reduce((m, v) => (v > tau ? m + (v - tau) ** power : m), 0);
  let lo = top - 1;
  let hi = top;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mass(mid) >= 1) lo = mid;
    else hi = mid;
  }
  let tau = lo;
  const support = z.filter((v) => v > lo);
  if (alpha === 2) {
    tau = (support.reduce((a, b) => a + b, 0) - 1) / support.length;
  } else if (alpha === 1.5) {
    // Σ_S (v - τ)² = 1, smaller root: n τ² − 2 τ Σv + Σv² − 1 = 0 (shifted by the top for accuracy).
    const n = support.length;
    const shifted = support.map((v) => v - top);
    const s1 = shifted.reduce((a, b) => a + b, 0);
    const s2 = shifted.reduce((a, b) => a + b * b, 0);
    tau = top + (s1 - Math.sqrt(Math.max(0, s1 * s1 - n * (s2 - 1)))) / n;
  }
  const p = z.map((v) => (v > tau ? (v - tau) ** power : 0));
  const total = p.reduce((a, b) => a + b, 0);
  return alpha === 2 || alpha === 1.5 ? p : p.map((v) => v / total);
}

/** Applies a row oracle to every row of a [B, K] array. */
export function mapRows(data: ArrayLike<number>, cols: number, f: (row: number[]) => number[]): number[] {
  const all = Array.from(data);
  const out: number[] = [];
  for (let b = 0; b * cols < all.length; b++) out.push(...f(all.slice(b * cols, (b + 1) * cols)));
  return out;
}

/** Applies a row oracle with a scalar result to every row. */
export function perRow(data: ArrayLike<number>, cols: number, f: (row: number[]) => number): number[] {
  return mapRows(data, cols, (row) => [f(row)]);
}
