/**
 * latent-struct: discrete latent structure for Node.js — the building blocks of structured prediction
 * (marginals, MAP, sampling, SparseMAP) on CUDA and CPU, and the estimators built from them.
 * See docs/CONVENTIONS.md for the conventions (batch-first, torch-struct's part layouts).
 */
import { BackendInfo, CudaTransfers, native } from './native';

export { Tensor, DeviceTensor, tensor, shapeSize, setDefaultDevice, defaultDevice } from './tensor';
export type { AnyTensor, DType, Device, Like } from './tensor';
export type { FloatArray, BackendInfo, CudaInfo, CudaDeviceInfo, CudaTransfers } from './native';
export type { CodedError, ErrorCode } from './errors';
export type { OpOptions } from './ops/placement';
export * as ops from './ops/categorical';
export {
  argmax,
  argmaxAsync,
  entmax15,
  entmax15Async,
  entmax15Backward,
  entmaxBisect,
  entmaxBisectAsync,
  entmaxBisectBackward,
  entropy,
  entropyAsync,
  gumbelMax,
  gumbelMaxAsync,
  gumbelNoise,
  gumbelSoftmax,
  gumbelSoftmaxAsync,
  gumbelSoftmaxBackward,
  logProb,
  logsumexp,
  logsumexpAsync,
  logsumexpBackward,
  logsumexpBackwardAsync,
  softmax,
  softmaxAsync,
  softmaxBackward,
  softmaxBackwardAsync,
  sparsemax,
  sparsemaxAsync,
  sparsemaxBackward,
} from './ops/categorical';
export type { IndexResult, GumbelOptions, GumbelMaxOptions, GumbelSoftmaxOptions } from './ops/categorical';
export { Categorical } from './structures/categorical';
export type { CategoricalOptions, SampleOptions, PerturbOptions, SparseMapResult } from './structures/categorical';
export { LinearChainCRF } from './structures/linear_chain';
export type {
  ChainArgmax,
  ChainDecoded,
  ChainParts,
  ChainTopk,
  ChainPotentials,
  FactoredParts,
  FactoredPotentials,
  LinearChainOptions,
  TensorOf,
} from './structures/linear_chain';
export { HMM } from './structures/hmm';
export type { HMMObservations, HMMOptions, HMMParams, HMMParts, HMMSparseMap } from './structures/hmm';
export { TreeCRF } from './structures/tree';
export { SentCFG } from './structures/sent_cfg';
export type { SentCFGScores, SentCFGSizes, SentCFGDecoded, SentCFGArgmax } from './structures/sent_cfg';
export type { TreeArgmax, TreeDecoded } from './structures/tree';
export { DependencyCRF } from './structures/dependency';
export type { DependencyArgmax, DependencyDecoded, DependencyOptions } from './structures/dependency';
export { NonProjectiveDependencyCRF } from './structures/nonprojective';
export { SemiMarkovCRF } from './structures/semi_markov';
export type { SemiMarkovArgmax, SemiMarkovDecoded, SemiMarkovOptions } from './structures/semi_markov';
export { AlignmentCRF } from './structures/alignment';
export type { AlignmentArgmax, AlignmentDecoded, AlignmentOptions } from './structures/alignment';
export type { SparseMapOptions, TreeOptions, TreeSampleOptions, TreeSparseMap } from './structures/tree_structure';
export type { OutOptions, StructuredSparseMap } from './structures/common';
export type { DivergenceGrad, Divergences } from './structures/divergence';
export * as estimators from './estimators';

/**
 * Which backends this process can use: the CPU always; CUDA when the addon was built with it and a device
 * and driver are present (otherwise `cuda.reason` says why). Never throws.
 */
export function backendInfo(): BackendInfo {
  return native.backendInfo();
}

/**
 * The host ↔ device copies this process's library calls have made since start-up or the last
 * {@link resetCudaTransfers}: `{ toDevice: { count, bytes }, toHost: { count, bytes } }` (zeros without CUDA). Every
 * copy the library makes is counted; use it to check that a training step stays on the GPU.
 */
export function cudaTransfers(): CudaTransfers {
  return native.cudaTransfers();
}

/** Zeros the counts of {@link cudaTransfers}. */
export function resetCudaTransfers(): void {
  native.resetCudaTransfers();
}

/**
 * Sets how many threads the CPU backend uses per op (the calling thread included): an integer in [1, 1024]. The
 * default is LATENT_STRUCT_THREADS when set, else the machine's cores; `backendInfo().cpu.threads` tells the current
 * value. Set 1 to leave the other cores to your own workers (each worker_thread's ops then run on its own thread).
 * Results do not depend on it: work is split by batch item. Applies to the whole process.
 * @throws TypeError ERR_INVALID_ARG_TYPE when `threads` is not a number; RangeError ERR_OUT_OF_RANGE when it is not
 *   an integer in [1, 1024].
 */
export function setThreads(threads: number): void {
  native.setThreads(threads);
}

/**
 * Waits until all queued GPU work has finished, raising the first asynchronous CUDA error if any (ops on
 * DeviceTensors return before their kernels finish). A no-op without CUDA.
 */
export function synchronize(): void {
  native.synchronize();
}
