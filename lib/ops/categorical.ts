/**
 * The categorical building blocks as functions over a batch of score rows `[B, K]`: normalizers
 * (softmax, sparsemax, 1.5-entmax, alpha-entmax) with their vector-Jacobian products, log-sum-exp,
 * argmax, Gumbel noise, Gumbel-max sampling and Gumbel-softmax. Each runs where its inputs live (see
 * `OpOptions.device`) and has an `...Async` form that runs off the main thread.
 *
 * Scores may contain `-Infinity` (masked classes get probability 0) but not NaN or `+Infinity`, and each
 * row needs one finite score. Gradients must be finite.
 */
import { rangeError, typeError } from '../errors';
import { NativeFloat, NativeIndexResult, NativeTensorArg, native } from '../native';
import {
  AnyTensor,
  DType,
  Device,
  DeviceTensor,
  Like,
  Tensor,
  checkDevice,
  cudaIndex,
  fromNative,
  requireTensor,
  shapeSize,
  toNative,
} from '../tensor';
import { OpOptions, placed, placedAsync } from './placement';

/** Indices and their one-hot encoding. */
export interface IndexResult<X extends AnyTensor = AnyTensor> {
  /** Chosen class per row, row-major over the leading dims of `onehot` (on the host). */
  index: Int32Array;
  /** One-hot rows, where the scores live: `[B, K]` (argmax) or `[S, B, K]` (samples). */
  onehot: Like<X>;
}

type Seed = number | bigint;


/** A float op: checks and places inputs, calls native, wraps the result with `shape(inputs)`. */
function floatOp<X extends AnyTensor>(
  inputs: unknown[],
  names: string[],
  options: OpOptions | undefined,
  shape: (first: AnyTensor) => number[],
  call: (args: NativeTensorArg[]) => NativeFloat,
): Like<X> {
  const tensors = inputs.map((t, i) => requireTensor(t, names[i]));
  return placed(tensors, names, options?.device, (moved) =>
    fromNative(call(moved.map(toNative)), shape(moved[0])),
  ) as Like<X>;
}

async function floatOpAsync<X extends AnyTensor>(
  inputs: unknown[],
  names: string[],
  options: OpOptions | undefined,
  shape: (first: AnyTensor) => number[],
  call: (args: NativeTensorArg[]) => Promise<NativeFloat>,
): Promise<Like<X>> {
  const tensors = inputs.map((t, i) => requireTensor(t, names[i]));
  return placedAsync(tensors, names, options?.device, async (moved) =>
    fromNative(await call(moved.map(toNative)), shape(moved[0])),
  ) as Promise<Like<X>>;
}

/** The options of an op that needs some (a seed): an object, else a TypeError. */
function requireOptions<T>(options: T): T {
  if (options === null || typeof options !== 'object') {
    throw typeError('ERR_INVALID_ARG_TYPE', `options must be an object with a seed, got ${String(options)}`);
  }
  return options;
}

function wrapIndex(result: NativeIndexResult, shape: number[]): IndexResult {
  return { index: result.index, onehot: fromNative(result.onehot, shape) };
}

const sameShape = (t: AnyTensor): number[] => [...t.shape];
const perRow = (t: AnyTensor): number[] => [t.shape[0]];

// ---- log-sum-exp and softmax -------------------------------------------------------------------------

/** log Σ_k exp(scores[b, k]): `[B, K]` → `[B]`. */
export function logsumexp<X extends AnyTensor>(scores: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, perRow, ([x]) => native.logsumexp(x, false));
}
/** Async {@link logsumexp}. */
export function logsumexpAsync<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores], ['scores'], options, perRow, ([x]) => native.logsumexp(x, true));
}

/** VJP of logsumexp: `grad[b] · softmax(scores)[b, k]`; scores `[B, K]`, grad `[B]` → `[B, K]`. */
export function logsumexpBackward<X extends AnyTensor>(scores: X, grad: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores, grad], ['scores', 'grad'], options, sameShape, ([x, g]) =>
    native.logsumexpBackward(x, g, false),
  );
}
/** Async {@link logsumexpBackward}. */
export function logsumexpBackwardAsync<X extends AnyTensor>(scores: X, grad: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores, grad], ['scores', 'grad'], options, sameShape, ([x, g]) =>
    native.logsumexpBackward(x, g, true),
  );
}

/** softmax over the last dim: `[B, K]` → `[B, K]`. */
export function softmax<X extends AnyTensor>(scores: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, sameShape, ([x]) => native.softmax(x, false));
}
/** Async {@link softmax}. */
export function softmaxAsync<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores], ['scores'], options, sameShape, ([x]) => native.softmax(x, true));
}

/**
 * VJP of softmax given its output p: `p ⊙ (g − ⟨p, g⟩)`; probs, grad `[B, K]` → `[B, K]`.
 * This is also the Hessian-vector product of logsumexp (Cov(z)·g for one-hot z).
 */
export function softmaxBackward<X extends AnyTensor>(probs: X, grad: X, options?: OpOptions): Like<X> {
  return entmaxBackwardOp(probs, grad, 1, 1, options);
}
/** Async {@link softmaxBackward}. */
export function softmaxBackwardAsync<X extends AnyTensor>(probs: X, grad: X, options?: OpOptions): Promise<Like<X>> {
  return entmaxBackwardOpAsync(probs, grad, 1, 1, options);
}

/** Entropy of softmax(scores) per row, `[B, K]` → `[B]` (masked classes contribute 0). */
export function entropy<X extends AnyTensor>(scores: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, perRow, ([x]) => native.entropy(x, false));
}
/** Async {@link entropy}. */
export function entropyAsync<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores], ['scores'], options, perRow, ([x]) => native.entropy(x, true));
}

/**
 * log softmax(scores)[b, index[s, b]]: scores `[B, K]`, index an Int32Array of S·B classes (row-major
 * `[S, B]`) → `[S, B]`.
 */
export function logProb<X extends AnyTensor>(scores: X, index: Int32Array, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, (t) => [index.length / t.shape[0], t.shape[0]], ([x]) =>
    native.logProb(x, index, false),
  );
}

// ---- sparse normalizers ---------------------------------------------------------------------------------

/** sparsemax (Martins & Astudillo 2016): Euclidean projection of each row onto the simplex, `[B, K]` → `[B, K]`. */
export function sparsemax<X extends AnyTensor>(scores: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, sameShape, ([x]) => native.sparsemax(x, false));
}
/** Async {@link sparsemax}. */
export function sparsemaxAsync<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores], ['scores'], options, sameShape, ([x]) => native.sparsemax(x, true));
}
/** VJP of sparsemax given its output p: on the support S, `g − mean_S(g)`; 0 elsewhere. */
export function sparsemaxBackward<X extends AnyTensor>(probs: X, grad: X, options?: OpOptions): Like<X> {
  return entmaxBackwardOp(probs, grad, 2, 1, options);
}

/** 1.5-entmax (Peters et al. 2019), exact sort-based threshold, `[B, K]` → `[B, K]`. */
export function entmax15<X extends AnyTensor>(scores: X, options?: OpOptions): Like<X> {
  return floatOp<X>([scores], ['scores'], options, sameShape, ([x]) => native.entmax15(x, false));
}
/** Async {@link entmax15}. */
export function entmax15Async<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<Like<X>> {
  return floatOpAsync<X>([scores], ['scores'], options, sameShape, ([x]) => native.entmax15(x, true));
}
/** VJP of 1.5-entmax given its output p: with s = √p, `s ⊙ g − s (s·g)/Σs`. */
export function entmax15Backward<X extends AnyTensor>(probs: X, grad: X, options?: OpOptions): Like<X> {
  return entmaxBackwardOp(probs, grad, 1.5, 1, options);
}

function checkAlpha(alpha: number): number {
  if (typeof alpha !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', 'alpha must be a number');
  if (!Number.isFinite(alpha) || alpha < 1) throw rangeError('ERR_OUT_OF_RANGE', `alpha must be >= 1, got ${alpha}`);
  return alpha;
}

/**
 * alpha-entmax by bisection on the threshold (to machine precision, then renormalized):
 * p_k = ((alpha−1) x_k − τ)_+^(1/(alpha−1)), Σ p = 1. alpha = 1 is softmax, 2 is sparsemax. `[B, K]` → `[B, K]`.
 */
export function entmaxBisect<X extends AnyTensor>(scores: X, alpha: number, options?: OpOptions): Like<X> {
  checkAlpha(alpha);
  return floatOp<X>([scores], ['scores'], options, sameShape, ([x]) => native.entmaxBisect(x, alpha, false));
}
/** Async {@link entmaxBisect}. */
export function entmaxBisectAsync<X extends AnyTensor>(scores: X, alpha: number, options?: OpOptions): Promise<Like<X>> {
  checkAlpha(alpha);
  return floatOpAsync<X>([scores], ['scores'], options, sameShape, ([x]) => native.entmaxBisect(x, alpha, true));
}
/** VJP of alpha-entmax given its output p: with s = p^(2−alpha) on the support, `s ⊙ g − s (s·g)/Σs`. */
export function entmaxBisectBackward<X extends AnyTensor>(probs: X, grad: X, alpha: number, options?: OpOptions): Like<X> {
  return entmaxBackwardOp(probs, grad, checkAlpha(alpha), 1, options);
}

function entmaxBackwardOp<X extends AnyTensor>(
  probs: X,
  grad: X,
  alpha: number,
  scale: number,
  options?: OpOptions,
): Like<X> {
  return floatOp<X>([probs, grad], ['probs', 'grad'], options, sameShape, ([p, g]) =>
    native.entmaxBackward(p, g, alpha, scale, false),
  );
}

function entmaxBackwardOpAsync<X extends AnyTensor>(
  probs: X,
  grad: X,
  alpha: number,
  scale: number,
  options?: OpOptions,
): Promise<Like<X>> {
  return floatOpAsync<X>([probs, grad], ['probs', 'grad'], options, sameShape, ([p, g]) =>
    native.entmaxBackward(p, g, alpha, scale, true),
  );
}

// ---- argmax and Gumbel ---------------------------------------------------------------------------------

/** First index of each row's maximum and its one-hot encoding: `[B, K]` → index `[B]`, onehot `[B, K]`. */
export function argmax<X extends AnyTensor>(scores: X, options?: OpOptions): IndexResult<X> {
  const x = requireTensor(scores, 'scores');
  return placed([x], ['scores'], options?.device, ([m]) =>
    wrapIndex(native.argmax(toNative(m), false), [...m.shape]),
  ) as IndexResult<X>;
}
/** Async {@link argmax}. */
export async function argmaxAsync<X extends AnyTensor>(scores: X, options?: OpOptions): Promise<IndexResult<X>> {
  const x = requireTensor(scores, 'scores');
  return placedAsync([x], ['scores'], options?.device, async ([m]) =>
    wrapIndex(await native.argmax(toNative(m), true), [...m.shape]),
  ) as Promise<IndexResult<X>>;
}

/** Options of Gumbel noise. */
export interface GumbelOptions {
  /** Seed of the Philox stream (integer in [0, 2^53) or a bigint below 2^64). */
  seed: Seed;
  /** Sub-stream (default 0): different streams of one seed are independent. */
  stream?: Seed;
  /** 'float32' (default) or 'float64'. */
  dtype?: DType;
  /** 'cpu' (default), 'cuda' (the default device) or 'cuda:N' (the result stays on the device). */
  device?: Device;
}

/**
 * Standard Gumbel noise −log(−log u) of any shape. Element i uses uniform i of the Philox4x32-10 stream
 * (seed, stream): the same seed gives bit-identical uniforms on CPU and CUDA.
 */
export function gumbelNoise(shape: readonly number[], options: GumbelOptions): Tensor | DeviceTensor {
  requireOptions(options);
  shapeSize(shape);
  const dtype = options.dtype ?? 'float32';
  const device = checkDevice(options.device);
  const index = device === undefined ? undefined : cudaIndex(device);
  return fromNative(native.gumbel(shape, dtype, options.seed, options.stream ?? 0, index ?? false, false), shape);
}

/** Options of Gumbel-max sampling / perturb-and-MAP. */
export interface GumbelMaxOptions extends OpOptions {
  /** Number of samples S (default 1). */
  samples?: number;
  /** Seed of the noise. */
  seed: Seed;
  /** Noise scale τ (default 1): argmax of scores + τ·G, an exact sample of softmax(scores / τ). */
  temperature?: number;
}

/**
 * Gumbel-max: S exact samples per row of softmax(scores/τ) as argmax_k scores[b,k] + τ G[s,b,k].
 * `[B, K]` → index `[S·B]` (row-major `[S, B]`), onehot `[S, B, K]`.
 */
export function gumbelMax<X extends AnyTensor>(scores: X, options: GumbelMaxOptions): IndexResult<X> {
  const x = requireTensor(scores, 'scores');
  requireOptions(options);
  const samples = options.samples ?? 1;
  return placed([x], ['scores'], options.device, ([m]) =>
    wrapIndex(native.gumbelMax(toNative(m), samples, options.seed, options.temperature ?? 1, false), [
      samples,
      ...m.shape,
    ]),
  ) as IndexResult<X>;
}
/** Async {@link gumbelMax}. */
export async function gumbelMaxAsync<X extends AnyTensor>(scores: X, options: GumbelMaxOptions): Promise<IndexResult<X>> {
  const x = requireTensor(scores, 'scores');
  requireOptions(options);
  const samples = options.samples ?? 1;
  return placedAsync([x], ['scores'], options.device, async ([m]) =>
    wrapIndex(await native.gumbelMax(toNative(m), samples, options.seed, options.temperature ?? 1, true), [
      samples,
      ...m.shape,
    ]),
  ) as Promise<IndexResult<X>>;
}

/** Options of Gumbel-softmax. */
export interface GumbelSoftmaxOptions extends OpOptions {
  /** Softmax temperature τ > 0. */
  temperature: number;
  /** Seed of the noise (same noise as gumbelMax with this seed and S = 1). */
  seed: Seed;
}

/** Gumbel-softmax (Jang et al. 2017; Maddison et al. 2017): softmax((scores + G)/τ), `[B, K]` → `[B, K]`. */
export function gumbelSoftmax<X extends AnyTensor>(scores: X, options: GumbelSoftmaxOptions): Like<X> {
  requireOptions(options);
  return floatOp<X>([scores], ['scores'], options, sameShape, ([x]) =>
    native.gumbelSoftmax(x, options.temperature, options.seed, false),
  );
}
/** Async {@link gumbelSoftmax}. */
export async function gumbelSoftmaxAsync<X extends AnyTensor>(scores: X, options: GumbelSoftmaxOptions): Promise<Like<X>> {
  requireOptions(options);
  return floatOpAsync<X>([scores], ['scores'], options, sameShape, ([x]) =>
    native.gumbelSoftmax(x, options.temperature, options.seed, true),
  );
}
/** VJP of gumbelSoftmax w.r.t. the scores, given its output y: `softmaxBackward(y, g) / τ`. */
export function gumbelSoftmaxBackward<X extends AnyTensor>(
  probs: X,
  grad: X,
  temperature: number,
  options?: OpOptions,
): Like<X> {
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw rangeError('ERR_OUT_OF_RANGE', `temperature must be a finite number > 0, got ${String(temperature)}`);
  }
  return entmaxBackwardOp(probs, grad, 1, 1 / temperature, options);
}

/** Philox4x32-10 of one counter block under a 64-bit key (for known-answer tests). @internal */
export function philox4x32(counter: Uint32Array, key: Seed): Uint32Array {
  return native.philox4x32(counter, key);
}

