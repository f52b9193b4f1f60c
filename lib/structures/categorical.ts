/**
 * `Categorical`: a batch of B independent choices among K classes, scores `[B, K]`. The parts of a
 * structure are the K classes, and a structure z is a one-hot row, so every building block of docs/CONVENTIONS.md
 * has its closed form here: logZ = logsumexp, marginals = softmax, MAP = argmax, SparseMAP = sparsemax.
 */
import { optionsObject, rangeError, typeError } from '../errors';
import * as ops from '../ops/categorical';
import { resultToHost } from '../ops/placement';
import { PerturbOptions, checkDevice, placeOn, temperatureOf } from './common';
import * as divergence from './divergence';
import { DivergenceGrad, requireSameFamily } from './divergence';
import { AnyTensor, Device, DeviceTensor, Like, Tensor, fromNative, requireTensor, toNative, typedArrayKind } from '../tensor';
import { native } from '../native';
import type { GumbelPair } from '../estimators/types';
import { oneHotParts } from '../estimators/parts';

/** Options of a Categorical. */
export interface CategoricalOptions {
  /**
   * Run every method on this backend, copying the scores there once; default: where they live. With
   * `'cuda'` for host scores, results are copied back to the host (keep scores in a DeviceTensor to keep
   * results on the GPU).
   */
  device?: Device;
}

/** Options of sampling. */
export interface SampleOptions {
  /** Seed of the Philox noise; the same seed gives the same samples on CPU and CUDA. */
  seed: number | bigint;
}

/** Options of perturb-and-MAP. */
export type { PerturbOptions } from './common';

/** The SparseMAP solution of each row; for Categorical it is sparsemax, exact in one step. */
export interface SparseMapResult<X extends AnyTensor> {
  /** μ = sparsemax(scores), `[B, K]`. */
  marginals: Like<X>;
  /** For each row, the structures with non-zero weight: here the classes in the support. */
  support: Int32Array[];
  /** For each row, the weight of each support structure (aligned with `support`; sums to 1). */
  weights: Float64Array[];
  /** Active-set iterations per row (the closed form needs one). */
  iterations: Int32Array;
  /** Whether each row's solution is exact to tolerance (always true here). */
  converged: boolean[];
}

/** A batch of categorical distributions p(z = k) ∝ exp(scores[b, k]). */
export class Categorical<X extends AnyTensor = AnyTensor> {
  /** The scores `[B, K]` (on the device chosen by the options; results come back where the caller's scores were). */
  readonly scores: X;
  /** Batch size B. */
  readonly batch: number;
  /** Number of classes K. */
  readonly classes: number;
  private readonly ownsScores: boolean;

  /**
   * @param scores `[B, K]` Tensor or DeviceTensor; `-Infinity` masks a class, NaN and `+Infinity` are errors
   * @param options `device` to run elsewhere than where the scores live
   */
  constructor(scores: X, options: CategoricalOptions = {}) {
    const x = requireTensor(scores, 'scores');
    if (x.shape.length !== 2) {
      throw rangeError('ERR_INVALID_SHAPE', `scores must have shape [B, K], got [${x.shape.join(', ')}]`);
    }
    options = optionsObject(options);
    const moved = placeOn(x, checkDevice(options.device), 'scores');
    this.ownsScores = moved !== x && moved instanceof DeviceTensor;
    this.scores = moved as X;
    this.batch = x.shape[0];
    this.classes = x.shape[1];
  }

  /** log Z per row, `[B]`. */
  logPartition(): Like<X> {
    return this.home(ops.logsumexp(this.scores));
  }
  /** Async {@link logPartition}. */
  logPartitionAsync(): Promise<Like<X>> {
    return this.homeAsync(ops.logsumexpAsync(this.scores));
  }

  /** μ = E_p[z] = softmax(scores), `[B, K]`. */
  marginals(): Like<X> {
    return this.home(ops.softmax(this.scores));
  }
  /** Async {@link marginals}. */
  marginalsAsync(): Promise<Like<X>> {
    return this.homeAsync(ops.softmaxAsync(this.scores));
  }

  /** (∂μ/∂scores)ᵀ grad = Cov(z)·grad = μ ⊙ (grad − ⟨μ, grad⟩), `[B, K]`. */
  marginalsBackward(grad: X): Like<X> {
    return this.backwardThrough(ops.softmax, ops.softmaxBackward, grad);
  }

  /** The MAP structure: one-hot rows `[B, K]` (first maximum on ties). */
  argmax(): Like<X> {
    return this.home(ops.argmax(this.scores).onehot);
  }
  /** The MAP structure with its decoded form: class indices `[B]`. */
  argmaxDecoded(): ops.IndexResult<X> {
    return this.home(ops.argmax(this.scores));
  }
  /** Async {@link argmaxDecoded}. */
  argmaxAsync(): Promise<ops.IndexResult<X>> {
    return this.homeAsync(ops.argmaxAsync(this.scores));
  }

  /**
   * The k best classes of each row, in order: `index` (row-major `[k, B]`), `score` `[k, B]` (the classes' scores)
   * and one-hot `parts` `[k, B, K]`. Ties: the smaller class index first. `-Infinity` classes are never listed:
   * past a row's finite classes (k larger than their number) the index is −1, the score −Infinity and the parts
   * row zero. k in [1, 1024] (RangeError otherwise). Computed where the scores live (on the GPU only the k·B
   * indices come to the host).
   */
  topk(k: number): { index: Int32Array; score: Like<X>; parts: Like<X> } {
    return this.wrapTopk(k, native.categoricalTopk(toNative(this.scores), k, false));
  }
  /** Async {@link topk}. */
  async topkAsync(k: number): Promise<{ index: Int32Array; score: Like<X>; parts: Like<X> }> {
    return this.wrapTopk(k, await native.categoricalTopk(toNative(this.scores), k, true));
  }

  /** k exact samples z ~ p (Gumbel-max): one-hot `[k, B, K]`. */
  sample(k: number, options: SampleOptions): Like<X> {
    return this.sampleDecoded(k, options).onehot;
  }
  /** k exact samples with their class indices (row-major `[k, B]`). */
  sampleDecoded(k: number, options: SampleOptions): ops.IndexResult<X> {
    return this.home(ops.gumbelMax(this.scores, { samples: sampleCount(k), seed: options?.seed }));
  }
  /** Async {@link sampleDecoded}. */
  sampleAsync(k: number, options: SampleOptions): Promise<ops.IndexResult<X>> {
    return this.homeAsync(ops.gumbelMaxAsync(this.scores, { samples: sampleCount(k), seed: options?.seed }));
  }

  /** argmax of scores + τ·Gumbel noise, one-hot `[B, K]`. */
  perturbAndMap(options: PerturbOptions): Like<X> {
    const temperature = temperatureOf(options);
    const onehot = ops.gumbelMax(this.scores, { seed: options.seed, temperature }).onehot as AnyTensor;
    return this.home(onehot.reshape([this.batch, this.classes])) as Like<X>;
  }

  /** Entropy H(p) per row, `[B]`. */
  entropy(): Like<X> {
    return this.home(ops.entropy(this.scores));
  }

  /**
   * log p(z) for structures z: one-hot rows `[B, K]` or `[S, B, K]` (a Tensor or DeviceTensor), or class
   * indices (Int32Array of B·S entries, row-major `[S, B]`). Returns `[B]` for one structure per row, else `[S, B]`.
   */
  logProb(z: AnyTensor | Int32Array): Like<X> {
    const index = typedArrayKind(z) === 'Int32Array' ? (z as Int32Array) : this.decodeOneHot(z as AnyTensor);
    const result = this.home(ops.logProb(this.scores, index)) as AnyTensor;
    return (index.length === this.batch ? result.reshape([this.batch]) : result) as Like<X>;
  }

  /** SparseMAP = sparsemax (Niculae et al. 2018, §2): μ, its support and weights. */
  sparsemap(): SparseMapResult<X> {
    const mu = this.home(ops.sparsemax(this.scores)) as AnyTensor;
    const host = mu.toHost();
    const support: Int32Array[] = [];
    const weights: Float64Array[] = [];
    for (let b = 0; b < this.batch; b++) {
      const row = host.data.subarray(b * this.classes, (b + 1) * this.classes);
      const classes: number[] = [];
      row.forEach((p, k) => {
        if (p > 0) classes.push(k);
      });
      support.push(Int32Array.from(classes));
      weights.push(Float64Array.from(classes, (k) => row[k]));
    }
    return {
      marginals: mu as Like<X>,
      support,
      weights,
      iterations: new Int32Array(this.batch).fill(1),
      converged: new Array<boolean>(this.batch).fill(true),
    };
  }

  /** VJP of SparseMAP (= sparsemax): on each row's support S, grad − mean_S(grad); 0 elsewhere. */
  sparsemapBackward(grad: X): Like<X> {
    return this.backwardThrough(ops.sparsemax, ops.sparsemaxBackward, grad);
  }

  /** Gumbel-softmax relaxation of a sample: softmax((scores + G)/τ), `[B, K]`. */
  gumbelSoftmax(options: { temperature: number; seed: number | bigint }): Like<X> {
    return this.home(ops.gumbelSoftmax(this.scores, options));
  }

  /** Perturbed marginals: the Gumbel-softmax softmax((scores + G)/τ), G = gumbelNoise([B, K], { seed }). */
  perturbedMarginals(options: PerturbOptions): Like<X> {
    return this.gumbelSoftmax({ temperature: temperatureOf(options), seed: options.seed });
  }

  /** VJP of {@link perturbedMarginals}: (1/τ)·(y ⊙ (grad − ⟨y, grad⟩)) at y = softmax((scores + G)/τ). */
  perturbedMarginalsBackward(grad: X, options: PerturbOptions): Like<X> {
    const temperature = temperatureOf(options);
    return this.backwardThrough(
      (scores) => ops.gumbelSoftmax(scores, { temperature, seed: options.seed }),
      (probs, g) => ops.gumbelSoftmaxBackward(probs, g, temperature),
      grad,
    );
  }

  /** 1.5-entmax of the scores (Peters et al. 2019), `[B, K]`: sparse, between softmax and sparsemax. */
  entmax15(): Like<X> {
    return this.home(ops.entmax15(this.scores));
  }

  /** VJP of {@link entmax15}. */
  entmax15Backward(grad: X): Like<X> {
    return this.backwardThrough(ops.entmax15, ops.entmax15Backward, grad);
  }

  /** The score of every part: the scores themselves (where the caller's scores live). */
  partScores(): Like<X> {
    return (this.ownsScores ? this.scores.toHost() : this.scores) as Like<X>;
  }

  /** The gradient w.r.t. the scores of ⟨grad, scores⟩: grad itself (the parts are the classes). */
  partsBackward(grad: X): Like<X> {
    return requireTensor(grad, 'grad') as Like<X>;
  }

  /** Every structure: the K one-hot rows, stacked `[K, B, K]` (row k is class k in every instance). */
  enumerate(): Like<X> {
    const K = this.classes;
    return this.oneHots(Int32Array.from({ length: K * this.batch }, (_, r) => Math.floor(r / this.batch)), K);
  }

  /**
   * The support of a SparseMAP solution as one-hot rows `[S, B, K]`, S the largest support: row i of instance b
   * is its i-th support class, or its first one past its support size.
   */
  supportParts(solution: SparseMapResult<X>): Like<X> {
    const support = solution?.support;
    if (!Array.isArray(support) || support.length !== this.batch) {
      throw typeError('ERR_INVALID_ARG_TYPE', `solution.support must be an array of B = ${this.batch} supports`);
    }
    support.forEach((classes: unknown, b) => {
      if (!Array.isArray(classes) && !ArrayBuffer.isView(classes)) {
        throw typeError('ERR_INVALID_ARG_TYPE', `solution.support[${b}] must be an Int32Array of classes`);
      }
      const list = classes as ArrayLike<unknown>;
      if (list.length === 0) throw rangeError('ERR_OUT_OF_RANGE', `solution.support[${b}] is empty`);
      for (let i = 0; i < list.length; i++) {
        const k = list[i];
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= this.classes) {
          throw rangeError('ERR_OUT_OF_RANGE', `solution.support[${b}][${i}] = ${String(k)} is not a class in [0, ${this.classes})`);
        }
      }
    });
    const S = Math.max(1, ...support.map((s) => s.length));
    const index = new Int32Array(S * this.batch);
    for (let i = 0; i < S; i++) {
      for (let b = 0; b < this.batch; b++) {
        const classes = support[b];
        index[i * this.batch + b] = classes[Math.min(i, classes.length - 1)];
      }
    }
    return this.oneHots(index, S);
  }

  /** A Categorical over other scores `[B, K]`, on the same device. */
  withScores(scores: X): Categorical<X> {
    return new Categorical(scores, this.ownsScores ? { device: `cuda:${(this.scores as DeviceTensor).deviceIndex}` } : {});
  }

  /**
   * A Gumbel-max sample u = scores + G (G = gumbelNoise([B, K], { seed }) in float64) and a draw ũ from
   * p(u | argmax u) (Tucker et al. 2017, App. C): ũ_k = logsumexp(scores) + G'_k for the argmax k, and
   * ũ_i = −log(exp(−(scores_i + G'_i)) + exp(−ũ_k)) otherwise (a Gumbel truncated below ũ_k), G' the noise of
   * stream 1; with the VJP of ũ w.r.t. the scores at fixed noise.
   */
  gumbelPair(options: { seed: number | bigint }): GumbelPair<Like<X>, Like<X>> {
    // Native kernels (cpp/include/latent_struct/parts_ops.h: rebar_pair_row) where the scores live: for device
    // scores the pair and its VJP stay on the device. Scores moved there for `{ device: 'cuda' }` are read on the host.
    const theta = (this.ownsScores ? this.scores.toHost() : this.scores) as AnyTensor;
    const seed = options?.seed;
    const pair = native.rebarPair(toNative(theta), seed);
    const conditionalBackward = (grad: Like<X>): Like<X> => {
      const g = requireTensor(grad, 'grad');
      return fromNative(native.rebarPairBackward(toNative(theta), toNative(g), seed), theta.shape) as Like<X>;
    };
    return {
      perturbed: fromNative(pair.perturbed, theta.shape) as Like<X>,
      conditional: fromNative(pair.conditional, theta.shape) as Like<X>,
      conditionalBackward,
    };
  }

  /** Frees the device copy of the scores made for `{ device: 'cuda' }` (a no-op otherwise). */
  dispose(): void {
    if (this.ownsScores) (this.scores as DeviceTensor).dispose();
  }

  /**
   * KL(this ‖ other) per instance, `[B]` host float64, exact (structures/divergence.ts): ≥ 0, +Infinity where
   * `other` forbids (−Infinity) a part this distribution uses.
   * @throws TypeError ERR_INVALID_ARG_TYPE when other is another kind of structure; RangeError ERR_SHAPE_MISMATCH
   *   when its shape differ
   */
  kl(other: this): Float64Array {
    return divergence.kl(this.blocks(), this.sameFamily(other).blocks());
  }
  /** Cross-entropy H(this, other) = −E_this[log other(z)] per instance, `[B]` host float64 (see {@link kl}). */
  crossEntropy(other: this): Float64Array {
    return divergence.crossEntropy(this.blocks(), this.sameFamily(other).blocks());
  }
  /**
   * Gradients of Σ_b grad_b·KL_b(this ‖ other), grad `[B]`: `self` = Cov_this(z)·(s_this − s_other) and `other` =
   * μ_other − μ_this, each scaled per instance by grad_b, laid out like the potentials (zero where KL is +Infinity).
   */
  klBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<Like<X>> {
    return divergence.divergenceBackward('kl', this.blocks(), this.sameFamily(other).blocks(), grad);
  }
  /** Gradients of Σ_b grad_b·H_b(this, other): `self` = −Cov_this(z)·s_other, `other` = μ_other − μ_this (scaled). */
  crossEntropyBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<Like<X>> {
    return divergence.divergenceBackward('crossEntropy', this.blocks(), this.sameFamily(other).blocks(), grad);
  }
  /** log of the number of structures per instance, `[B]` host float64 (lengths respected, scores ignored). */
  count(): Float64Array {
    return divergence.count(this.blocks());
  }
  /** Async {@link kl} (the dynamic programs off the main thread). */
  async klAsync(other: this): Promise<Float64Array> {
    return divergence.klAsync(this.blocks(), this.sameFamily(other).blocks());
  }
  /** Async {@link crossEntropy}. */
  async crossEntropyAsync(other: this): Promise<Float64Array> {
    return divergence.crossEntropyAsync(this.blocks(), this.sameFamily(other).blocks());
  }
  /** Async {@link klBackward}. */
  async klBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<Like<X>>> {
    return divergence.divergenceBackwardAsync('kl', this.blocks(), this.sameFamily(other).blocks(), grad);
  }
  /** Async {@link crossEntropyBackward}. */
  async crossEntropyBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<Like<X>>> {
    return divergence.divergenceBackwardAsync('crossEntropy', this.blocks(), this.sameFamily(other).blocks(), grad);
  }
  /** Async {@link count}. */
  async countAsync(): Promise<Float64Array> {
    return divergence.countAsync(this.blocks());
  }

  /** This Categorical as the divergences' building blocks (its backward takes any tensor of the scores' shape). */
  private blocks(): divergence.DivergenceBlocks<Like<X>, Like<X>> {
    return this as unknown as divergence.DivergenceBlocks<Like<X>, Like<X>>;
  }

  /** `other`, checked to be this kind of structure with the same shape. */
  private sameFamily(other: this): this {
    return requireSameFamily(this, other, () => ({}));
  }

  private wrapTopk(
    k: number,
    result: { index: Int32Array; score: Parameters<typeof fromNative>[0]; parts: Parameters<typeof fromNative>[0] },
  ): { index: Int32Array; score: Like<X>; parts: Like<X> } {
    return this.home({
      index: result.index,
      score: fromNative(result.score, [k, this.batch]) as Like<X>,
      parts: fromNative(result.parts, [k, this.batch, this.classes]) as Like<X>,
    });
  }

  /** Results of host scores moved to the GPU (`device: 'cuda'`) come back to the host, as their type says. */
  private home<R>(result: R): R {
    return this.ownsScores ? resultToHost(result) : result;
  }
  private async homeAsync<R>(result: Promise<R>): Promise<R> {
    return this.home(await result);
  }
  /**
   * backward(forward(scores), grad) with grad placed with the scores (a temporary device copy when they were
   * moved there), freeing the intermediate forward result.
   */
  private backwardThrough(
    forward: (scores: X) => Like<X>,
    backward: (probs: X, grad: X) => Like<X>,
    grad: X,
  ): Like<X> {
    const moveGrad = this.ownsScores && requireTensor(grad, 'grad').device === 'cpu';
    const g = (moveGrad ? (grad as AnyTensor).toDevice((this.scores as DeviceTensor).deviceIndex) : grad) as X;
    const probs = forward(this.scores);
    try {
      return this.home(backward(probs as X, g));
    } finally {
      if (probs instanceof DeviceTensor) probs.dispose();
      if (moveGrad) (g as AnyTensor as DeviceTensor).dispose();
    }
  }

  /**
   * One-hot rows `[S, B, K]` of class indices (row-major `[S, B]`), in the scores' dtype, where results go: built
   * where they go from the S·B flat positions r·K + index[r] (for device scores only those cross, not the S·B·K parts).
   */
  private oneHots(index: Int32Array, S: number): Like<X> {
    const K = this.classes;
    const positions = Int32Array.from(index, (k, r) => r * K + k);
    const like = this.ownsScores ? new Tensor(new (this.scores.dtype === 'float64' ? Float64Array : Float32Array)(1), [1]) : this.scores;
    return oneHotParts(like, positions, [S, this.batch, K]) as Like<X>;
  }

  private decodeOneHot(z: AnyTensor): Int32Array {
    const host = requireTensor(z, 'z').toHost();
    const k = this.classes;
    if (host.shape[host.shape.length - 1] !== k || host.size % (this.batch * k) !== 0 || host.shape.length < 2) {
      throw rangeError('ERR_SHAPE_MISMATCH', `z must have shape [B, K] or [S, B, K] = [..., ${this.batch}, ${k}], got [${host.shape.join(', ')}]`);
    }
    const index = new Int32Array(host.size / k);
    for (let r = 0; r < index.length; r++) {
      let chosen = -1;
      for (let c = 0; c < k; c++) {
        const v = host.data[r * k + c];
        if (v === 1 && chosen < 0) chosen = c;
        else if (v !== 0) chosen = -2;
      }
      if (chosen < 0) throw rangeError('ERR_OUT_OF_RANGE', `z row ${r} is not one-hot`);
      index[r] = chosen;
    }
    return index;
  }
}

/** The k of sample(): a number (the addon checks its range; `gumbelMax` would take a missing one for 1). */
function sampleCount(k: unknown): number {
  if (typeof k !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `k must be a number of samples, got ${String(k)}`);
  return k;
}
