/**
 * Probabilistic estimation: the objective is E_{p(z)}[L(z)] (or E_ξ[L(z)] for the sparse SparseMAP distribution ξ),
 * and its gradient w.r.t. the scores is computed exactly (by enumeration or on a sparse support) or estimated
 * without bias from samples with the score function ∇ log p(z) = z − μ.
 */
import { optionsObject, rangeError, typeError } from '../errors';
import type { SparseMapOptions } from '../structures/common';
import { checkStepArguments, decode, positiveOption, seedOption, uniformWeights } from './decoding';
import { seedCounter } from './layer';
import { combine, disposeParts, finitePart, leavesOf, row, scoreOf, sum } from './parts';
import { kindOf } from './relaxation';
import type { Decoder, Estimator, EstimatorResult, LatentStructure, Parts, SparseSolution } from './types';

/** Leading dimension of stacked parts. */
function stackSize(stacked: Parts): number {
  return leavesOf(stacked)[0].shape[0];
}

/** Σ_s coef_s (z_s − μ) over the parts: the score-function combination, with per-instance coefficients. */
function scoreFunction<Z extends Parts>(samples: Z[], coefs: Float64Array[], mu: Z, batch: number): Z {
  const total = new Float64Array(batch);
  coefs.forEach((c) => c.forEach((v, b) => (total[b] += v)));
  return combine(mu, [
    ...samples.map((parts, s) => ({ coef: coefs[s], parts })),
    { coef: Float64Array.from(total, (v) => -v), parts: mu },
  ]);
}

/**
 * Calls the decoder on each row z_i of stacked parts `[S, B, ...]` (call i) and weighs it per instance by
 * weightOf(i, z_i): the rows, their weights and losses, and the weighted loss Σ_i w_i L(z_i) per instance.
 */
function weightedRows<Z extends Parts>(
  stacked: Z,
  decoder: Decoder<Z>,
  batch: number,
  weightOf: (i: number, z: Z) => Float64Array,
): { samples: Z[]; weights: Float64Array[]; losses: Float64Array[]; loss: Float64Array } {
  const samples: Z[] = [];
  const weights: Float64Array[] = [];
  const losses: Float64Array[] = [];
  const loss = new Float64Array(batch);
  for (let i = 0; i < stackSize(stacked); i++) {
    const z = row(stacked, i);
    const w = weightOf(i, z);
    const l = decode(decoder, z, batch, i, false).loss;
    samples.push(z);
    weights.push(w);
    losses.push(l);
    w.forEach((wb, b) => (loss[b] += wb * l[b]));
  }
  return { samples, weights, losses, loss };
}

/**
 * Exact marginalization: E_p[L] = Σ_z p(z) L(z) over every structure, with ∇ = Σ_z p(z) L(z) (z − μ). Needs a
 * structure that can list its structures (`enumerate`, Categorical: the K classes, the decoder called K times).
 */
export function exactMarginalization(): Estimator {
  return {
    name: 'exactMarginalization',
    step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(structure: LatentStructure<Z, G, S>, decoder: Decoder<Z>): EstimatorResult<Z, G> {
      checkStepArguments('exactMarginalization.step', structure, decoder);
      if (typeof structure.enumerate !== 'function') {
        throw typeError('ERR_INVALID_ARG_TYPE', `exact marginalization needs a structure with enumerate() (Categorical), got ${kindOf(structure)}`);
      }
      const B = structure.batch;
      const all = structure.enumerate();
      const scores = structure.partScores();
      const logZ = structure.logPartition().toHost().data;
      const mu = structure.marginals();
      const { samples, weights, losses, loss } = weightedRows(all, decoder, B, (_, z) =>
        Float64Array.from(scoreOf(z, scores, B), (score, b) => Math.exp(score - logZ[b])),
      );
      const coefs = weights.map((p, k) => Float64Array.from(p, (pb, b) => pb * losses[k][b]));
      const gradScores = structure.partsBackward(scoreFunction(samples, coefs, mu, B));
      disposeParts(all, mu);
      return { loss, gradScores, samples, weights };
    },
  };
}

/**
 * Solves the bordered system [[A, 1], [1ᵀ, 0]] [x; λ] = [r; 0] (A symmetric s×s) by Gaussian elimination with
 * partial pivoting; returns x = Z r, Z = A⁻¹ − A⁻¹11ᵀA⁻¹ / (1ᵀA⁻¹1) (Niculae et al. 2018, Prop. 1).
 */
export function solveBordered(A: Float64Array, r: Float64Array, s: number): Float64Array {
  const n = s + 1;
  const M = new Float64Array(n * (n + 1));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) M[i * (n + 1) + j] = i < s && j < s ? A[i * s + j] : i === j ? 0 : 1;
    M[i * (n + 1) + n] = i < s ? r[i] : 0;
  }
  let scaleOf = 0;
  for (let i = 0; i < s * s; i++) scaleOf = Math.max(scaleOf, Math.abs(A[i]));
  const tiny = 1e-12 * Math.max(1, scaleOf);
  const pivotOf = new Int32Array(n).fill(-1);
  for (let col = 0, top = 0; col < n && top < n; col++) {
    let best = top;
    for (let i = top + 1; i < n; i++) if (Math.abs(M[i * (n + 1) + col]) > Math.abs(M[best * (n + 1) + col])) best = i;
    if (Math.abs(M[best * (n + 1) + col]) <= tiny) continue;
    for (let j = 0; j <= n; j++) [M[top * (n + 1) + j], M[best * (n + 1) + j]] = [M[best * (n + 1) + j], M[top * (n + 1) + j]];
    for (let i = 0; i < n; i++) {
      if (i === top) continue;
      const f = M[i * (n + 1) + col] / M[top * (n + 1) + col];
      if (f === 0) continue;
      for (let j = col; j <= n; j++) M[i * (n + 1) + j] -= f * M[top * (n + 1) + j];
    }
    pivotOf[col] = top++;
  }
  const x = new Float64Array(s);
  for (let col = 0; col < s; col++) {
    const r0 = pivotOf[col];
    if (r0 >= 0) x[col] = M[r0 * (n + 1) + n] / M[r0 * (n + 1) + col];
  }
  return x;
}

/**
 * Sparse marginalization (Correia et al. 2020): the objective is E_ξ[L] = Σ_{z ∈ I} ξ_z L(z) over the support I of the
 * SparseMAP distribution ξ (sparsemax for Categorical), exact with one decoder call per support structure; its
 * gradient is M_I Z ℓ, ℓ_i = L(z_i), since ∂ξ_I/∂scores = Z M_Iᵀ on the support (Niculae et al. 2018, Prop. 1).
 */
export function sparseMarginalization(options: SparseMapOptions = {}): Estimator<{ solution: SparseSolution }> {
  options = optionsObject(options);
  return {
    name: 'sparseMarginalization',
    step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
      structure: LatentStructure<Z, G, S>,
      decoder: Decoder<Z>,
    ): EstimatorResult<Z, G> & { solution: S } {
      checkStepArguments('sparseMarginalization.step', structure, decoder);
      const B = structure.batch;
      const solution = structure.sparsemap(options);
      const support = structure.supportParts(solution);
      const { samples, weights, losses, loss } = weightedRows(support, decoder, B, (i) =>
        Float64Array.from(solution.weights, (ws) => (i < ws.length ? ws[i] : 0)),
      );
      // Per instance b with support size s: the Gram matrix A_ij = ⟨z_i, z_j⟩ (per-instance dot products, [B] each),
      // x = Z ℓ from the bordered system, and ∇ = Σ_i x_i z_i (a per-instance combination: x_i[b] = 0 past s).
      const S = samples.length;
      const gramRows = Array.from({ length: S }, (_, i) => Array.from({ length: i + 1 }, (_, j) => scoreOf(samples[i], samples[j], B)));
      const coefs = Array.from({ length: S }, () => new Float64Array(B));
      for (let b = 0; b < B; b++) {
        const s = solution.weights[b].length;
        const gram = new Float64Array(s * s);
        for (let i = 0; i < s; i++) for (let j = 0; j <= i; j++) gram[i * s + j] = gram[j * s + i] = gramRows[i][j][b];
        const x = solveBordered(gram, Float64Array.from({ length: s }, (_, i) => losses[i][b]), s);
        x.forEach((xi, i) => (coefs[i][b] = xi));
      }
      const direction = combine(solution.marginals, samples.map((parts, i) => ({ coef: coefs[i], parts })));
      const gradScores = structure.partsBackward(direction);
      disposeParts(support);
      return { loss, gradScores, samples, weights, solution };
    },
  };
}

/** Baselines of {@link reinforce}. */
export type Baseline = 'none' | 'movingAverage' | 'leaveOneOut';

/** Options of {@link reinforce}. */
export interface ReinforceOptions {
  /** Samples per step k ≥ 1 (default 1; leaveOneOut needs k ≥ 2). */
  samples?: number;
  /**
   * `'none'` (default); `'movingAverage'`: b = an exponential average of past steps' mean loss (independent of this
   * step's samples, so unbiased); `'leaveOneOut'`: b_s = the mean loss of the other k − 1 samples (Kool et al. 2019).
   */
  baseline?: Baseline;
  /** Decay of the moving average (default 0.9). */
  decay?: number;
  /** β ≥ 0 (default 0): the objective is E_p[L] − β H(p), with ∇H = −Cov(z)·scores exact. */
  entropyBonus?: number;
  /** Seed of the first step's samples (default 0); each step uses the next seed. */
  seed?: number;
}

/** What REINFORCE returns besides the common result. */
export interface ReinforceExtra {
  /** H(p) per instance, `[B]` (computed when entropyBonus > 0, else null). */
  entropy: Float64Array | null;
  /** The baseline of each sample and instance, `[k][B]`. */
  baselines: Float64Array[];
}

/**
 * REINFORCE, the score-function estimator (Williams 1992): z_1..z_k ~ p exactly, and
 * ∇ E_p[L] ≈ (1/k) Σ_s (L(z_s) − b_s) (z_s − μ), since ∇ log p(z) = z − μ; unbiased for any baseline b_s independent
 * of z_s. `loss` is the sample mean of L (minus β H).
 */
export function reinforce(options: ReinforceOptions = {}): Estimator<ReinforceExtra> {
  options = optionsObject(options);
  const k = options.samples ?? 1;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw rangeError('ERR_OUT_OF_RANGE', `samples must be an integer ≥ 1, got ${String(k)}`);
  const baseline = options.baseline ?? 'none';
  if (!['none', 'movingAverage', 'leaveOneOut'].includes(baseline)) {
    throw rangeError('ERR_OUT_OF_RANGE', `baseline must be 'none', 'movingAverage' or 'leaveOneOut', got ${String(baseline)}`);
  }
  if (baseline === 'leaveOneOut' && k < 2) throw rangeError('ERR_OUT_OF_RANGE', 'the leaveOneOut baseline needs samples ≥ 2');
  const decay = options.decay ?? 0.9;
  if (typeof decay !== 'number' || !(decay >= 0 && decay < 1)) throw rangeError('ERR_OUT_OF_RANGE', `decay must be in [0, 1), got ${String(decay)}`);
  const beta = options.entropyBonus ?? 0;
  if (typeof beta !== 'number' || !(beta >= 0) || !Number.isFinite(beta)) {
    throw rangeError('ERR_OUT_OF_RANGE', `entropyBonus must be a finite number ≥ 0, got ${String(beta)}`);
  }
  const nextSeed = seedCounter(seedOption(options.seed));
  let average: number | undefined;
  const name = baseline === 'none' ? 'reinforce' : `reinforce(${baseline})`;
  return {
    name,
    step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
      structure: LatentStructure<Z, G, S>,
      decoder: Decoder<Z>,
    ): EstimatorResult<Z, G> & ReinforceExtra {
      checkStepArguments(`${name}.step`, structure, decoder);
      const B = structure.batch;
      const stacked = structure.sample(k, { seed: nextSeed() });
      const mu = structure.marginals();
      const { samples, weights, losses, loss } = weightedRows(stacked, decoder, B, () => uniformWeights(B, 1 / k));
      const totals = Float64Array.from(losses[0], (_, b) => losses.reduce((a, l) => a + l[b], 0));
      const baselines = losses.map((l) =>
        Float64Array.from(l, (v, b) => (baseline === 'leaveOneOut' ? (totals[b] - v) / (k - 1) : baseline === 'movingAverage' ? average ?? 0 : 0)),
      );
      if (baseline === 'movingAverage') {
        const mean = totals.reduce((a, v) => a + v, 0) / (k * B);
        average = average === undefined ? mean : decay * average + (1 - decay) * mean;
      }
      const coefs = losses.map((l, s) => Float64Array.from(l, (v, b) => (v - baselines[s][b]) / k));
      let gradScores = structure.partsBackward(scoreFunction(samples, coefs, mu, B));
      let entropy: Float64Array | null = null;
      if (beta > 0) {
        entropy = Float64Array.from(structure.entropy().toHost().data);
        entropy.forEach((h, b) => (loss[b] -= beta * h));
        const covScores = structure.marginalsBackward(finitePart(structure.partScores()));
        gradScores = sum(gradScores, combine(covScores, [{ coef: beta, parts: covScores }]));
      }
      disposeParts(stacked, mu);
      return { loss, gradScores, samples, weights, entropy, baselines };
    },
  };
}

/** Options of {@link rebar}. */
export interface RebarOptions {
  /** λ > 0 (default 0.5): the temperature of the relaxation σ_λ(u) = marginals(u/λ). */
  temperature?: number;
  /** η (default 1): the weight of the control variate. */
  eta?: number;
  /** Seed of the first step's noise (default 0); each step uses the next seed. */
  seed?: number;
}

/**
 * REBAR (Tucker et al. 2017): an unbiased, low-variance estimator for structures whose samples are Gumbel-max
 * argmaxes (Categorical, via `gumbelPair`). With u = scores + G, b = argmax u, ũ ~ p(u | b) and σ_λ(v) =
 * marginals(v/λ) (the Gumbel-softmax), the estimate is
 * [L(b) − η L(σ_λ(ũ))] (b − μ) + η ∇ L(σ_λ(u)) − η ∇ L(σ_λ(ũ)) (eq. 5 there); the decoder is called on b (without
 * gradient) and on the two relaxed points (with ∂L/∂z), so it must accept relaxed inputs.
 */
export function rebar(options: RebarOptions = {}): Estimator<{ controlVariate: Float64Array }> {
  options = optionsObject(options);
  const lambda = positiveOption(options.temperature, 0.5, 'temperature');
  const eta = options.eta ?? 1;
  if (typeof eta !== 'number' || !Number.isFinite(eta)) throw rangeError('ERR_OUT_OF_RANGE', `eta must be a finite number, got ${String(eta)}`);
  const nextSeed = seedCounter(seedOption(options.seed));
  return {
    name: `rebar(λ=${lambda}, η=${eta})`,
    step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
      structure: LatentStructure<Z, G, S>,
      decoder: Decoder<Z>,
    ): EstimatorResult<Z, G> & { controlVariate: Float64Array } {
      checkStepArguments('rebar.step', structure, decoder);
      if (typeof structure.gumbelPair !== 'function') {
        throw typeError('ERR_INVALID_ARG_TYPE', `REBAR needs a structure with gumbelPair() (Categorical), got ${kindOf(structure)}`);
      }
      const B = structure.batch;
      const pair = structure.gumbelPair({ seed: nextSeed() });
      const perturbed = structure.withScores(pair.perturbed);
      const relaxed = structure.withScores(combine(pair.perturbed, [{ coef: 1 / lambda, parts: pair.perturbed }]));
      const conditional = structure.withScores(combine(pair.conditional, [{ coef: 1 / lambda, parts: pair.conditional }]));
      try {
        const b = perturbed.argmax();
        const mu = structure.marginals();
        const soft = relaxed.marginals();
        const softConditional = conditional.marginals();
        const hard = decode(decoder, b, B, 0, false).loss;
        const free = decode(decoder, soft, B, 1, true);
        const tied = decode(decoder, softConditional, B, 2, true);
        const coef = Float64Array.from(hard, (v, i) => v - eta * tied.loss[i]);
        const scoreTerm = structure.partsBackward(scoreFunction([b], [coef], mu, B));
        // ∇ L(σ_λ(u)) = (1/λ)·(∂σ/∂(u/λ))ᵀ ∂L/∂z through u = scores + G; the conditional one goes through ũ's VJP.
        const freeTerm = structure.partsBackward(relaxed.marginalsBackward(free.gradZ as Z) as unknown as Z);
        const tiedTerm = pair.conditionalBackward(conditional.marginalsBackward(tied.gradZ as Z) as unknown as Z);
        const gradScores = combine(scoreTerm, [
          { coef: 1, parts: scoreTerm },
          { coef: eta / lambda, parts: freeTerm },
          { coef: -eta / lambda, parts: tiedTerm },
        ]);
        disposeParts(mu);
        return {
          loss: hard,
          gradScores,
          samples: [b, soft, softConditional],
          weights: [uniformWeights(B, 1), uniformWeights(B, 0), uniformWeights(B, 0)],
          controlVariate: tied.loss,
        };
      } finally {
        for (const s of [perturbed, relaxed, conditional]) s.dispose?.();
      }
    },
  };
}
