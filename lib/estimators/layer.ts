/** Estimators that are a forward value and a backward map (relaxations and surrogates), and their step. @internal */
import { checkStepArguments, decode, uniformWeights } from './decoding';
import type { Decoder, EstimatorResult, LatentStructure, LayerEstimator, LayerForward, Parts, SparseSolution } from './types';

/** The forward of a layer estimator on any structure. */
export type LayerForwardFn = <Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
  structure: LatentStructure<Z, G, S>,
) => LayerForward<Z, G>;

/**
 * A layer estimator from its forward: `step` evaluates the decoder at z and returns backward(∂L/∂z) (one call,
 * weight 1).
 */
export function layerEstimator(name: string, forward: LayerForwardFn): LayerEstimator {
  return {
    name,
    forward<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(structure: LatentStructure<Z, G, S>): LayerForward<Z, G> {
      checkStepArguments(`${name}.forward`, structure, undefined, false);
      return forward(structure);
    },
    step<Z extends Parts, G extends Parts, S extends SparseSolution<Z>>(
      structure: LatentStructure<Z, G, S>,
      decoder: Decoder<Z>,
    ): EstimatorResult<Z, G> {
      checkStepArguments(`${name}.step`, structure, decoder);
      const layer = forward(structure);
      const { loss, gradZ } = decode(decoder, layer.z, structure.batch, 0, true);
      return { loss, gradScores: layer.backward(gradZ as Z), samples: [layer.z], weights: [uniformWeights(structure.batch, 1)] };
    },
  };
}

/** A seed source: `base`, then base + 1, … for each forward pass. */
export function seedCounter(base: number): () => number {
  let next = base;
  return () => next++;
}
