/**
 * The estimators of the field, generic over every structure (docs/CONVENTIONS.md): each takes a structure and a decoder
 * `(z) => { loss, gradZ? }` and returns `{ loss, gradScores, samples, weights }`.
 *
 * - continuous relaxation: {@link marginals} (softmax, structured attention), {@link sparsemap} (sparsemax),
 *   {@link entmax15}, {@link perturbedMarginals} (Gumbel-softmax, perturb-and-parse);
 * - surrogate gradients: {@link straightThrough}, {@link perturbAndMap} (ST-Gumbel), {@link spigot};
 * - probabilistic estimation: {@link exactMarginalization}, {@link sparseMarginalization}, {@link reinforce}
 *   (baselines none / moving average / leave-one-out, entropy bonus), {@link rebar}.
 */
export { marginals, softmax, sparsemap, sparsemax, entmax15, perturbedMarginals, gumbelSoftmax } from './relaxation';
export type { PerturbedRelaxationOptions } from './relaxation';
export { straightThrough, perturbAndMap, stGumbel, spigot } from './surrogate';
export type { SurrogateBackward, PerturbAndMapOptions, SpigotOptions } from './surrogate';
export { exactMarginalization, sparseMarginalization, reinforce, rebar } from './probabilistic';
export type { Baseline, ReinforceOptions, ReinforceExtra, RebarOptions } from './probabilistic';
export type {
  Decoder,
  DecoderOutput,
  Estimator,
  EstimatorResult,
  GumbelPair,
  LatentStructure,
  LayerEstimator,
  LayerForward,
  Parts,
  SparseSolution,
} from './types';
