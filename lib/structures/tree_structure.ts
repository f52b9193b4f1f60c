/**
 * The methods TreeCRF, DependencyCRF and NonProjectiveDependencyCRF share: one score tensor whose layout is the
 * layout of the parts, kernels behind the addon's tree ops (CKY, Eisner or the Matrix-Tree theorem), and a
 * decoded form of each tree. @internal
 */
import { rangeError, typeError } from '../errors';
import { NativeTreeDecoded, NativeTreeSpec, native } from '../native';
import { AnyTensor, Device, DeviceTensor, Like, requireTensor, toNative } from '../tensor';
import { Placement, checkLengths, disposeNative } from './common';

/** Options of the tree structures. */
export interface TreeOptions {
  /** Length of each sentence, `[B]`, each in `[1, N]`; default N for all. */
  lengths?: Int32Array | readonly number[];
  /**
   * Run every method on this backend, copying the scores there once; default: where they live. With
   * `'cuda'` for host scores, results are copied back to the host (keep scores in DeviceTensors to keep
   * results on the GPU).
   */
  device?: Device;
}

/** Options of sampling. */
export interface TreeSampleOptions {
  /** Philox seed (a non-negative integer, number or bigint); the same seed gives the same trees on CPU and CUDA. */
  seed: number | bigint;
}

/** Base of the tree structures: X is the tensor kind, D the decoded form (`{ spans }` or `{ heads }`). */
export abstract class TreeStructure<X extends AnyTensor, D> {
  /** The scores (on the device chosen by the options). */
  readonly potentials: X;
  /** Batch size B. */
  readonly batch: number;
  /** Maximum sentence length N. */
  readonly length: number;
  /** Sentence lengths `[B]`, or null when all are N. */
  readonly lengths: Int32Array | null;
  private readonly placement: Placement;
  private readonly spec: NativeTreeSpec;
  private readonly name: string;

  protected constructor(structure: 'cky' | 'eisner' | 'matrix_tree', name: string, scores: X, options: TreeOptions, singleRoot: boolean) {
    const t = requireTensor(scores, name);
    const s = t.shape;
    const ranks = structure === 'cky' ? [3, 4] : [3];
    if (!ranks.includes(s.length) || s[1] !== s[2]) {
      const expected = structure === 'cky' ? '[B, N, N] or [B, N, N, L]' : '[B, N, N]';
      throw rangeError('ERR_INVALID_SHAPE', `${name} must have shape ${expected}, got [${s.join(', ')}]`);
    }
    if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_ARG_TYPE', 'options must be an object');
    this.name = name;
    this.batch = s[0];
    this.length = s[1];
    this.lengths = checkLengths(options.lengths, this.batch, this.length);
    this.placement = new Placement(options.device);
    this.potentials = this.placement.place(t) as X;
    this.spec = { structure, scores: toNative(this.potentials), lengths: this.lengths, singleRoot };
  }

  /** The decoded form of an argmax or of samples. */
  protected abstract decoded(indices: Int32Array): D;

  /** log Z per sentence, `[B]`. */
  logPartition(): Like<X> {
    return this.wrap(native.treeLogPartition(this.spec, false), [this.batch]);
  }
  /** Async {@link logPartition}. */
  async logPartitionAsync(): Promise<Like<X>> {
    return this.wrap(await native.treeLogPartition(this.spec, true), [this.batch]);
  }

  /** Marginals μ = E_p[z] = ∇ log Z (an outside or reverse pass), in the scores' shape; zero outside each length. */
  marginals(): Like<X> {
    return this.wrap(native.treeMarginals(this.spec, false), this.potentials.shape);
  }
  /** Async {@link marginals}. */
  async marginalsAsync(): Promise<Like<X>> {
    return this.wrap(await native.treeMarginals(this.spec, true), this.potentials.shape);
  }

  /**
   * The Hessian-vector product (∂μ/∂scores)ᵀ g = Cov(z)·g for g in the scores' shape, computed exactly by
   * forward and reverse passes with tangents (not by differences).
   */
  marginalsBackward(grad: Like<X>): Like<X> {
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.wrap(native.treeMarginalsBackward(this.spec, toNative(tensor), false), this.potentials.shape);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link marginalsBackward}. */
  async marginalsBackwardAsync(grad: Like<X>): Promise<Like<X>> {
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.wrap(await native.treeMarginalsBackward(this.spec, toNative(tensor), true), this.potentials.shape);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /** Entropy H(p) per sentence, `[B]`. */
  entropy(): Like<X> {
    return this.wrap(native.treeEntropy(this.spec, false), [this.batch]);
  }
  /** Async {@link entropy}. */
  async entropyAsync(): Promise<Like<X>> {
    return this.wrap(await native.treeEntropy(this.spec, true), [this.batch]);
  }

  /** The MAP tree as one-hot parts in the scores' shape (first maximum on ties). */
  argmax(): Like<X> {
    const result = native.treeArgmax(this.spec, false);
    disposeNative(result.score);
    return this.wrap(result.parts, this.potentials.shape);
  }
  /** The MAP tree with its decoded form and score `[B]`. */
  argmaxDecoded(): D & { score: Like<X>; parts: Like<X> } {
    return this.wrapArgmax(native.treeArgmax(this.spec, false));
  }
  /** Async {@link argmaxDecoded}. */
  async argmaxAsync(): Promise<D & { score: Like<X>; parts: Like<X> }> {
    return this.wrapArgmax(await native.treeArgmax(this.spec, true));
  }

  /** k exact samples z ~ p as one-hot parts `[k, ...scores' shape]`. */
  sample(k: number, options: TreeSampleOptions): Like<X> {
    return this.sampleDecoded(k, options).parts;
  }
  /** k exact samples with their decoded form. */
  sampleDecoded(k: number, options: TreeSampleOptions): D & { parts: Like<X> } {
    return this.wrapSamples(k, native.treeSample(this.spec, k, options?.seed, false));
  }
  /** Async {@link sampleDecoded}. */
  async sampleAsync(k: number, options: TreeSampleOptions): Promise<D & { parts: Like<X> }> {
    return this.wrapSamples(k, await native.treeSample(this.spec, k, options?.seed, true));
  }

  /**
   * log p(z) = ⟨z, scores⟩ − log Z for parts z in the scores' shape (`[B]`) or `[S, ...that shape]` (`[S, B]`);
   * only the parts with z ≠ 0 count, so −Infinity scores of parts not taken do not matter.
   */
  logProb(parts: Like<X>): Like<X> {
    const { tensor, temporaries } = this.input(parts, 'parts');
    try {
      return this.wrap(native.treeLogProb(this.spec, toNative(tensor), false), this.logProbShape(tensor));
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link logProb}. */
  async logProbAsync(parts: Like<X>): Promise<Like<X>> {
    const { tensor, temporaries } = this.input(parts, 'parts');
    try {
      return this.wrap(await native.treeLogProb(this.spec, toNative(tensor), true), this.logProbShape(tensor));
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /** Frees device copies made for `{ device: 'cuda' }` (a no-op otherwise). */
  dispose(): void {
    this.placement.dispose();
  }

  private wrap(result: Parameters<Placement['result']>[0], shape: readonly number[]): Like<X> {
    return this.placement.result(result, shape) as Like<X>;
  }

  private wrapArgmax(result: NativeTreeDecoded & { score: Parameters<Placement['result']>[0] }): D & { score: Like<X>; parts: Like<X> } {
    return {
      ...this.decoded(result.decoded),
      score: this.wrap(result.score, [this.batch]),
      parts: this.wrap(result.parts, this.potentials.shape),
    };
  }

  private wrapSamples(k: number, result: NativeTreeDecoded): D & { parts: Like<X> } {
    return { ...this.decoded(result.decoded), parts: this.wrap(result.parts, [k, ...this.potentials.shape]) };
  }

  private input(value: unknown, name: string): { tensor: AnyTensor; temporaries: DeviceTensor[] } {
    return this.placement.input(requireTensor(value, name), name, this.potentials, this.name);
  }

  private logProbShape(parts: AnyTensor): number[] {
    return parts.shape.length === this.potentials.shape.length ? [this.batch] : [parts.shape[0], this.batch];
  }
}
