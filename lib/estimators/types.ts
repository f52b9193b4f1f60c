/**
 * The contract between structures and estimators. An estimator sees a structure only through
 * {@link LatentStructure}: the building blocks (docs/CONVENTIONS.md) over the structure's parts. Categorical,
 * LinearChainCRF, HMM, SemiMarkovCRF, AlignmentCRF, TreeCRF, DependencyCRF and NonProjectiveDependencyCRF all
 * implement it, so every estimator runs on every structure (an estimator that needs a block a structure lacks, e.g. SparseMAP of a factored chain,
 * raises the structure's TypeError).
 */
import type { AnyTensor } from '../tensor';
import type { PerturbOptions, SparseMapOptions } from '../structures/common';

/**
 * Tensors over a structure's parts, batch first: one tensor (`[B, ...]`, the scores' layout), or named tensors
 * (the factored LinearChainCRF: `{ unary [B, N, C], transition [B, C, C] }`). Stacked parts carry a leading `[S]`.
 */
export type Parts = AnyTensor | { readonly [name: string]: AnyTensor };

/** What estimators read from a SparseMAP solution: μ* and, per instance, the weights of its support. */
export interface SparseSolution<Z extends Parts = Parts> {
  /** μ* = Σᵢ weights[b][i] · z_i, over the parts. */
  marginals: Z;
  /** weights[b][i] > 0 of the i-th support structure of instance b (they sum to 1). */
  weights: Float64Array[];
}

/**
 * The building blocks of a structure, as an estimator uses them. Z: tensors over the parts; G: gradients with
 * respect to the potentials (Z itself unless the potentials are factored, as for a shared chain transition).
 */
export interface LatentStructure<Z extends Parts = Parts, G extends Parts = Parts, S extends SparseSolution<Z> = SparseSolution<Z>> {
  /** Batch size B. */
  readonly batch: number;
  /** log Z per instance, `[B]`. */
  logPartition(): AnyTensor;
  /** μ = E_p[z] = ∇ log Z. */
  marginals(): Z;
  /** (∂μ/∂potentials)ᵀ grad = Cov(z)·grad for grad over the parts. */
  marginalsBackward(grad: Z): G;
  /** The MAP structure, one-hot over the parts. */
  argmax(): Z;
  /** k exact samples z ~ p, stacked `[k, ...]`. */
  sample(k: number, options: { seed: number | bigint }): Z;
  /** argmax of potentials + τ·G, G Gumbel noise of `seed` (τ = `temperature`). */
  perturbAndMap(options: PerturbOptions): Z;
  /** marginals of (potentials + G)/τ, with perturbAndMap's noise G for the same seed. */
  perturbedMarginals(options: PerturbOptions): Z;
  /** VJP of perturbedMarginals. */
  perturbedMarginalsBackward(grad: Z, options: PerturbOptions): G;
  /** Entropy H(p) per instance, `[B]`. */
  entropy(): AnyTensor;
  /** The score of every part (z ↦ ⟨z, partScores⟩ is the structure's score; −Infinity marks a forbidden part). */
  partScores(): Z;
  /** The gradient w.r.t. the potentials of ⟨grad, partScores()⟩: the chain rule from parts to potentials. */
  partsBackward(grad: Z): G;
  /** SparseMAP: argmax over the marginal polytope of ⟨partScores, μ⟩ − ½‖μ‖², with its sparse support. */
  sparsemap(options?: SparseMapOptions): S;
  /** VJP of SparseMAP, M_I Z M_Iᵀ grad on the support of `solution` (Niculae et al. 2018, Prop. 1). */
  sparsemapBackward(grad: Z, solution?: S): G;
  /**
   * The support of a SparseMAP solution as parts, stacked `[K, ...]` with K the largest support: row i of
   * instance b is its i-th support structure (aligned with `solution.weights[b]`), or its first one past its
   * support size.
   */
  supportParts(solution: S): Z;
  /** The same kind of structure (lengths, root rule, device) over other scores, given in the parts' layout. */
  withScores(scores: Z): LatentStructure<Z, Parts, S>;
  /** Frees device copies the structure made (a no-op for host structures). */
  dispose?(): void;
  /** Optional: α = 1.5 entmax of the scores (Categorical). */
  entmax15?(): Z;
  /** Optional: VJP of entmax15. */
  entmax15Backward?(grad: Z): G;
  /** Optional: every structure, stacked `[K, ...]`, when there are few (Categorical: the K classes). */
  enumerate?(): Z;
  /** Optional: a Gumbel-max sample with its conditional noise (Categorical; see {@link GumbelPair}). */
  gumbelPair?(options: { seed: number | bigint }): GumbelPair<Z, G>;
}

/**
 * For structures where argmax(potentials + G) is an exact sample (Categorical): the perturbed scores
 * u = potentials + G, a second draw ũ ~ p(u | argmax u) from the same sample's conditional, and the
 * reparametrization VJP of ũ (Tucker et al. 2017, REBAR, App. C).
 */
export interface GumbelPair<Z extends Parts, G extends Parts> {
  /** u = potentials + G (∂u/∂potentials = I). */
  perturbed: Z;
  /** ũ ~ p(u | argmax u = argmax of `perturbed`), reparametrized by fresh uniforms. */
  conditional: Z;
  /** (∂ũ/∂potentials)ᵀ grad at fixed uniforms and fixed argmax. */
  conditionalBackward(grad: Z): G;
}

/** The decoder's verdict on a batch of structures (or relaxed points) z. */
export interface DecoderOutput<Z extends Parts> {
  /** L(z) per instance, `[B]`. */
  loss: ArrayLike<number>;
  /** ∂L/∂z, laid out like z; needed by the relaxation and surrogate estimators and REBAR. */
  gradZ?: Z;
}

/**
 * The user's downstream model: called with a batch of structures (or relaxed points) z `[B, ...]`, it returns the
 * per-instance loss and, when the estimator needs it, its gradient. `sample` numbers the calls within one step.
 */
export type Decoder<Z extends Parts> = (z: Z, context: { sample: number }) => DecoderOutput<Z>;

/** What every estimator's step returns. */
export interface EstimatorResult<Z extends Parts, G extends Parts> {
  /** The estimate of the objective per instance, `[B]` (e.g. E_p[L(z)]); what gradScores differentiates. */
  loss: Float64Array;
  /** The estimated ∂(Σ_b loss_b)/∂potentials, the potentials' shape. */
  gradScores: G;
  /** The structures or relaxed points the decoder was called on, in call order, each `[B, ...]`. */
  samples: Z[];
  /**
   * weights[s][b]: the weight of samples[s] in instance b's objective, so that the decoder's own parameters
   * get Σ_s weights[s][b] ∇L_b(samples[s]).
   */
  weights: Float64Array[];
}

/** An estimator of ∇ E[L(z)] (or of a relaxation or surrogate of it); stateful ones (baselines, seeds) advance per step. */
export interface Estimator<Extra = object> {
  /** Its name, e.g. 'spigot' or 'reinforce(leaveOneOut)'. */
  readonly name: string;
  /** One estimate on the structure for the decoder. */
  step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
    structure: LatentStructure<Z, G, S>,
    decoder: Decoder<Z>,
  ): EstimatorResult<Z, G> & Extra;
}

/** A latent layer's forward pass: z, and the backward that maps ∂L/∂z to ∂L/∂potentials. */
export interface LayerForward<Z extends Parts, G extends Parts> {
  /** The forward value (a relaxed point or a discrete structure), over the parts. */
  z: Z;
  /** The estimator's ∂L/∂potentials given ∂L/∂z (callable once or many times). */
  backward(gradZ: Z): G;
}

/**
 * The estimators whose gradient depends on the decoder only through ∂L/∂z (relaxations and surrogates): usable
 * as a layer inside another framework's autodiff (see `adapters/tfjs`).
 */
export interface LayerEstimator extends Estimator {
  /** The forward value and its backward, without calling a decoder. */
  forward<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(structure: LatentStructure<Z, G, S>): LayerForward<Z, G>;
}
