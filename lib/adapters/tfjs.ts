/**
 * TensorFlow.js adapter: a latent layer estimator (a relaxation or surrogate gradient: `estimators.marginals()`,
 * `sparsemap()`, `entmax15()`, `perturbedMarginals()`, `straightThrough()`, `perturbAndMap()`, `spigot()`) as a
 * differentiable tfjs op built on `tf.customGrad`. The forward is the estimator's z over the structure's parts, the
 * gradient maps ∂L/∂z through the estimator's backward to ∂L/∂scores.
 *
 * You pass your own tfjs namespace (`@tensorflow/tfjs-core`, or `@tensorflow/tfjs` that re-exports it), so this
 * module has no runtime dependency on tfjs and never loads a second copy of it:
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { DependencyCRF, estimators } from 'latent-struct';
 * import { latentLayer } from 'latent-struct/adapters/tfjs';
 *
 * const parse = latentLayer(tf, estimators.marginals(), (arcs) => new DependencyCRF(arcs));
 * const z = parse(arcScores);   // tf.Tensor [B, N, N] of arc marginals, differentiable w.r.t. arcScores
 * ```
 *
 * Scope and costs:
 * - Structures whose parts are one tensor laid out like their scores (Categorical, TreeCRF, DependencyCRF,
 *   NonProjectiveDependencyCRF, LinearChainCRF over edge potentials). Parts made of several tensors (the factored
 *   LinearChainCRF `{ unary, transition }`) are not supported: the layer raises TypeError `ERR_INVALID_ARG_TYPE`.
 * - Forward and backward read the tf tensors synchronously (`dataSync`): on the tfjs CPU backend this is a copy; on
 *   GPU backends (webgl, webgpu) it is a device read-back per call.
 * - Scores are copied into a float32 latent-struct {@link Tensor}; `makeStructure` may change that (e.g.
 *   `new TreeCRF(s.toDevice())` to run the structure on CUDA, or a float64 copy); z and the gradient come back to
 *   tfjs as float32 tensors in either case.
 * - Stateful estimators (perturbed ones advance their seed per forward) advance once per layer call.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { typeError } from '../errors';
import type { LatentStructure, LayerEstimator } from '../estimators/types';
import { AnyTensor, DeviceTensor, Tensor } from '../tensor';

/**
 * The part of the tfjs namespace the adapter uses: pass `import * as tf from '@tensorflow/tfjs-core'` (or
 * `@tensorflow/tfjs`) itself.
 */
export type TfNamespace = Pick<typeof tfc, 'customGrad' | 'tensor' | 'Tensor'>;

/**
 * Makes the structure a layer call works on from the scores, a float32 host {@link Tensor} with the tf tensor's shape
 * (e.g. `[B, K]` for Categorical, `[B, N, N]` for TreeCRF and the dependency CRFs, `[B, N-1, C, C]` for the chain's
 * edges). Its parts must be one tensor.
 */
export type StructureFactory = (scores: Tensor) => LatentStructure<AnyTensor, AnyTensor>;

/** {@link StructureFactory} with per-call options `O` (e.g. `{ lengths: Int32Array }` of each batch). */
export type StructureFactoryWith<O> = (scores: Tensor, options: O) => LatentStructure<AnyTensor, AnyTensor>;

/**
 * A latent layer: scores (a float32 tf tensor, the structure's scores layout, batch first) → z (a float32 tf tensor of
 * the same shape), differentiable through the estimator's backward.
 */
export type LatentLayer = (scores: tfc.Tensor) => tfc.Tensor;

/** A {@link LatentLayer} that takes per-call options for its structure (e.g. the batch's lengths). */
export type LatentLayerWith<O> = (scores: tfc.Tensor, options: O) => tfc.Tensor;

/**
 * Wraps a layer estimator over a structure as a tfjs op with a custom gradient.
 *
 * @param tf your tfjs namespace (`import * as tf from '@tensorflow/tfjs-core'`)
 * @param estimator a {@link LayerEstimator}: one with `forward` (relaxations and surrogates; not reinforce, rebar, or
 *   exact/sparse marginalization, which need the decoder's loss)
 * @param makeStructure builds the structure from the scores copied to a float32 `Tensor` (same shape as the input)
 * @returns `(scores: tf.Tensor) => tf.Tensor`: z `[B, ...]` in the scores' shape; its gradient is
 *   `estimator.forward(structure).backward(dy)`
 * @throws TypeError `ERR_INVALID_ARG_TYPE` for a bad argument here; at call time, TypeError `ERR_INVALID_ARG_TYPE`
 *   when scores is not a tf tensor or the structure's parts are not one tensor, `ERR_DTYPE_MISMATCH` when scores is
 *   not float32, and the structure's own errors (shapes, lengths, NaN)
 */
export function latentLayer(tf: TfNamespace, estimator: LayerEstimator, makeStructure: StructureFactory): LatentLayer {
  const layer = latentLayerWith<undefined>(tf, estimator, makeStructure);
  return (scores) => layer(scores, undefined);
}

/**
 * {@link latentLayer} for structures that need per-call options, such as the lengths of each batch:
 *
 * ```ts
 * const parse = latentLayerWith(tf, estimators.sparsemap(), (arcs, o: { lengths: Int32Array }) => new DependencyCRF(arcs, o));
 * const z = parse(arcScores, { lengths });   // [B, N, N]
 * ```
 *
 * @param tf your tfjs namespace
 * @param estimator a {@link LayerEstimator}
 * @param makeStructure builds the structure from the float32 scores `Tensor` and the call's options
 * @returns `(scores: tf.Tensor, options: O) => tf.Tensor`, z in the scores' shape
 * @throws as {@link latentLayer}
 */
export function latentLayerWith<O>(tf: TfNamespace, estimator: LayerEstimator, makeStructure: StructureFactoryWith<O>): LatentLayerWith<O> {
  if (tf === null || typeof tf !== 'object' || typeof tf.customGrad !== 'function' || typeof tf.tensor !== 'function' || typeof tf.Tensor !== 'function') {
    throw typeError('ERR_INVALID_ARG_TYPE', 'tf must be the tfjs namespace (import * as tf from "@tensorflow/tfjs-core")');
  }
  if (estimator === null || typeof estimator !== 'object' || typeof estimator.forward !== 'function') {
    const name = (estimator as { name?: unknown } | null)?.name;
    throw typeError(
      'ERR_INVALID_ARG_TYPE',
      `estimator must be a layer estimator with forward() (marginals, sparsemap, entmax15, perturbedMarginals, straightThrough, perturbAndMap, spigot)${typeof name === 'string' ? `, got ${name}` : ''}`,
    );
  }
  if (typeof makeStructure !== 'function') throw typeError('ERR_INVALID_ARG_TYPE', 'makeStructure must be a function (scores: Tensor) => structure');

  const toTf = (t: AnyTensor, what: string): tfc.Tensor => {
    const host = singleTensor(t, what).toHost();
    return tf.tensor(host.data, [...host.shape], 'float32');
  };

  return (scores, options) => {
    if (!(scores instanceof tf.Tensor)) throw typeError('ERR_INVALID_ARG_TYPE', 'scores must be a tf.Tensor of the tf namespace given to the layer');
    if (scores.dtype !== 'float32') throw typeError('ERR_DTYPE_MISMATCH', `scores must be a float32 tf.Tensor, got ${scores.dtype}`);
    const op = tf.customGrad((...args: Array<tfc.Tensor | tfc.GradSaveFunc>) => {
      const input = args[0] as tfc.Tensor;
      const structure = makeStructure(new Tensor(Float32Array.from(input.dataSync()), input.shape), options);
      const forward = estimator.forward(structure);
      const z = singleTensor(forward.z, 'z');
      return {
        value: toTf(z, 'z'),
        gradFunc: (dy: tfc.Tensor) => {
          const data = dy.dataSync();
          const like = z.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
          const gradZ = new Tensor(like, z.shape);
          return toTf(forward.backward(z instanceof DeviceTensor ? gradZ.toDevice(z.deviceIndex) : gradZ), 'the gradient');
        },
      };
    });
    return op(scores);
  };
}

/** The parts as one tensor, or TypeError ERR_INVALID_ARG_TYPE (the factored chain's named parts, anything else). */
function singleTensor(parts: unknown, what: string): AnyTensor {
  if (parts instanceof Tensor || parts instanceof DeviceTensor) return parts;
  const named = parts !== null && typeof parts === 'object' && !ArrayBuffer.isView(parts);
  throw typeError(
    'ERR_INVALID_ARG_TYPE',
    `latentLayer supports structures whose parts are one tensor; ${what} is ${named ? `an object of parts {${Object.keys(parts).join(', ')}}` : typeof parts}` +
      ' (for a LinearChainCRF, pass edge potentials [B, N-1, C, C] rather than { unary, transition })',
  );
}
