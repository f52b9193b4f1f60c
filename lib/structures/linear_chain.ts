/**
 * `LinearChainCRF`: a batch of B label sequences of up to N positions over C labels (torch-struct's
 * LinearChainCRF). A labelling y has score s(y) = Σ_n φ_n(y_n) + Σ_n ψ_n(y_n, y_{n+1}) and probability
 * exp(s(y) − log Z). The potentials come in two forms:
 *
 * - edges `[B, N-1, C, C]`: `edges[b, n, j, i]` = ψ_n(i, j), the score of label `i` at position `n`
 *   followed by label `j` at `n + 1` (φ = 0). The parts of a structure are these edges.
 * - factored `{ unary [B, N, C], transition [C, C] or [B, C, C] }`: φ_n(c) = `unary[b, n, c]` and
 *   ψ_n(i, j) = `transition[(b,) i, j]` (from `i` to `j`) at every position, never materialized as edges.
 *   The parts are the label indicators `[B, N, C]` and the transition counts per sequence `[B, C, C]`.
 *
 * `lengths` (`1 ≤ len ≤ N` per sequence) make sequences shorter: potentials past a length are ignored and
 * every output there is zero (labels −1). `-Infinity` potentials forbid parts; NaN and `+Infinity` are
 * errors, as is a sequence whose every labelling scores `-Infinity`.
 */
import { optionsObject, rangeError, typeError } from '../errors';
import { NativeChainGrad, NativeChainParts, NativeChainPotentials, NativeFloat, NativeOut, NativeSparseMap, NativeTensorArg, native } from '../native';
import { AnyTensor, Device, DeviceTensor, Like, Tensor, fromNative, requireTensor, toNative } from '../tensor';
import { requireSamePlace, resultToHost } from '../ops/placement';
import { oneHotParts } from '../estimators/parts';
import {
  OutOptions,
  PerturbOptions,
  SparseMapOptions,
  StructuredSparseMap,
  checkDevice,
  checkLengths,
  checkOut,
  copyResultInto,
  requireDistinctOuts,
  packedSupport,
  perturbNative,
  perturbNativeAsync,
  placeOn,
  sparseMapOptions,
  temperatureOf,
  unpackSparseMap,
} from './common';
import * as divergence from './divergence';
import { DivergenceGrad, requireSameFamily } from './divergence';

/** The factored form of the potentials. */
export interface FactoredPotentials<X extends AnyTensor = AnyTensor> {
  /** φ, `[B, N, C]`. */
  unary: X;
  /** ψ, `[C, C]` (shared by the batch) or `[B, C, C]`; `[i, j]` scores label `i` followed by `j`. */
  transition: X;
}

/** Potentials of a LinearChainCRF: the edge tensor `[B, N-1, C, C]` or the factored form. */
export type ChainPotentials = AnyTensor | FactoredPotentials;

/** The tensor kind (Tensor or DeviceTensor) of potentials P. */
export type TensorOf<P> = P extends FactoredPotentials<infer X> ? X : P extends AnyTensor ? P : never;

/** Tensors over the parts of the factored form. */
export type FactoredParts<X extends AnyTensor = AnyTensor> = {
  /** Label indicators (or their marginals, or gradients), `[..., B, N, C]`. */
  unary: Like<X>;
  /** Transition counts summed over positions, `[..., B, C, C]` (gradients: the transition's shape). */
  transition: Like<X>;
};

/** Tensors over the parts of potentials P: one tensor like the edges, or FactoredParts. */
export type ChainParts<P> = P extends FactoredPotentials<infer X> ? FactoredParts<X> : P extends AnyTensor ? Like<P> : never;

/** The SparseMAP solution of a chain (edge potentials; `marginals` over the edges). */
export type ChainSparseMap<P> = Omit<StructuredSparseMap<TensorOf<P>>, 'marginals'> & { marginals: ChainParts<P> };

/** Options of a LinearChainCRF. */
export interface LinearChainOptions {
  /** Length of each sequence, `[B]`, each in `[1, N]`; default N for all. */
  lengths?: Int32Array | readonly number[];
  /**
   * Run every method on this backend, copying the potentials there once; default: where they live. With
   * `'cuda'` for host potentials, results are copied back to the host (keep potentials in DeviceTensors to
   * keep results on the GPU).
   */
  device?: Device;
}

/** A MAP structure or a sample with its decoded form. */
export interface ChainDecoded<P> {
  /** Labels, row-major `[B, N]` (argmax) or `[k, B, N]` (samples); −1 past each length. */
  labels: Int32Array;
  /** The one-hot parts of the labelling. */
  parts: ChainParts<P>;
}

/** The Viterbi labelling with its score. */
export interface ChainArgmax<P> extends ChainDecoded<P> {
  /** s(y*) per sequence, `[B]`. */
  score: Like<TensorOf<P>>;
}

/** The k best labellings of each sequence, in order, with their scores. */
export interface ChainTopk<P> {
  /**
   * Labels, row-major `[k, B, N]` (labelling j of sequence b at row j·B + b); −1 past each length and past the
   * sequence's labellings of finite score.
   */
  labels: Int32Array;
  /** s(y) of each, `[k, B]` (−Infinity past the labellings of finite score). */
  score: Like<TensorOf<P>>;
  /**
   * Their one-hot parts with a leading `[k]`: edges `[k, B, N-1, C, C]`, or unary `[k, B, N, C]` and transition
   * counts `[k, B, C, C]` (zero past the labellings of finite score).
   */
  parts: ChainParts<P>;
}

function isFactored(p: unknown): p is FactoredPotentials {
  return p !== null && typeof p === 'object' && 'unary' in p && 'transition' in p;
}

/** A batch of linear-chain CRFs p(y) ∝ exp(s(y)). See the module doc for the two forms of potentials. */
export class LinearChainCRF<P extends ChainPotentials = ChainPotentials> {
  /** The potentials (on the device chosen by the options). */
  readonly potentials: P;
  /** `'edges'` or `'factored'`. */
  readonly form: 'edges' | 'factored';
  /** Batch size B. */
  readonly batch: number;
  /** Maximum length N. */
  readonly length: number;
  /** Number of labels C. */
  readonly labels: number;
  /** Sequence lengths `[B]`, or null when all are N. */
  readonly lengths: Int32Array | null;
  private readonly owned: DeviceTensor[] = [];
  private readonly movedToDevice: boolean;
  private readonly options: LinearChainOptions;
  private readonly nativePotentials: NativeChainPotentials;

  /**
   * @param potentials edges `[B, N-1, C, C]` (N ≥ 2), or `{ unary: [B, N, C], transition: [C, C] | [B, C, C] }`;
   *   Tensors or DeviceTensors of one dtype, all in one place
   * @param options `lengths`, and `device` to run elsewhere than where the potentials live
   */
  constructor(potentials: P, options: LinearChainOptions = {}) {
    options = optionsObject(options);
    const device = checkDevice(options.device);
    const place = (t: AnyTensor, name = 'potentials'): AnyTensor => {
      const moved = placeOn(t, device, name);
      if (moved !== t && moved instanceof DeviceTensor) this.owned.push(moved);
      return moved;
    };
    if (isFactored(potentials)) {
      const unary = requireTensor(potentials.unary, 'unary');
      const transition = requireTensor(potentials.transition, 'transition');
      requireSamePlace([unary, transition], ['unary', 'transition']);
      if (unary.shape.length !== 3) {
        throw rangeError('ERR_INVALID_SHAPE', `unary must have shape [B, N, C], got [${unary.shape.join(', ')}]`);
      }
      if (unary.dtype !== transition.dtype) {
        throw typeError('ERR_DTYPE_MISMATCH', `transition is ${transition.dtype} but unary is ${unary.dtype}`);
      }
      [this.batch, this.length, this.labels] = unary.shape;
      const C = this.labels;
      const t = transition.shape;
      if (!((t.length === 2 && t[0] === C && t[1] === C) || (t.length === 3 && t[0] === this.batch && t[1] === C && t[2] === C))) {
        throw rangeError('ERR_SHAPE_MISMATCH', `transition must have shape [${C}, ${C}] or [${this.batch}, ${C}, ${C}], got [${t.join(', ')}]`);
      }
      const placed = { unary: place(unary, 'unary'), transition: place(transition, 'transition') };
      this.potentials = placed as P;
      this.form = 'factored';
      this.nativePotentials = { unary: toNative(placed.unary), transition: toNative(placed.transition) };
    } else {
      const edges = requireTensor(potentials, 'potentials');
      const s = edges.shape;
      if (s.length !== 4 || s[2] !== s[3]) {
        throw rangeError('ERR_INVALID_SHAPE', `edges must have shape [B, N-1, C, C], got [${s.join(', ')}]`);
      }
      this.batch = s[0];
      this.length = s[1] + 1;
      this.labels = s[2];
      const placed = place(edges, 'edges');
      this.potentials = placed as P;
      this.form = 'edges';
      this.nativePotentials = { edges: toNative(placed) };
    }
    this.lengths = checkLengths(options.lengths, this.batch, this.length);
    this.movedToDevice = this.owned.length > 0;
    this.options = { lengths: options.lengths, device: options.device };
  }

  /** log Z per sequence, `[B]`. */
  logPartition(): Like<TensorOf<P>> {
    return this.wrap(native.chainLogPartition(this.nativePotentials, this.lengths, false), [this.batch]);
  }
  /** Async {@link logPartition}. */
  async logPartitionAsync(): Promise<Like<TensorOf<P>>> {
    return this.wrap(await native.chainLogPartition(this.nativePotentials, this.lengths, true), [this.batch]);
  }

  /**
   * μ = E_p[z] = ∇ log Z over the parts (forward-backward): edge marginals `[B, N-1, C, C]`, or for the
   * factored form label marginals `[B, N, C]` and expected transition counts per sequence `[B, C, C]`
   * (for a shared `[C, C]` transition, ∇ Σ_b log Z_b is their sum over the batch).
   * @param options `out`: tensors of the result's type to write it into (returned; see {@link OutOptions})
   */
  marginals(options?: OutOptions<ChainParts<P>>): ChainParts<P> {
    const out = this.planOut(options, this.ownKeys(), this.partShapes([]));
    const result = native.chainMarginals(this.nativePotentials, this.lengths, false, false, out?.native);
    return out ? (this.deliver(result, out) as ChainParts<P>) : this.wrapParts(result, []);
  }
  /** Async {@link marginals}; an `out` is written when the promise resolves. */
  async marginalsAsync(options?: OutOptions<ChainParts<P>>): Promise<ChainParts<P>> {
    const out = this.planOut(options, this.ownKeys(), this.partShapes([]));
    const result = await native.chainMarginals(this.nativePotentials, this.lengths, false, true, out?.native);
    return out ? (this.deliver(result, out) as ChainParts<P>) : this.wrapParts(result, []);
  }

  /**
   * Edge marginals P(y_n = i, y_{n+1} = j) at `[b, n, j, i]`, `[B, N-1, C, C]`, for either form (N ≥ 2).
   * @param options `out`: a tensor to write them into (returned; see {@link OutOptions})
   */
  edgeMarginals(options?: OutOptions<Like<TensorOf<P>>>): Like<TensorOf<P>> {
    if (this.length < 2) throw rangeError('ERR_INVALID_SHAPE', 'edge marginals need N >= 2');
    const out = this.planOut(options, ['edges'], this.partShapes([]));
    const result = native.chainMarginals(this.nativePotentials, this.lengths, true, false, out?.native);
    if (out) {
      this.disposeNative(result.unary, result.transition);
      return this.deliver(result, out) as Like<TensorOf<P>>;
    }
    this.disposeNative(result.logPartition, result.unary, result.transition);
    return this.wrap(result.edges as NativeFloat, [this.batch, this.length - 1, this.labels, this.labels]);
  }

  /**
   * The Hessian-vector product (∂μ/∂potentials)ᵀ g = Cov(z)·g, given g over the parts (the layout of
   * {@link marginals}); the result has the potentials' shapes (for a shared transition, `[C, C]`).
   * Computed exactly with the expectation semiring, not by differences.
   * @param options `out`: tensors of the result's type to write it into (returned; see {@link OutOptions})
   */
  marginalsBackward(grad: ChainParts<P>, options?: OutOptions<ChainParts<P>>): ChainParts<P> {
    const out = this.planOut(options, this.ownKeys(), this.potentialShapes());
    const { g, temporaries } = this.nativeGrad(grad);
    try {
      const result = native.chainMarginalsBackward(this.nativePotentials, this.lengths, g, false, out?.native);
      return out ? (this.deliver(result, out) as ChainParts<P>) : this.wrapGrad(result);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link marginalsBackward}; an `out` is written when the promise resolves. */
  async marginalsBackwardAsync(grad: ChainParts<P>, options?: OutOptions<ChainParts<P>>): Promise<ChainParts<P>> {
    const out = this.planOut(options, this.ownKeys(), this.potentialShapes());
    const { g, temporaries } = this.nativeGrad(grad);
    try {
      const result = await native.chainMarginalsBackward(this.nativePotentials, this.lengths, g, true, out?.native);
      return out ? (this.deliver(result, out) as ChainParts<P>) : this.wrapGrad(result);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /** Entropy H(p) per sequence, `[B]`. */
  entropy(): Like<TensorOf<P>> {
    return this.wrap(native.chainEntropy(this.nativePotentials, this.lengths, false), [this.batch]);
  }
  /** Async {@link entropy}. */
  async entropyAsync(): Promise<Like<TensorOf<P>>> {
    return this.wrap(await native.chainEntropy(this.nativePotentials, this.lengths, true), [this.batch]);
  }

  /** The MAP labelling (Viterbi) as one-hot parts (first maximum on ties). */
  argmax(): ChainParts<P> {
    const result = this.argmaxDecoded();
    this.disposeTensor(result.score);
    return result.parts;
  }
  /** The MAP labelling with its labels `[B, N]` and score `[B]`. */
  argmaxDecoded(): ChainArgmax<P> {
    return this.wrapArgmax(native.chainArgmax(this.nativePotentials, this.lengths, false));
  }
  /** Async {@link argmaxDecoded}. */
  async argmaxAsync(): Promise<ChainArgmax<P>> {
    return this.wrapArgmax(await native.chainArgmax(this.nativePotentials, this.lengths, true));
  }

  /**
   * The k highest-scoring labellings of each sequence, in order (exact k-best Viterbi on the chain's lattice, each
   * (position, label) keeping its k best prefixes by a lazy candidate heap, Huang & Chiang 2005 algorithm 2:
   * O(N·C·(C + k·log(C + k))) per sequence): labels `[k, B, N]`, score `[k, B]` and one-hot parts with a leading
   * `[k]` (see {@link ChainTopk}). Ties: labellings of equal score are ordered by their labels read from the end of the
   * sequence, (y_{L−1}, y_{L−2}, …, y_0) lexicographically, smaller first — Viterbi's first maximum — so labelling 0
   * is {@link argmaxDecoded}'s, score included. Labellings through a `-Infinity` potential are never listed: when a
   * sequence has fewer than k of finite score, the rest have score −Infinity, labels −1 and zero parts. k in
   * [1, 1024] (RangeError otherwise). Computed where the potentials live (on the GPU only the k·B·N labels come to
   * the host).
   */
  topk(k: number): ChainTopk<P> {
    return this.wrapTopk(k, native.chainTopk(this.nativePotentials, this.lengths, k, false));
  }
  /** Async {@link topk}. */
  async topkAsync(k: number): Promise<ChainTopk<P>> {
    return this.wrapTopk(k, await native.chainTopk(this.nativePotentials, this.lengths, k, true));
  }

  /** k exact samples y ~ p (forward filtering, backward sampling) as one-hot parts with a leading `[k]`. */
  sample(k: number, options: { seed: number | bigint }): ChainParts<P> {
    return this.sampleDecoded(k, options).parts;
  }
  /**
   * k exact samples with their labels `[k, B, N]`. The same seed gives the same draws on CPU and CUDA.
   * @throws RangeError ERR_INVALID_SCORES for a sequence with no sample: every labelling scores -Infinity, or
   *   (float32 scores of magnitude ~2^31) every weight of a backward-sampling step underflows — use float64
   */
  sampleDecoded(k: number, options: { seed: number | bigint }): ChainDecoded<P> {
    const result = native.chainSample(this.nativePotentials, this.lengths, k, options?.seed, false);
    return { labels: result.labels, parts: this.wrapParts(result, [k]) };
  }
  /** Async {@link sampleDecoded}. */
  async sampleAsync(k: number, options: { seed: number | bigint }): Promise<ChainDecoded<P>> {
    const result = await native.chainSample(this.nativePotentials, this.lengths, k, options?.seed, true);
    return { labels: result.labels, parts: this.wrapParts(result, [k]) };
  }

  /**
   * log p(y) for labellings given as labels, row-major `[B, N]` or `[S, B, N]` (entries past a length are
   * ignored): `[B]` or `[S, B]`.
   */
  logProb(labels: Int32Array): Like<TensorOf<P>> {
    return this.wrapLogProb(labels, native.chainLogProb(this.nativePotentials, this.lengths, labels, false));
  }
  /** Async {@link logProb}. */
  async logProbAsync(labels: Int32Array): Promise<Like<TensorOf<P>>> {
    return this.wrapLogProb(labels, await native.chainLogProb(this.nativePotentials, this.lengths, labels, true));
  }

  /**
   * Perturb-and-MAP: the Viterbi labelling of the potentials + τ·G, G standard Gumbel noise on every potential
   * (edges: G = gumbelNoise(edges.shape, { seed }); factored: the unary with stream 0, the transition with
   * stream 1), as one-hot parts.
   */
  perturbAndMap(options: PerturbOptions): ChainParts<P> {
    const result = this.perturbAndMapDecoded(options);
    this.disposeTensor(result.score);
    return result.parts;
  }
  /** {@link perturbAndMap} with the labels `[B, N]` and the perturbed score `[B]`. */
  perturbAndMapDecoded(options: PerturbOptions): ChainArgmax<P> {
    const tau = temperatureOf(options);
    return this.withPerturbed(perturbed(this, options, tau, 1), (p) => this.wrapArgmax(native.chainArgmax(p, this.lengths, false)));
  }
  /** Async {@link perturbAndMapDecoded}. */
  async perturbAndMapAsync(options: PerturbOptions): Promise<ChainArgmax<P>> {
    const tau = temperatureOf(options);
    const p = await perturbedAsync(this, options, tau, 1);
    return this.withPerturbed(p, async (q) => this.wrapArgmax(await native.chainArgmax(q, this.lengths, true)));
  }

  /**
   * Perturbed marginals (the perturb-and-parse relaxation, Corro & Titov 2019): the marginals of
   * (potentials + G)/τ, with the noise of {@link perturbAndMap}; they tend to its labelling (τ = 1) as τ → 0.
   */
  perturbedMarginals(options: PerturbOptions): ChainParts<P> {
    const tau = temperatureOf(options);
    return this.withPerturbed(perturbed(this, options, 1, 1 / tau), (p) =>
      this.wrapParts(native.chainMarginals(p, this.lengths, false, false), []),
    );
  }
  /** Async {@link perturbedMarginals}. */
  async perturbedMarginalsAsync(options: PerturbOptions): Promise<ChainParts<P>> {
    const tau = temperatureOf(options);
    const p = await perturbedAsync(this, options, 1, 1 / tau);
    return this.withPerturbed(p, async (q) => this.wrapParts(await native.chainMarginals(q, this.lengths, false, true), []));
  }
  /** VJP of {@link perturbedMarginals} w.r.t. the potentials: (1/τ)·Cov(z)·grad at (potentials + G)/τ. */
  perturbedMarginalsBackward(grad: ChainParts<P>, options: PerturbOptions): ChainParts<P> {
    const tau = temperatureOf(options);
    const { g, temporaries } = this.nativeGrad(grad);
    try {
      const result = this.withPerturbed(perturbed(this, options, 1, 1 / tau), (p) =>
        native.chainMarginalsBackward(p, this.lengths, g, false),
      );
      const scaled: NativeChainParts = {};
      for (const key of ['edges', 'unary', 'transition'] as const) {
        const part = result[key];
        if (part === undefined) continue;
        const shape = key === 'edges' ? (this.potentials as AnyTensor).shape : (this.potentials as FactoredPotentials)[key].shape;
        scaled[key] = perturbNative(fromNative(part, shape), 0, 0, 0, 1 / tau);
        this.disposeNative(part);
      }
      return this.wrapGrad(scaled);
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /**
   * SparseMAP (Niculae et al. 2018) over the edge parts: argmax over the marginal polytope of ⟨edges, μ⟩ − ½‖μ‖²,
   * sparse, with its support (labellings `[N]`, −1 past the length) and weights; an active-set method over
   * Viterbi. Edge potentials only (the factored form's parts include transition counts): a TypeError otherwise.
   * At most 2^31 − 1 parts per sequence ((N−1)·C²): RangeError ERR_SIZE_OVERFLOW otherwise.
   */
  sparsemap(options: SparseMapOptions = {}): ChainSparseMap<P> {
    return this.wrapSparseMap(native.chainSparsemap(this.nativePotentials, this.lengths, this.sparseMapOptions(options), false));
  }
  /** Async {@link sparsemap}. */
  async sparsemapAsync(options: SparseMapOptions = {}): Promise<ChainSparseMap<P>> {
    return this.wrapSparseMap(await native.chainSparsemap(this.nativePotentials, this.lengths, this.sparseMapOptions(options), true));
  }
  /**
   * The vector-Jacobian product of {@link sparsemap}, M_I Z M_Iᵀ grad on the support (Niculae et al. 2018, Prop. 1),
   * grad over the edges; `solution` a result of sparsemap() on these potentials (else it is solved again).
   */
  sparsemapBackward(grad: ChainParts<P>, solution?: ChainSparseMap<P>): ChainParts<P> {
    const support = packedSupport(solution ?? this.sparsemap(), this.batch, this.length);
    const { edges, temporaries } = this.edgeGrad(grad);
    try {
      return this.tensorOf(
        native.chainSparsemapBackward(this.nativePotentials, this.lengths, support.maxActive, support.rows, support.sizes, edges, false),
        [...(this.potentials as AnyTensor).shape],
      ) as ChainParts<P>;
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }
  /** Async {@link sparsemapBackward}. */
  async sparsemapBackwardAsync(grad: ChainParts<P>, solution?: ChainSparseMap<P>): Promise<ChainParts<P>> {
    const support = packedSupport(solution ?? (await this.sparsemapAsync()), this.batch, this.length);
    const { edges, temporaries } = this.edgeGrad(grad);
    try {
      return this.tensorOf(
        await native.chainSparsemapBackward(this.nativePotentials, this.lengths, support.maxActive, support.rows, support.sizes, edges, true),
        [...(this.potentials as AnyTensor).shape],
      ) as ChainParts<P>;
    } finally {
      temporaries.forEach((t) => t.dispose());
    }
  }

  /**
   * The score of every part, laid out like {@link marginals}: the edges, or `{ unary, transition [B, C, C] }`
   * (a shared transition repeated per sequence); where the caller's potentials live.
   */
  partScores(): ChainParts<P> {
    const home = (t: AnyTensor): AnyTensor => (this.movedToDevice ? t.toHost() : t);
    if (this.form === 'edges') return home(this.potentials as AnyTensor) as ChainParts<P>;
    const { unary, transition } = this.potentials as FactoredPotentials;
    if (transition.shape.length === 3) return { unary: home(unary), transition: home(transition) } as ChainParts<P>;
    // Repeated per sequence where the transition lives (on the device for device potentials: nothing crosses).
    const shared = this.movedToDevice ? transition.toHost() : transition;
    const repeated = fromNative(native.partsTile(toNative(shared), this.batch), [this.batch, this.labels, this.labels]);
    return { unary: home(unary), transition: repeated } as ChainParts<P>;
  }

  /**
   * The gradient w.r.t. the potentials of ⟨grad, partScores()⟩ for grad over the parts: grad itself, except that a
   * shared `[C, C]` transition receives the sum over the batch of the per-sequence transition gradients.
   */
  partsBackward(grad: ChainParts<P>): ChainParts<P> {
    if (this.form === 'edges') return requireTensor(grad, 'grad') as ChainParts<P>;
    if (!isFactored(grad)) throw typeError('ERR_INVALID_ARG_TYPE', 'grad must be { unary, transition }');
    const unary = requireTensor(grad.unary, 'grad.unary');
    const transition = requireTensor(grad.transition, 'grad.transition');
    const C = this.labels;
    if (transition.size !== this.batch * C * C) {
      throw rangeError('ERR_SHAPE_MISMATCH', `grad.transition must have shape [${this.batch}, ${C}, ${C}], got [${transition.shape.join(', ')}]`);
    }
    if ((this.potentials as FactoredPotentials).transition.shape.length === 3) return { unary, transition } as ChainParts<P>;
    // Σ_b over the sequences, in float64, where the gradient lives (on the device for device gradients).
    const summed = fromNative(native.partsSumRows(toNative(transition.reshape([this.batch, C, C]))), [C, C]);
    return { unary, transition: summed } as ChainParts<P>;
  }

  /**
   * The support of a SparseMAP solution as one-hot edge parts `[S, B, N-1, C, C]`, S the largest support: row i
   * of sequence b is its i-th support labelling, or its first one past its support size. Edge potentials only.
   */
  supportParts(solution: ChainSparseMap<P>): ChainParts<P> {
    this.requireEdges();
    const [B, N, C] = [this.batch, this.length, this.labels];
    const { rows, sizes, maxActive: S } = packedSupport(solution, B, N);
    const positions: number[] = [];
    for (let i = 0; i < S; i++) {
      for (let b = 0; b < B; b++) {
        if (sizes[b] === 0) throw rangeError('ERR_OUT_OF_RANGE', `solution.support[${b}] is empty`);
        const y = rows.subarray((b * S + Math.min(i, sizes[b] - 1)) * N, (b * S + Math.min(i, sizes[b] - 1) + 1) * N);
        const n = this.lengths ? this.lengths[b] : N;
        for (let t = 0; t + 1 < n; t++) {
          const [from, to] = [y[t], y[t + 1]];
          if (!(from >= 0 && from < C && to >= 0 && to < C)) {
            throw rangeError('ERR_OUT_OF_RANGE', `solution.support[${b}] has label ${from < 0 || from >= C ? from : to} outside [0, ${C})`);
          }
          positions.push((((i * B + b) * (N - 1) + t) * C + to) * C + from);
        }
      }
    }
    // Built where results go (on the device for device edges: only the S·B·(N−1) positions cross).
    const edges = this.potentials as AnyTensor;
    const like = this.movedToDevice ? new Tensor(new (edges.dtype === 'float64' ? Float64Array : Float32Array)(1), [1]) : edges;
    return oneHotParts(like, Int32Array.from(positions), [S, B, N - 1, C, C]) as ChainParts<P>;
  }

  /**
   * A LinearChainCRF with the same lengths and device option over other scores, given over the parts (edges, or
   * `{ unary, transition [B, C, C] }`, which become factored potentials with a per-sequence transition).
   */
  withScores(scores: ChainParts<P>): LinearChainCRF<P> {
    return new LinearChainCRF(scores as unknown as P, this.options);
  }

  /** Frees device copies made for `{ device: 'cuda' }` (a no-op otherwise). */
  dispose(): void {
    this.owned.forEach((t) => t.dispose());
  }

  /**
   * KL(this ‖ other) per sequence, `[B]` host float64, exact (structures/divergence.ts): ≥ 0, +Infinity where
   * `other` forbids (−Infinity) a part this distribution uses.
   * @throws TypeError ERR_INVALID_ARG_TYPE when other is another kind of structure; RangeError ERR_SHAPE_MISMATCH
   *   when its form, shape or lengths differ
   */
  kl(other: this): Float64Array {
    return divergence.kl(this, this.sameFamily(other));
  }
  /** Cross-entropy H(this, other) = −E_this[log other(z)] per sequence, `[B]` host float64 (see {@link kl}). */
  crossEntropy(other: this): Float64Array {
    return divergence.crossEntropy(this, this.sameFamily(other));
  }
  /**
   * Gradients of Σ_b grad_b·KL_b(this ‖ other), grad `[B]`: `self` = Cov_this(z)·(s_this − s_other) and `other` =
   * μ_other − μ_this, each scaled per sequence by grad_b, laid out like the potentials (zero where KL is +Infinity).
   */
  klBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<ChainParts<P>> {
    return divergence.divergenceBackward('kl', this, this.sameFamily(other), grad);
  }
  /** Gradients of Σ_b grad_b·H_b(this, other): `self` = −Cov_this(z)·s_other, `other` = μ_other − μ_this (scaled). */
  crossEntropyBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<ChainParts<P>> {
    return divergence.divergenceBackward('crossEntropy', this, this.sameFamily(other), grad);
  }
  /** log of the number of structures per sequence, `[B]` host float64 (lengths respected, scores ignored). */
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
  async klBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<ChainParts<P>>> {
    return divergence.divergenceBackwardAsync('kl', this, this.sameFamily(other), grad);
  }
  /** Async {@link crossEntropyBackward}. */
  async crossEntropyBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<ChainParts<P>>> {
    return divergence.divergenceBackwardAsync('crossEntropy', this, this.sameFamily(other), grad);
  }
  /** Async {@link count}. */
  async countAsync(): Promise<Float64Array> {
    return divergence.countAsync(this);
  }

  /** `other`, checked to be this kind of structure with the same form, shape or lengths. */
  private sameFamily(other: this): this {
    return requireSameFamily(this, other, (s) => ({ lengths: s.lengths }));
  }

  /**
   * A native result as a tensor; when host potentials were moved to the GPU (`device: 'cuda'`), the result
   * is copied back to the host, so that results live where the caller's potentials do (their type says so).
   */
  private tensorOf(result: NativeFloat, shape: number[]): AnyTensor {
    const t = fromNative(result, shape);
    return this.movedToDevice ? resultToHost(t) : t;
  }

  private wrap(result: NativeFloat, shape: number[]): Like<TensorOf<P>> {
    return this.tensorOf(result, shape) as Like<TensorOf<P>>;
  }

  /** The parts of this form: `edges`, or `unary` and `transition`. */
  private ownKeys(): PartKey[] {
    return this.form === 'edges' ? ['edges'] : ['unary', 'transition'];
  }

  /** The potentials' shapes by part (the shapes of gradients w.r.t. them). */
  private potentialShapes(): Record<PartKey, readonly number[]> {
    if (this.form === 'edges') {
      const shape = (this.potentials as AnyTensor).shape;
      return { edges: shape, unary: shape, transition: shape };
    }
    const f = this.potentials as FactoredPotentials;
    return { edges: f.unary.shape, unary: f.unary.shape, transition: f.transition.shape };
  }

  /**
   * The caller's `out` for a result over the parts `keys` (one tensor for one key, else `{ unary, transition }`),
   * checked against the shapes, the potentials' dtype and where results go; undefined without one.
   */
  private planOut(options: OutOptions<unknown> | undefined, keys: PartKey[], shapes: Record<PartKey, readonly number[]>): OutPlan | undefined {
    const out = optionsObject(options).out;
    if (out === undefined) return undefined;
    const first = this.form === 'edges' ? (this.potentials as AnyTensor) : (this.potentials as FactoredPotentials).unary;
    const device = this.movedToDevice ? 'cpu' : first.device;
    const spec = (key: PartKey) => ({ dtype: first.dtype, shape: shapes[key], device });
    const tensors: Partial<Record<PartKey, AnyTensor>> = {};
    if (keys.length === 1) {
      tensors[keys[0]] = checkOut(out, 'options.out', spec(keys[0]));
    } else {
      if (out === null || typeof out !== 'object' || out instanceof Tensor || out instanceof DeviceTensor) {
        throw typeError('ERR_INVALID_ARG_TYPE', 'options.out must be { unary, transition }');
      }
      for (const key of keys) tensors[key] = checkOut((out as unknown as Record<string, unknown>)[key], `options.out.${key}`, spec(key));
      requireDistinctOuts(keys.map((k) => tensors[k] as AnyTensor), keys.map((k) => `options.out.${k}`));
    }
    let nativeOut: NativeOut | undefined;
    if (!this.movedToDevice) {
      nativeOut = keys.length === 1 ? toNative(tensors[keys[0]] as AnyTensor) : Object.fromEntries(keys.map((k) => [k, toNative(tensors[k] as AnyTensor)]));
    }
    return { keys, tensors, native: nativeOut, result: out };
  }

  /**
   * The caller's `out` after a native call that wrote it (or, for host potentials run on the GPU, after copying
   * the device results into it); frees the native results it does not return.
   */
  private deliver(result: NativeChainParts & { logPartition?: NativeFloat }, plan: OutPlan): unknown {
    this.disposeNative(result.logPartition);
    if (plan.native === undefined) {
      for (const key of plan.keys) copyResultInto(plan.tensors[key] as Tensor, result[key] as NativeFloat);
    }
    return plan.result;
  }

  private partShapes(lead: number[]): { edges: number[]; unary: number[]; transition: number[] } {
    const { batch: B, length: N, labels: C } = this;
    return { edges: [...lead, B, N - 1, C, C], unary: [...lead, B, N, C], transition: [...lead, B, C, C] };
  }

  private wrapParts(result: NativeChainParts, lead: number[]): ChainParts<P> {
    const shapes = this.partShapes(lead);
    if ('logPartition' in result) this.disposeNative((result as { logPartition: NativeFloat }).logPartition);
    if (this.form === 'edges') return this.tensorOf(result.edges as NativeFloat, shapes.edges) as ChainParts<P>;
    const parts: FactoredParts = {
      unary: this.tensorOf(result.unary as NativeFloat, shapes.unary),
      transition: this.tensorOf(result.transition as NativeFloat, shapes.transition),
    };
    return parts as ChainParts<P>;
  }

  private wrapGrad(result: NativeChainParts): ChainParts<P> {
    if (this.form === 'edges') {
      return this.tensorOf(result.edges as NativeFloat, [...(this.potentials as AnyTensor).shape]) as ChainParts<P>;
    }
    const f = this.potentials as FactoredPotentials;
    const parts: FactoredParts = {
      unary: this.tensorOf(result.unary as NativeFloat, [...f.unary.shape]),
      transition: this.tensorOf(result.transition as NativeFloat, [...f.transition.shape]),
    };
    return parts as ChainParts<P>;
  }

  private wrapArgmax(result: NativeChainParts & { labels: Int32Array; score: NativeFloat }): ChainArgmax<P> {
    return { labels: result.labels, score: this.wrap(result.score, [this.batch]), parts: this.wrapParts(result, []) };
  }

  private wrapTopk(k: number, result: NativeChainParts & { labels: Int32Array; score: NativeFloat }): ChainTopk<P> {
    return { labels: result.labels, score: this.wrap(result.score, [k, this.batch]), parts: this.wrapParts(result, [k]) };
  }

  private wrapLogProb(labels: Int32Array, result: NativeFloat): Like<TensorOf<P>> {
    const rows = labels.length / (this.batch * this.length);
    return this.wrap(result, rows === 1 ? [this.batch] : [rows, this.batch]);
  }

  /** The gradient as the addon takes it, moved to the GPU (temporaries) when the potentials were. */
  private nativeGrad(grad: ChainParts<P>): { g: NativeChainGrad; temporaries: DeviceTensor[] } {
    const place = this.form === 'edges' ? (this.potentials as AnyTensor) : (this.potentials as FactoredPotentials).unary;
    const names = this.form === 'edges' ? ['grad'] : ['grad.unary', 'grad.transition'];
    let tensors: AnyTensor[];
    if (this.form === 'edges') {
      tensors = [requireTensor(grad, 'grad')];
    } else {
      if (!isFactored(grad)) throw typeError('ERR_INVALID_ARG_TYPE', 'grad must be { unary, transition }');
      tensors = [requireTensor(grad.unary, 'grad.unary'), requireTensor(grad.transition, 'grad.transition')];
    }
    requireSamePlace(tensors, names);
    const temporaries: DeviceTensor[] = [];
    if (this.movedToDevice && tensors[0].device === 'cpu') {
      const index = place instanceof DeviceTensor ? place.deviceIndex : undefined;
      tensors = tensors.map((t) => t.toDevice(index));
      temporaries.push(...(tensors as DeviceTensor[]));
    }
    requireSamePlace([place, ...tensors], ['potentials', ...names]);
    const [first, second] = tensors.map(toNative);
    return { g: this.form === 'edges' ? { edges: first } : { unary: first, transition: second }, temporaries };
  }

  private sparseMapOptions(options: SparseMapOptions) {
    const first = this.form === 'edges' ? (this.potentials as AnyTensor) : (this.potentials as FactoredPotentials).unary;
    return sparseMapOptions(options, first.dtype);
  }

  /** A gradient over the edges as the addon takes it (edge potentials only). */
  private edgeGrad(grad: ChainParts<P>): { edges: NativeTensorArg; temporaries: DeviceTensor[] } {
    this.requireEdges();
    const { g, temporaries } = this.nativeGrad(grad);
    return { edges: g.edges as NativeTensorArg, temporaries };
  }

  private requireEdges(): void {
    if (this.form !== 'edges') {
      throw typeError('ERR_INVALID_ARG_TYPE', 'SparseMAP of a linear chain needs edge potentials [B, N-1, C, C], not { unary, transition }');
    }
  }

  private wrapSparseMap(result: NativeSparseMap): ChainSparseMap<P> {
    return unpackSparseMap(result, this.batch, (m) => this.wrap(m, [...(this.potentials as AnyTensor).shape])) as unknown as ChainSparseMap<P>;
  }

  /** Runs body on perturbed native potentials, freeing them afterwards (also when body is async). */
  private withPerturbed<R>(potentials: PerturbedChain, body: (p: NativeChainPotentials) => R): R {
    let result: R;
    try {
      result = body(potentials.native);
    } catch (error) {
      this.disposeNative(...potentials.owned);
      throw error;
    }
    if (result instanceof Promise) {
      return result.finally(() => this.disposeNative(...potentials.owned)) as R;
    }
    this.disposeNative(...potentials.owned);
    return result;
  }

  private disposeNative(...values: (NativeFloat | undefined)[]): void {
    for (const v of values) {
      if (v !== undefined && !ArrayBuffer.isView(v)) v.dispose();
    }
  }

  private disposeTensor(t: AnyTensor): void {
    if (t instanceof DeviceTensor) t.dispose();
  }
}

type PartKey = 'edges' | 'unary' | 'transition';

/** A caller's checked `out`: its tensors by part, what the addon writes (none when results are copied), itself. */
interface OutPlan {
  keys: PartKey[];
  tensors: Partial<Record<PartKey, AnyTensor>>;
  native: NativeOut | undefined;
  result: unknown;
}

/** Perturbed native potentials and the native results to free. */
interface PerturbedChain {
  native: NativeChainPotentials;
  owned: NativeFloat[];
}

/** The tensors of a chain's potentials with their Philox streams: edges 0; unary 0 and transition 1. */
function streamsOf(crf: LinearChainCRF): [AnyTensor, number][] {
  if (crf.form === 'edges') return [[crf.potentials as AnyTensor, 0]];
  const f = crf.potentials as FactoredPotentials;
  return [
    [f.unary, 0],
    [f.transition, 1],
  ];
}

function assemble(crf: LinearChainCRF, results: NativeFloat[]): PerturbedChain {
  const tensors = streamsOf(crf).map(([t], i) => toNative(fromNative(results[i], t.shape)));
  return { native: crf.form === 'edges' ? { edges: tensors[0] } : { unary: tensors[0], transition: tensors[1] }, owned: results };
}

/** scale · (potentials + noiseScale · G). */
function perturbed(crf: LinearChainCRF, options: PerturbOptions, noiseScale: number, scale: number): PerturbedChain {
  return assemble(
    crf,
    streamsOf(crf).map(([t, stream]) => perturbNative(t, options.seed, stream, noiseScale, scale)),
  );
}

async function perturbedAsync(crf: LinearChainCRF, options: PerturbOptions, noiseScale: number, scale: number): Promise<PerturbedChain> {
  const results = await Promise.all(streamsOf(crf).map(([t, stream]) => perturbNativeAsync(t, options.seed, stream, noiseScale, scale)));
  return assemble(crf, results);
}
