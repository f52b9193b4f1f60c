/**
 * Surrogate gradients: the forward value is a discrete structure, and the backward pretends it was a smooth
 * function of the scores. These estimators are biased by design; each is exactly its defining formula.
 */
import { optionsObject, rangeError } from '../errors';
import type { SparseMapOptions } from '../structures/common';
import { positiveOption, seedOption } from './decoding';
import { layerEstimator, seedCounter } from './layer';
import { masked, subtract, combine } from './parts';
import type { LayerEstimator } from './types';

/** What the backward of a straight-through estimator differentiates. */
export type SurrogateBackward = 'identity' | 'marginals';

function backwardOption(value: unknown): SurrogateBackward {
  const v = value ?? 'identity';
  if (v !== 'identity' && v !== 'marginals') throw rangeError('ERR_OUT_OF_RANGE', `backward must be 'identity' or 'marginals', got ${String(v)}`);
  return v;
}

/**
 * Straight-through (Bengio et al. 2013): z = argmax (the MAP structure); ∂L/∂scores = ∂L/∂z (`'identity'`, the
 * default) or Cov(z)·∂L/∂z, the backward of the marginals (`'marginals'`: the straight-through softmax).
 */
export function straightThrough(options: { backward?: SurrogateBackward } = {}): LayerEstimator {
  options = optionsObject(options);
  const backward = backwardOption(options.backward);
  return layerEstimator(`straightThrough(${backward})`, (structure) => ({
    z: structure.argmax(),
    backward: (gradZ) => (backward === 'identity' ? structure.partsBackward(gradZ) : structure.marginalsBackward(gradZ)),
  }));
}

/** Options of {@link perturbAndMap}. */
export interface PerturbAndMapOptions {
  /** `'identity'` (default): ∂L/∂scores = ∂L/∂z; `'marginals'`: the VJP of the perturbed marginals at τ. */
  backward?: SurrogateBackward;
  /** τ > 0 (default 1) of the backward's relaxation marginals((scores + G)/τ). */
  temperature?: number;
  /** Seed of the first step's noise (default 0); each step uses the next seed. */
  seed?: number;
}

/**
 * Straight-through Gumbel (Jang et al. 2017) and structured perturb-and-MAP (Papandreou & Yuille 2011): z = argmax
 * of scores + G (an exact sample for Categorical), with G fresh Gumbel noise per step; ∂L/∂scores = ∂L/∂z
 * (`'identity'`) or the VJP of marginals((scores + G)/τ) at the same noise (`'marginals'`, the ST-Gumbel-softmax).
 */
export function perturbAndMap(options: PerturbAndMapOptions = {}): LayerEstimator {
  options = optionsObject(options);
  const backward = backwardOption(options.backward);
  const temperature = positiveOption(options.temperature, 1, 'temperature');
  const nextSeed = seedCounter(seedOption(options.seed));
  return layerEstimator(`perturbAndMap(${backward}, τ=${temperature})`, (structure) => {
    const seed = nextSeed();
    return {
      z: structure.perturbAndMap({ seed, temperature: 1 }),
      backward: (gradZ) =>
        backward === 'identity' ? structure.partsBackward(gradZ) : structure.perturbedMarginalsBackward(gradZ, { seed, temperature }),
    };
  });
}

/** {@link perturbAndMap} under its Categorical name, ST-Gumbel. */
export const stGumbel = perturbAndMap;

/** Options of {@link spigot}. */
export interface SpigotOptions {
  /** The step η > 0 (default 1) of the projected update z − η ∂L/∂z. */
  step?: number;
  /** Settings of the SparseMAP projection. */
  sparsemap?: SparseMapOptions;
}

/**
 * SPIGOT (Peng et al. 2018): z = argmax; μ̃ = Π_M(z − η ∂L/∂z), the Euclidean projection onto the marginal polytope
 * (SparseMAP of that point, with the structure's forbidden parts kept forbidden), and ∂L/∂scores = z − μ̃.
 */
export function spigot(options: SpigotOptions = {}): LayerEstimator {
  options = optionsObject(options);
  const projection = optionsObject(options.sparsemap, 'sparsemap');
  const step = positiveOption(options.step, 1, 'step');
  return layerEstimator(`spigot(η=${step})`, (structure) => {
    const z = structure.argmax();
    return {
      z,
      backward: (gradZ) => {
        const target = masked(combine(z, [{ coef: 1, parts: z }, { coef: -step, parts: gradZ }]), structure.partScores());
        const projector = structure.withScores(target);
        try {
          return structure.partsBackward(subtract(z, projector.sparsemap(projection).marginals));
        } finally {
          projector.dispose?.();
        }
      },
    };
  });
}
