/**
 * An independent SparseMAP reference over an explicit list of structures (the vertices of the marginal polytope
 * M, enumerated by the tree oracles): μ* = argmax_{μ ∈ M} η·μ − ½‖μ‖², the Euclidean projection of the scores η
 * onto M = conv{z}. Everything is float64 and works on one sentence's block of parts.
 *
 * The method is not an active set: accelerated projected gradient (FISTA with gradient restarts) on the weights α
 * over ALL the vertices, minimizing ½‖Vα − η‖² over the simplex with an exact (sort-based) simplex projection.
 * Every few iterations the weights' support is polished: η is projected onto the affine hull of the supporting
 * vertices (eigen-decomposition, rank-revealing, so affinely dependent supports are fine), the weights get the
 * least-norm correction that represents that point exactly, and the result is accepted only when the weights are
 * ≥ 0 and the duality gap max_z (η − μ)·(z − μ) over every vertex is ≤ 1e-12 (relative to the scores' scale) —
 * a certificate checked over the full list, not over the support.
 *
 * The Jacobian of μ*(η) where the support is stable is the orthogonal projector onto the directions of the
 * optimal face's affine hull; for a linearly independent support M_I spanning it, it equals Niculae et al. (2018), Prop. 1:
 * M_I Z M_Iᵀ with S = (M_IᵀM_I)⁻¹ and Z = S − S11ᵀS / (1ᵀS1) ({@link propositionOneJacobian}, checked against the
 * projector in test/sparsemap.test.ts).
 */
import { finiteDifferenceVjp } from '../helpers';
import { Structure } from './enumerate';

/** The reference solution for one sentence. */
export interface SparseMapReference {
  /** μ* over the sentence's block of parts (0 on parts no structure uses). */
  marginals: Float64Array;
  /** Indices (into the structure list) of the structures with positive weight. */
  support: number[];
  /** Their weights (> 1e-9 each, summing to 1; μ = Σ weights · parts exactly up to rounding). */
  weights: number[];
  /** The duality gap max_z (η − μ)·(z − μ) of `marginals` over every structure. */
  gap: number;
  /** Indices of the structures of zero reduced cost (η − μ)·(z − μ) ≈ 0: the vertices of the optimal face. */
  face: number[];
  /** Whether the face's vertices are affinely independent, so that the weights are unique. */
  uniqueWeights: boolean;
  /**
   * Whether the support spans the face's affine hull, i.e. μ* lies in the relative interior of the face (strict
   * complementarity): then the face, and the Jacobian below, do not change under small changes of η.
   */
  stable: boolean;
  /**
   * The Jacobian of μ* in η on the block (row-major, block × block) where `stable`: the orthogonal projector onto
   * the directions of the face's affine hull (0 on the parts no structure uses).
   */
  jacobian: Float64Array;
  /** FISTA iterations used. */
  iterations: number;
}

/**
 * Symmetric eigen-decomposition by cyclic Jacobi rotations: `values[k]` with eigenvector column k of `vectors`
 * (row-major n × n, `vectors[i·n + k]`).
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-32 * scale || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, k) => a[k * n + k]), vectors: v };
}

/**
 * Σ_k f(λ_k) u_k u_kᵀ over the eigenpairs of a symmetric n × n matrix whose eigenvalue exceeds `relTol` · max(1, λ_max):
 * f = 1 gives the projector onto its range, f = 1/λ its pseudo-inverse.
 */
function spectralFunction(matrix: ArrayLike<number>, n: number, f: (lambda: number) => number, relTol = 1e-10): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const top = Math.max(1, ...Array.from(values, Math.abs));
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    if (values[k] <= relTol * top) continue;
    const w = f(values[k]);
    for (let i = 0; i < n; i++) {
      const ui = vectors[i * n + k] * w;
      if (ui === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += ui * vectors[j * n + k];
    }
  }
  return out;
}

/** The number of eigenvalues of a symmetric n × n matrix above `relTol` · max(1, λ_max). */
function rank(matrix: ArrayLike<number>, n: number, relTol = 1e-9): number {
  const { values } = symmetricEigen(matrix, n);
  const top = Math.max(1, ...Array.from(values, Math.abs));
  return Array.from(values).filter((l) => l > relTol * top).length;
}

/** Σ_i x_i x_iᵀ (n × n) over vectors of length n. */
function gram(vectors: ArrayLike<number>[], n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (const x of vectors) {
    for (let i = 0; i < n; i++) {
      if (x[i] === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += x[i] * x[j];
    }
  }
  return out;
}

function matVec(m: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += m[i * n + j] * x[j];
    out[i] = s;
  }
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The Euclidean projection of y onto the probability simplex (sort and threshold). */
export function projectSimplex(y: ArrayLike<number>): Float64Array {
  const sorted = Array.from(y).sort((a, b) => b - a);
  let cumulative = 0;
  let tau = 0;
  for (let k = 0; k < sorted.length; k++) {
    cumulative += sorted[k];
    const t = (cumulative - 1) / (k + 1);
    if (sorted[k] - t > 0) tau = t;
  }
  return Float64Array.from(y, (v) => Math.max(v - tau, 0));
}

/** The union of the structures' parts, sorted: the coordinates of the problem. */
export function usedParts(structures: readonly Structure[]): number[] {
  const used = new Set<number>();
  for (const s of structures) for (const q of s.parts) used.add(q);
  return [...used].sort((a, b) => a - b);
}

/**
 * The duality gap of μ (a point of M) for the projection of η: max over the structures z of (η − μ)·(z − μ), over
 * the parts the structures use (entries of μ elsewhere are not read). ≥ 0 for μ ∈ M; ½‖μ − μ*‖² ≤ gap.
 */
export function dualityGap(structures: readonly Structure[], eta: ArrayLike<number>, mu: ArrayLike<number>): number {
  const used = usedParts(structures);
  const atMu = used.reduce((s, q) => s + (eta[q] - mu[q]) * mu[q], 0);
  let best = -Infinity;
  for (const z of structures) best = Math.max(best, z.parts.reduce((s, q) => s + eta[q] - mu[q], 0));
  return best - atMu;
}

/**
 * Niculae et al. (2018), Prop. 1 for a linearly independent support (rows of `vertices`, each a one-hot vector
 * over a block of `size` parts): J = M_I Z M_Iᵀ with S = (M_IᵀM_I)⁻¹, Z = S − S11ᵀS / (1ᵀS1) (size × size).
 */
export function propositionOneJacobian(vertices: ArrayLike<number>[], size: number): Float64Array {
  const k = vertices.length;
  const gramI = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) gramI[i * k + j] = dot(vertices[i], vertices[j]);
  if (rank(gramI, k, 1e-12) < k) throw new Error('propositionOneJacobian: the support is linearly dependent');
  const S = spectralFunction(gramI, k, (l) => 1 / l, 1e-14);
  const s1 = matVec(S, new Float64Array(k).fill(1), k);
  const total = s1.reduce((a, b) => a + b, 0);
  const Z = Float64Array.from(S, (v, ij) => v - (s1[Math.floor(ij / k)] * s1[ij % k]) / total);
  const out = new Float64Array(size * size);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const z = Z[i * k + j];
      for (let p = 0; p < size; p++) {
        if (vertices[i][p] === 0) continue;
        for (let q = 0; q < size; q++) if (vertices[j][q] !== 0) out[p * size + q] += vertices[i][p] * z * vertices[j][q];
      }
    }
  }
  return out;
}

/** Options of the reference solver. */
export interface ReferenceOptions {
  /** The certificate: duality gap ≤ gapTolerance · max(1, max |η|) (default 1e-12). */
  gapTolerance?: number;
  /** Weights at or below this are dropped from the support (default 1e-9). */
  cleanBelow?: number;
  maxIterations?: number;
}

/**
 * The SparseMAP solution of one sentence: η is its block of potentials (entries outside the structures' parts are
 * not read), `structures` every structure of the sentence (from the enumeration oracles), `size` the block's size.
 */
export function sparsemapReference(
  structures: readonly Structure[],
  eta: ArrayLike<number>,
  size: number,
  options: ReferenceOptions = {},
): SparseMapReference {
  const used = usedParts(structures);
  const d = used.length;
  const K = structures.length;
  const position = new Map(used.map((q, i) => [q, i]));
  const e = Float64Array.from(used, (q) => eta[q]);
  if (!e.every(Number.isFinite)) throw new Error('sparsemapReference: the scores must be finite on the parts used');
  const scale = Math.max(1, ...Array.from(e, Math.abs));
  const gapTolerance = (options.gapTolerance ?? 1e-12) * scale;
  const cleanBelow = options.cleanBelow ?? 1e-9;
  const maxIterations = options.maxIterations ?? 200000;
  // Vertices in the compressed coordinates; their index lists for fast products.
  const index = structures.map((s) => s.parts.map((q) => position.get(q) as number));
  const vertex = index.map((ix) => {
    const v = new Float64Array(d);
    for (const i of ix) v[i] += 1;
    return v;
  });
  const augmented = vertex.map((v) => Float64Array.from([...v, 1]));

  const combination = (alpha: ArrayLike<number>, members: readonly number[]): Float64Array => {
    const mu = new Float64Array(d);
    members.forEach((k, r) => {
      if (alpha[r] !== 0) for (const i of index[k]) mu[i] += alpha[r];
    });
    return mu;
  };
  const gapOf = (mu: Float64Array): number => {
    const residual = Float64Array.from(e, (v, i) => v - mu[i]);
    const atMu = dot(residual, mu);
    let best = -Infinity;
    for (const ix of index) best = Math.max(best, ix.reduce((s, i) => s + residual[i], 0));
    return best - atMu;
  };

  /**
   * Polishing on the members with their current weights: μ = the projection of η onto their affine hull, the
   * weights corrected by least norm to represent it; null unless weights ≥ 0 and the gap certificate holds.
   */
  const polish = (members: number[], weights: number[]) => {
    const k0 = members[weights.indexOf(Math.max(...weights))];
    const directions = members.filter((k) => k !== k0).map((k) => Float64Array.from(vertex[k], (v, i) => v - vertex[k0][i]));
    const projector = spectralFunction(gram(directions, d), d, () => 1);
    const target = matVec(projector, Float64Array.from(e, (v, i) => v - vertex[k0][i]), d).map((v, i) => v + vertex[k0][i]);
    const inverse = spectralFunction(gram(members.map((k) => augmented[k]), d + 1), d + 1, (l) => 1 / l, 1e-12);
    const current = combination(weights, members);
    const residual = Float64Array.from([...target.map((v, i) => v - current[i]), 1 - weights.reduce((a, b) => a + b, 0)]);
    const y = matVec(inverse, residual, d + 1);
    const corrected = members.map((k, r) => weights[r] + dot(augmented[k], y));
    if (Math.min(...corrected) < -1e-12) return null;
    const clamped = corrected.map((w) => Math.max(w, 0));
    const total = clamped.reduce((a, b) => a + b, 0);
    const alpha = clamped.map((w) => w / total);
    const mu = combination(alpha, members);
    if (mu.some((v, i) => Math.abs(v - target[i]) > 1e-10)) return null;
    const gap = gapOf(mu);
    if (!(gap <= gapTolerance)) return null;
    return { members, alpha, mu, gap };
  };

  // FISTA on the simplex weights over all vertices, from the best vertex.
  const lipschitz = 1.01 * Math.max(...symmetricEigen(gram(vertex.map((v) => v), d), d).values);
  const step = 1 / lipschitz;
  let best = 0;
  const scores = index.map((ix) => ix.reduce((s, i) => s + e[i], 0));
  scores.forEach((s, k) => {
    if (s > scores[best]) best = k;
  });
  let alpha: Float64Array = new Float64Array(K);
  alpha[best] = 1;
  let y: Float64Array = Float64Array.from(alpha);
  let t = 1;
  let solution: ReturnType<typeof polish> = null;
  let iterations = 0;
  while (!solution) {
    if (++iterations > maxIterations) throw new Error(`sparsemapReference: no certificate after ${maxIterations} iterations`);
    const residual = combination(y, [...Array(K).keys()]).map((v, i) => v - e[i]);
    const gradient = index.map((ix) => ix.reduce((s, i) => s + residual[i], 0));
    const next = projectSimplex(Float64Array.from(y, (v, k) => v - step * gradient[k]));
    // Gradient restart (O'Donoghue & Candès): momentum off when it points uphill.
    let uphill = 0;
    for (let k = 0; k < K; k++) uphill += gradient[k] * (next[k] - alpha[k]);
    const tNext = uphill > 0 ? 1 : (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const momentum = uphill > 0 ? 0 : (t - 1) / tNext;
    y = Float64Array.from(next, (v, k) => v + momentum * (v - alpha[k]));
    alpha = next;
    t = tNext;
    if (iterations % 10 === 0 || iterations === 1) {
      const members = [...Array(K).keys()].filter((k) => alpha[k] > 0);
      solution = polish(members, members.map((k) => alpha[k]));
    }
  }
  // Clean tiny weights (keeping the certificate).
  const kept = solution.alpha.flatMap((w, r) => (w > cleanBelow ? [r] : []));
  if (kept.length < solution.members.length) {
    const cleaned = polish(
      kept.map((r) => solution!.members[r]),
      kept.map((r) => solution!.alpha[r]),
    );
    if (cleaned) solution = cleaned;
  }
  const { members, alpha: weights, mu, gap } = solution;
  const residual = Float64Array.from(e, (v, i) => v - mu[i]);
  const atMu = dot(residual, mu);
  const face = index.flatMap((ix, k) => (ix.reduce((s, i) => s + residual[i], 0) - atMu >= -1e-9 * scale ? [k] : []));
  const uniqueWeights = rank(gram(face.map((k) => augmented[k]), d + 1), d + 1) === face.length;
  const support = members.filter((_, r) => weights[r] > 0);
  const directionsGram = (of: number[]) => gram(of.map((k) => Float64Array.from(vertex[k], (v, i) => v - vertex[of[0]][i])), d);
  const faceGram = directionsGram(face);
  const projector = spectralFunction(faceGram, d, () => 1);
  const marginals = new Float64Array(size);
  used.forEach((q, i) => (marginals[q] = mu[i]));
  const jacobian = new Float64Array(size * size);
  used.forEach((p, i) => used.forEach((q, j) => (jacobian[p * size + q] = projector[i * d + j])));
  return {
    marginals,
    support,
    weights: weights.filter((w) => w > 0),
    gap,
    face,
    uniqueWeights,
    stable: rank(directionsGram(support), d) === rank(faceGram, d),
    jacobian,
    iterations,
  };
}

/** J g for a Jacobian of a block (row-major size × size). */
export function jacobianProduct(jacobian: ArrayLike<number>, g: ArrayLike<number>): Float64Array {
  return matVec(jacobian, g, g.length);
}

/**
 * Central differences of ⟨w, μ(x)⟩ (the VJP a backward must return) for a piecewise-linear μ, with the support
 * compared at x ± h e_i: `solve` returns μ and a key of its support; `stable[i]` is false where the support at
 * x + h e_i or x − h e_i differs from the support at x (those coordinates straddle a kink: not a check). Non-finite
 * coordinates of x are not perturbed (gradient 0, stable).
 */
export function stableFiniteDifferenceVjp(
  solve: (x: Float64Array) => { values: ArrayLike<number>; key: string },
  x: Float64Array,
  w: ArrayLike<number>,
  h: number,
): { grad: Float64Array; stable: boolean[] } {
  const base = solve(x).key;
  const keys: string[] = [];
  const grad = finiteDifferenceVjp(
    (v) => {
      const { values, key } = solve(v);
      keys.push(key);
      return values;
    },
    x,
    w,
    h,
  );
  const stable = new Array<boolean>(x.length).fill(true);
  let call = 0;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) continue;
    stable[i] = keys[call] === base && keys[call + 1] === base;
    call += 2;
  }
  return { grad, stable };
}
