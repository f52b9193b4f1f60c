/**
 * The methods TreeCRF, DependencyCRF and NonProjectiveDependencyCRF share: one score tensor whose layout is the
 * layout of the parts, kernels behind the addon's tree ops (CKY, Eisner or the Matrix-Tree theorem), and a
 * decoded form of each tree. @internal
 */
import { optionsObject, rangeError, typeError } from '../errors';
import { NativeCfgGrammar, NativeFloat, NativeTensorArg, NativeTreeDecoded, NativeSparseMap, NativeTreeSpec, native } from '../native';
import { AnyTensor, Device, DeviceTensor, Like, Tensor, fromNative, requireTensor, toNative, typedArrayKind } from '../tensor';
import { resultToHost } from '../ops/placement';
import {
  OutOptions,
  PerturbOptions,
  Placement,
  SparseMapOptions,
  StructuredSparseMap,
  checkLengths,
  checkOut,
  copyResultInto,
  disposeNative,
  packedSupport,
  perturbNative,
  perturbNativeAsync,
  sparseMapOptions,
  temperatureOf,
  unpackSparseMap,
} from './common';
import * as divergence from './divergence';
import { DivergenceGrad, requireSameFamily } from './divergence';

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

export type { SparseMapOptions, StructuredSparseMap as TreeSparseMap } from './common';

/** Every option of the structures built on TreeStructure, as a subclass passes them on. @internal */
export interface StructureOptions extends TreeOptions {
  /** Eisner and Matrix-Tree: exactly one arc from the root (default true). */
  singleRoot?: boolean;
  /** Alignment: lengths over M. */
  targetLengths?: Int32Array | readonly number[];
  /** Alignment: local (Smith-Waterman) paths. */
  local?: boolean;
  /** SentCFG: the sizes behind its packed scores `[B, D]`. */
  grammar?: NativeCfgGrammar;
}

/** Checks the rank and sizes of a structure's scores, naming them. */
function checkScoresShape(structure: NativeTreeSpec['structure'], name: string, s: readonly number[], grammar?: NativeCfgGrammar): void {
  const fail = (expected: string) => {
    throw rangeError('ERR_INVALID_SHAPE', `${name} must have shape ${expected}, got [${s.join(', ')}]`);
  };
  switch (structure) {
    case 'semi_markov':
      if (s.length !== 5 || s[3] !== s[4] || s[1] < 1 || s[2] < 2 || s[3] < 1) fail('[B, N - 1, K, C, C] with N ≥ 2, K ≥ 2, C ≥ 1');
      return;
    case 'alignment':
      if (s.length !== 4 || s[3] !== 3 || s[1] < 1 || s[2] < 1) fail('[B, N, M, 3] with N, M ≥ 1');
      return;
    case 'cky':
      if (![3, 4].includes(s.length) || s[1] !== s[2]) fail('[B, N, N] or [B, N, N, L]');
      return;
    case 'cfg': {
      const { length: N, nonterminals: NT, preterminals: T } = grammar ?? { length: 0, nonterminals: 0, preterminals: 0 };
      const D = N * T + NT * (NT + T) ** 2 + NT;
      if (s.length !== 2 || s[1] !== D) fail(`[B, N·T + NT·(NT + T)² + NT] = [B, ${D}]`);
      return;
    }
    default:
      if (s.length !== 3 || s[1] !== s[2]) fail('[B, N, N]');
  }
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
  /** The options it was made with (subclasses' withScores pass them on). */
  protected readonly options: StructureOptions;

  protected constructor(structure: NativeTreeSpec['structure'], name: string, scores: X, options: StructureOptions) {
    const t = requireTensor(scores, name);
    const given = optionsObject(options);
    checkScoresShape(structure, name, t.shape, given.grammar);
    this.name = name;
    this.options = { ...given };
    this.batch = t.shape[0];
    this.length = structure === 'semi_markov' ? t.shape[1] + 1 : structure === 'cfg' ? (given.grammar?.length ?? 0) : t.shape[1];
    this.lengths = checkLengths(given.lengths, this.batch, this.length);
    this.placement = new Placement(given.device);
    this.potentials = this.placement.place(t) as X;
    this.spec = { structure, scores: toNative(this.potentials), lengths: this.lengths, singleRoot: given.singleRoot ?? true };
    if (structure === 'cfg') this.spec.grammar = given.grammar;
    if (structure === 'alignment') {
      this.spec.targetLengths = checkLengths(given.targetLengths, this.batch, t.shape[2], 'targetLengths');
      if (given.local !== undefined && typeof given.local !== 'boolean') {
        throw typeError('ERR_INVALID_ARG_TYPE', `options.local must be a boolean, got ${typeof given.local}`);
      }
      this.spec.local = given.local ?? false;
    }
  }

  /** The decoded form of an argmax or of samples. */
  protected abstract decoded(indices: Int32Array): D;

  /**
   * One-hot parts `[S, ...scores' shape]` of S·B decoded structures (rows of {@link decodedWidth} entries,
   * row-major `[S, B, width]`), in the scores' dtype and place.
   */
  protected abstract partsOfDecoded(rows: Int32Array, count: number): AnyTensor;

  /** log Z per sentence, `[B]`. */
  logPartition(): Like<X> {
    return this.wrap(native.treeLogPartition(this.spec, false), [this.batch]);
  }
  /** Async {@link logPartition}. */
  async logPartitionAsync(): Promise<Like<X>> {
    return this.wrap(await native.treeLogPartition(this.spec, true), [this.batch]);
  }

  /**
   * Marginals μ = E_p[z] = ∇ log Z (an outside or reverse pass), in the scores' shape; zero outside each length.
   * @param options `out`: a tensor to write them into (returned; see {@link OutOptions})
   */
  marginals(options?: OutOptions<Like<X>>): Like<X> {
    const out = this.planOut(options);
    return this.deliver(native.treeMarginals(this.spec, false, out?.native), out);
  }
  /** Async {@link marginals}; an `out` is written when the promise resolves. */
  async marginalsAsync(options?: OutOptions<Like<X>>): Promise<Like<X>> {
    const out = this.planOut(options);
    return this.deliver(await native.treeMarginals(this.spec, true, out?.native), out);
  }

  /**
   * The Hessian-vector product (∂μ/∂scores)ᵀ g = Cov(z)·g for g in the scores' shape, computed exactly by
   * forward and reverse passes with tangents (not by differences).
   * @param options `out`: a tensor to write it into (returned; see {@link OutOptions})
   */
  marginalsBackward(grad: Like<X>, options?: OutOptions<Like<X>>): Like<X> {
    const out = this.planOut(options);
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.deliver(native.treeMarginalsBackward(this.spec, toNative(tensor), false, out?.native), out);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link marginalsBackward}; an `out` is written when the promise resolves. */
  async marginalsBackwardAsync(grad: Like<X>, options?: OutOptions<Like<X>>): Promise<Like<X>> {
    const out = this.planOut(options);
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.deliver(await native.treeMarginalsBackward(this.spec, toNative(tensor), true, out?.native), out);
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

  /**
   * The k highest-scoring structures of each sentence, in order (exact k-best Viterbi or k-best parsing, Huang &
   * Chiang 2005; for non-projective trees Lawler's partition over Chu-Liu-Edmonds, O(k·n³)): the decoded form of
   * `[k, B]` structures
   * (row-major, structure j of sentence b at row j·B + b, as for samples), `score` `[k, B]` and one-hot `parts`
   * `[k, ...scores' shape]`. Ties: equal scores are ordered so that structure 0 is argmaxDecoded()'s — paths
   * (SemiMarkovCRF, AlignmentCRF) by the choices read walking back from the end of the path: the last node (label,
   * or cell for local alignments), then each in-edge index, smaller first; TreeCRF top-down from the root span: the
   * span's label (by its score, then its index), then the split point (smaller first), then the left and the right
   * subtree (each by its score, then the same rule); DependencyCRF top-down over Eisner's chart items: the split
   * point, then the left and the right sub-derivation (likewise); SentCFG top-down from the root: the root label,
   * then at each span the split point, the left then the right child's label (smaller first), then the left and the
   * right subtree (likewise); NonProjectiveDependencyCRF in the order its
   * partition creates them: split off from the earlier listed tree, then by the arc into the smaller word (the
   * list for k is the first k of the list for any larger k). Structures through a `-Infinity` part are never
   * listed: when a sentence has fewer than k structures of finite score, the rest have score −Infinity, −1
   * decoded entries and zero parts. k in [1, 1024] (RangeError otherwise).
   */
  topk(k: number): D & { score: Like<X>; parts: Like<X> } {
    return this.wrapTopk(k, native.treeTopk(this.spec, k, false));
  }
  /** Async {@link topk}. */
  async topkAsync(k: number): Promise<D & { score: Like<X>; parts: Like<X> }> {
    return this.wrapTopk(k, await native.treeTopk(this.spec, k, true));
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
   * log p(z) = ⟨z, scores⟩ − log Z for z given as parts in the scores' shape (`[B]`) or `[S, ...that shape]`
   * (`[S, B]`), or in the decoded form of argmax and samples (an Int32Array of B·width entries → `[B]`, or S·B·width
   * → `[S, B]`); only the parts with z ≠ 0 count, so −Infinity scores of parts not taken do not matter. A decoded
   * structure is checked to index parts of its instance, not to be a valid structure.
   */
  logProb(z: Like<X> | Int32Array): Like<X> {
    const { tensor, temporaries } = this.logProbInput(z);
    try {
      return this.wrap(native.treeLogProb(this.spec, toNative(tensor), false), this.logProbShape(tensor));
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link logProb}. */
  async logProbAsync(z: Like<X> | Int32Array): Promise<Like<X>> {
    const { tensor, temporaries } = this.logProbInput(z);
    try {
      return this.wrap(await native.treeLogProb(this.spec, toNative(tensor), true), this.logProbShape(tensor));
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /**
   * Perturb-and-MAP (Papandreou & Yuille 2011): the MAP tree of scores + τ·G, G standard Gumbel noise on every
   * part, as one-hot parts in the scores' shape. τ scales the noise (for Categorical this is an exact sample of
   * softmax(scores/τ); for trees, a sample of the perturb-and-MAP distribution).
   */
  perturbAndMap(options: PerturbOptions): Like<X> {
    const { parts, score } = this.perturbAndMapDecoded(options);
    if (score instanceof DeviceTensor) score.dispose();
    return parts;
  }
  /** {@link perturbAndMap} with the decoded form and the perturbed score `[B]` of each tree. */
  perturbAndMapDecoded(options: PerturbOptions): D & { score: Like<X>; parts: Like<X> } {
    const tau = temperatureOf(options);
    return this.withPerturbed(options, tau, 1, (spec) => this.wrapArgmax(native.treeArgmax(spec, false)));
  }
  /** Async {@link perturbAndMapDecoded}. */
  async perturbAndMapAsync(options: PerturbOptions): Promise<D & { score: Like<X>; parts: Like<X> }> {
    const tau = temperatureOf(options);
    return this.withPerturbedAsync(options, tau, 1, async (spec) => this.wrapArgmax(await native.treeArgmax(spec, true)));
  }

  /**
   * Perturbed marginals, the differentiable perturb-and-parse relaxation (Corro & Titov 2019): the marginals of
   * (scores + G)/τ, which tend to perturbAndMap's tree (τ = 1) as τ → 0. Same noise as perturbAndMap for a seed.
   */
  perturbedMarginals(options: PerturbOptions): Like<X> {
    const tau = temperatureOf(options);
    return this.withPerturbed(options, 1, 1 / tau, (spec) => this.wrap(native.treeMarginals(spec, false), this.potentials.shape));
  }
  /** Async {@link perturbedMarginals}. */
  async perturbedMarginalsAsync(options: PerturbOptions): Promise<Like<X>> {
    const tau = temperatureOf(options);
    return this.withPerturbedAsync(options, 1, 1 / tau, async (spec) =>
      this.wrap(await native.treeMarginals(spec, true), this.potentials.shape),
    );
  }
  /** VJP of {@link perturbedMarginals} w.r.t. the scores: (1/τ)·Cov(z)·grad at (scores + G)/τ. */
  perturbedMarginalsBackward(grad: Like<X>, options: PerturbOptions): Like<X> {
    const tau = temperatureOf(options);
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      // d/dscores of mu((s + G)/tau) = (1/tau) H: the HVP at the perturbed scores of grad/tau, by linearity.
      const scaled = this.withPerturbed(options, 1, 1 / tau, (spec) => native.treeMarginalsBackward(spec, toNative(tensor), false));
      return this.scaleResult(scaled, 1 / tau);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /**
   * SparseMAP: the sparse projection of the scores onto the marginal polytope, with its support (at most
   * `maxActive` structures), by an active-set method over this structure's argmax (Niculae et al. 2018). At most
   * 2^31 − 1 parts per sentence (N²·L): RangeError ERR_SIZE_OVERFLOW otherwise.
   */
  sparsemap(options: SparseMapOptions = {}): StructuredSparseMap<X> {
    return this.wrapSparseMap(native.treeSparsemap(this.spec, sparseMapOptions(options, this.potentials.dtype), false));
  }
  /** Async {@link sparsemap}. */
  async sparsemapAsync(options: SparseMapOptions = {}): Promise<StructuredSparseMap<X>> {
    return this.wrapSparseMap(await native.treeSparsemap(this.spec, sparseMapOptions(options, this.potentials.dtype), true));
  }

  /**
   * The vector-Jacobian product (∂μ* / ∂scores)ᵀ grad of SparseMAP, M_I Z M_Iᵀ grad on the support I (Niculae et
   * al. 2018, Prop. 1), for grad in the scores' shape. `solution` is a result of {@link sparsemap} on these
   * scores; without it, SparseMAP is solved again with default settings.
   */
  sparsemapBackward(grad: Like<X>, solution?: StructuredSparseMap<X>): Like<X> {
    const support = packedSupport(solution ?? this.sparsemap(), this.batch, this.decodedWidth());
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.wrap(
        native.treeSparsemapBackward(this.spec, support.maxActive, support.rows, support.sizes, toNative(tensor), false),
        this.potentials.shape,
      );
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link sparsemapBackward}. */
  async sparsemapBackwardAsync(grad: Like<X>, solution?: StructuredSparseMap<X>): Promise<Like<X>> {
    const support = packedSupport(solution ?? (await this.sparsemapAsync()), this.batch, this.decodedWidth());
    const { tensor, temporaries } = this.input(grad, 'grad');
    try {
      return this.wrap(
        await native.treeSparsemapBackward(this.spec, support.maxActive, support.rows, support.sizes, toNative(tensor), true),
        this.potentials.shape,
      );
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /** The score of every part: the scores themselves (where the caller's scores live). */
  partScores(): Like<X> {
    return (this.placement.movedToDevice ? this.potentials.toHost() : this.potentials) as Like<X>;
  }

  /** The gradient w.r.t. the scores of ⟨grad, scores⟩: grad itself (the parts are the scores' entries). */
  partsBackward(grad: Like<X>): Like<X> {
    return requireTensor(grad, 'grad') as Like<X>;
  }

  /**
   * The support of a SparseMAP solution as one-hot parts `[S, ...scores' shape]`, S the largest support: row i
   * of sentence b is its i-th support tree, or its first one past its support size.
   */
  supportParts(solution: StructuredSparseMap<X>): Like<X> {
    const width = this.decodedWidth();
    const { rows, sizes, maxActive } = packedSupport(solution, this.batch, width);
    const S = maxActive;
    const stacked = new Int32Array(S * this.batch * width);
    for (let i = 0; i < S; i++) {
      for (let b = 0; b < this.batch; b++) {
        if (sizes[b] === 0) throw rangeError('ERR_OUT_OF_RANGE', `solution.support[${b}] is empty`);
        const from = (b * S + Math.min(i, sizes[b] - 1)) * width;
        stacked.set(rows.subarray(from, from + width), (i * this.batch + b) * width);
      }
    }
    const parts = this.partsOfDecoded(stacked, S);
    return (this.placement.movedToDevice ? resultToHost(parts) : parts) as Like<X>;
  }

  /** The same structure (lengths, root rule, local, device option) over other scores of the same shape. */
  withScores(scores: Like<X>): this {
    const Kind = this.constructor as new (scores: Like<X>, options: StructureOptions) => this;
    return new Kind(scores, this.options);
  }

  /** Frees device copies made for `{ device: 'cuda' }` (a no-op otherwise). */
  dispose(): void {
    this.placement.dispose();
  }

  /**
   * KL(this ‖ other) per sentence, `[B]` host float64, exact (structures/divergence.ts): ≥ 0, +Infinity where
   * `other` forbids (−Infinity) a part this distribution uses.
   * @throws TypeError ERR_INVALID_ARG_TYPE when other is another kind of structure; RangeError ERR_SHAPE_MISMATCH
   *   when its shape, lengths or options (singleRoot, targetLengths, local) differ
   */
  kl(other: this): Float64Array {
    return divergence.kl(this, this.sameFamily(other));
  }
  /** Cross-entropy H(this, other) = −E_this[log other(z)] per sentence, `[B]` host float64 (see {@link kl}). */
  crossEntropy(other: this): Float64Array {
    return divergence.crossEntropy(this, this.sameFamily(other));
  }
  /**
   * Gradients of Σ_b grad_b·KL_b(this ‖ other), grad `[B]`: `self` = Cov_this(z)·(s_this − s_other) and `other` =
   * μ_other − μ_this, each scaled per sentence by grad_b, in the scores' shape (zero where KL is +Infinity).
   */
  klBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<Like<X>> {
    return divergence.divergenceBackward('kl', this, this.sameFamily(other), grad);
  }
  /** Gradients of Σ_b grad_b·H_b(this, other): `self` = −Cov_this(z)·s_other, `other` = μ_other − μ_this (scaled). */
  crossEntropyBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<Like<X>> {
    return divergence.divergenceBackward('crossEntropy', this, this.sameFamily(other), grad);
  }
  /** log of the number of structures per sentence, `[B]` host float64 (lengths and options respected, scores ignored). */
  count(): Float64Array {
    return divergence.count(this);
  }
  /** Async {@link kl} (the dynamic programs off the main thread). */
  async klAsync(other: this): Promise<Float64Array> {
    return divergence.klAsync(this, this.sameFamily(other));
  }
  /** Async {@link crossEntropy}. */
  async crossEntropyAsync(other: this): Promise<Float64Array> {
    return divergence.crossEntropyAsync(this, this.sameFamily(other));
  }
  /** Async {@link klBackward}. */
  async klBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<Like<X>>> {
    return divergence.divergenceBackwardAsync('kl', this, this.sameFamily(other), grad);
  }
  /** Async {@link crossEntropyBackward}. */
  async crossEntropyBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<Like<X>>> {
    return divergence.divergenceBackwardAsync('crossEntropy', this, this.sameFamily(other), grad);
  }
  /** Async {@link count}. */
  async countAsync(): Promise<Float64Array> {
    return divergence.countAsync(this);
  }

  /** `other`, checked to be this kind of structure with the same lengths and options (singleRoot, targetLengths, local). */
  private sameFamily(other: this): this {
    return requireSameFamily(this, other, (s) => {
      const { lengths, singleRoot, targetLengths, local } = s.spec;
      return { lengths, singleRoot: singleRoot ?? true, targetLengths: targetLengths ?? null, local: local ?? false };
    });
  }

  /**
   * The caller's `out` for a result in the scores' shape, checked against it, the scores' dtype and where results
   * go; `native` is what the addon writes (none for host scores run on the GPU: the result is copied into it).
   */
  private planOut(options: OutOptions<Like<X>> | undefined): { tensor: AnyTensor; native: NativeTensorArg | undefined } | undefined {
    const out = optionsObject(options).out;
    if (out === undefined) return undefined;
    const device = this.placement.movedToDevice ? 'cpu' : this.potentials.device;
    const tensor = checkOut(out, 'options.out', { dtype: this.potentials.dtype, shape: this.potentials.shape, device });
    return { tensor, native: this.placement.movedToDevice ? undefined : toNative(tensor) };
  }

  /** A native result in the scores' shape where results go, or the caller's `out` that holds it. */
  private deliver(result: NativeFloat, out: { tensor: AnyTensor; native: NativeTensorArg | undefined } | undefined): Like<X> {
    if (!out) return this.wrap(result, this.potentials.shape);
    if (out.native === undefined) copyResultInto(out.tensor as Tensor, result);
    return out.tensor as Like<X>;
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

  private wrapTopk(k: number, result: NativeTreeDecoded & { score: Parameters<Placement['result']>[0] }): D & { score: Like<X>; parts: Like<X> } {
    return {
      ...this.decoded(result.decoded),
      score: this.wrap(result.score, [k, this.batch]),
      parts: this.wrap(result.parts, [k, ...this.potentials.shape]),
    };
  }

  private wrapSamples(k: number, result: NativeTreeDecoded): D & { parts: Like<X> } {
    return { ...this.decoded(result.decoded), parts: this.wrap(result.parts, [k, ...this.potentials.shape]) };
  }

  /** The parts of logProb's argument: parts as given, or those of decoded structures (placed where the scores are). */
  private logProbInput(z: unknown): { tensor: AnyTensor; temporaries: DeviceTensor[] } {
    if (typedArrayKind(z) !== 'Int32Array') return this.input(z, 'parts');
    const rows = z as Int32Array;
    const unit = this.batch * this.decodedWidth();
    if (rows.length === 0 || rows.length % unit !== 0) {
      throw rangeError('ERR_SHAPE_MISMATCH', `decoded structures must hold B·${this.decodedWidth()} = ${unit} entries (or S times that), got ${rows.length}`);
    }
    const S = rows.length / unit;
    const stacked = this.partsOfDecoded(rows, S);
    const parts = S === 1 ? stacked.reshape(this.potentials.shape) : stacked;
    return { tensor: parts, temporaries: parts instanceof DeviceTensor ? [parts] : [] };
  }

  private input(value: unknown, name: string): { tensor: AnyTensor; temporaries: DeviceTensor[] } {
    return this.placement.input(requireTensor(value, name), name, this.potentials, this.name);
  }

  /** Runs body on a spec whose scores are scale·(scores + noiseScale·G), freeing them afterwards. */
  private withPerturbed<R>(options: PerturbOptions, noiseScale: number, scale: number, body: (spec: NativeTreeSpec) => R): R {
    const perturbed = perturbNative(this.potentials, options.seed, 0, noiseScale, scale);
    try {
      return body({ ...this.spec, scores: toNative(fromNative(perturbed, this.potentials.shape)) });
    } finally {
      disposeNative(perturbed);
    }
  }

  private async withPerturbedAsync<R>(
    options: PerturbOptions,
    noiseScale: number,
    scale: number,
    body: (spec: NativeTreeSpec) => Promise<R>,
  ): Promise<R> {
    const perturbed = await perturbNativeAsync(this.potentials, options.seed, 0, noiseScale, scale);
    try {
      return await body({ ...this.spec, scores: toNative(fromNative(perturbed, this.potentials.shape)) });
    } finally {
      disposeNative(perturbed);
    }
  }

  /** factor · a native result in the scores' shape, where results go. */
  private scaleResult(result: Parameters<Placement['result']>[0], factor: number): Like<X> {
    const scaled = perturbNative(fromNative(result, this.potentials.shape), 0, 0, 0, factor);
    disposeNative(result);
    return this.wrap(scaled, this.potentials.shape);
  }

  private wrapSparseMap(result: NativeSparseMap): StructuredSparseMap<X> {
    return unpackSparseMap(result, this.batch, (m) => this.wrap(m, this.potentials.shape));
  }

  /** Entries of one decoded structure: span rows (2N − 1)·3 for CKY, path rows (N + M − 1)·3 for Alignment, N otherwise. */
  protected decodedWidth(): number {
    switch (this.spec.structure) {
      case 'cky':
      case 'cfg':
        return (2 * this.length - 1) * 3;
      case 'alignment':
        return (this.length + this.potentials.shape[2] - 1) * 3;
      default:
        return this.length;
    }
  }

  private logProbShape(parts: AnyTensor): number[] {
    return parts.shape.length === this.potentials.shape.length ? [this.batch] : [parts.shape[0], this.batch];
  }
}
