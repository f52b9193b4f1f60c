/**
 * Continuous relaxations: z is a point of the marginal polytope (or of the simplex), a smooth or piecewise-smooth
 * function of the scores, and ∂L/∂scores = (∂z/∂scores)ᵀ ∂L/∂z is exact — the building block's backward.
 */
import { optionsObject, typeError } from '../errors';
import type { SparseMapOptions } from '../structures/common';
import { positiveOption, seedOption } from './decoding';
import { layerEstimator, seedCounter } from './layer';
import type { LatentStructure, LayerEstimator, Parts, SparseSolution } from './types';

/**
 * Structured attention (Kim et al. 2017): z = μ = E_p[z], the marginals (softmax for Categorical), and
 * ∂L/∂scores = Cov(z)·∂L/∂z (the exact Hessian-vector product of log Z).
 */
export function marginals(): LayerEstimator {
  return layerEstimator('marginals', (structure) => ({
    z: structure.marginals(),
    backward: (gradZ) => structure.marginalsBackward(gradZ),
  }));
}

/** {@link marginals} under its Categorical name: z = softmax(scores). */
export const softmax = marginals;

/**
 * SparseMAP (Niculae et al. 2018): z = argmax_{μ ∈ M} ⟨scores, μ⟩ − ½‖μ‖², a sparse mixture of structures (sparsemax
 * for Categorical); ∂L/∂scores = M_I Z M_Iᵀ ∂L/∂z on its support (Prop. 1).
 */
export function sparsemap(options: SparseMapOptions = {}): LayerEstimator {
  options = optionsObject(options);
  return layerEstimator('sparsemap', (structure) => {
    const solution = structure.sparsemap(options);
    return { z: solution.marginals, backward: (gradZ) => structure.sparsemapBackward(gradZ, solution) };
  });
}

/** {@link sparsemap} under its Categorical name: z = sparsemax(scores) (Martins & Astudillo 2016). */
export const sparsemax = sparsemap;

/**
 * 1.5-entmax (Peters et al. 2019): z = argmax_{p ∈ Δ} ⟨scores, p⟩ + H^T_{1.5}(p), sparse and smooth between softmax and
 * sparsemax. Structures providing `entmax15` only (Categorical); a TypeError otherwise.
 */
export function entmax15(): LayerEstimator {
  return layerEstimator('entmax15', (structure) => {
    const { entmax15: forward, entmax15Backward: backward } = structure;
    if (typeof forward !== 'function' || typeof backward !== 'function') {
      throw typeError('ERR_INVALID_ARG_TYPE', `entmax15 needs a structure with entmax15() (Categorical), got ${kindOf(structure)}`);
    }
    return { z: forward.call(structure), backward: (gradZ) => backward.call(structure, gradZ) };
  });
}

/** Options of the perturbed relaxations. */
export interface PerturbedRelaxationOptions {
  /** τ > 0 (default 1): z = marginals((scores + G)/τ). */
  temperature?: number;
  /** Seed of the first step's noise (default 0); each step uses the next seed. */
  seed?: number;
}

/**
 * Perturbed marginals: z = marginals((scores + G)/τ) with fresh Gumbel noise G per step — the Gumbel-softmax
 * (Jang et al. 2017; Maddison et al. 2017) for Categorical, the perturb-and-parse relaxation (Corro & Titov 2019)
 * for structures; ∂L/∂scores is its exact VJP at the same noise.
 */
export function perturbedMarginals(options: PerturbedRelaxationOptions = {}): LayerEstimator {
  options = optionsObject(options);
  const temperature = positiveOption(options.temperature, 1, 'temperature');
  const nextSeed = seedCounter(seedOption(options.seed));
  return layerEstimator(`perturbedMarginals(τ=${temperature})`, (structure) => {
    const noise = { seed: nextSeed(), temperature };
    return {
      z: structure.perturbedMarginals(noise),
      backward: (gradZ) => structure.perturbedMarginalsBackward(gradZ, noise),
    };
  });
}

/** {@link perturbedMarginals} under its Categorical name. */
export const gumbelSoftmax = perturbedMarginals;

/** The class name of a structure, for messages. */
export function kindOf<Z extends Parts, S extends SparseSolution<Z>>(structure: LatentStructure<Z, Parts, S>): string {
  return (structure as object)?.constructor?.name ?? typeof structure;
}
