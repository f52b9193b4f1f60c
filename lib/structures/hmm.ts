/**
 * `HMM`: a batch of B hidden-Markov label sequences of up to N positions over C hidden states, given their
 * observed symbols in [0, V) (torch-struct's HMM). With log-probabilities
 *
 * - `transition [C, C]`: `transition[j, i]` = log p(z_{n+1} = j | z_n = i) (torch-struct's orientation: the
 *   next state first),
 * - `emission [V, C]`: `emission[v, c]` = log p(x_n = v | z_n = c),
 * - `init [C]`: `init[c]` = log p(z_0 = c),
 *
 * a labelling z of observations x scores s(z) = init[z_0] + Σ_n emission[x_n, z_n] + Σ_n transition[z_{n+1}, z_n]
 * = log p(x, z), so that log Z = log p(x) (the likelihood of the observations), the marginals are the posterior
 * p(z | x) and argmax is the Viterbi decoding. Nothing is normalized: any scores are accepted, as in torch-struct.
 *
 * It is a factored {@link LinearChainCRF} (never materialized as edges `[B, N-1, C, C]`): unary
 * `[b, n, c]` = emission[x_{b,n}, c] (+ init[c] at n = 0) and the chain's transition `[i, j]` (from i to j) =
 * `transition[j, i]`, the transpose. Its parts are the chain's, `{ unary [B, N, C], transition [B, C, C] }`
 * (state indicators and transition counts `[i, j]`, from i to j, per sequence); gradients w.r.t. the potentials
 * are over the HMM's parameters, `{ transition [C, C], emission [V, C], init [C] }`, by the chain rule: the
 * emission gathers the unary gradient of every position by its observation (a scatter-add), init takes position
 * 0's, the transition the transposed transition counts' gradient summed over the batch.
 *
 * Observations past a sequence's length are ignored (any integer, e.g. −1 padding); the potentials there are 0.
 * The chain's potentials are computed once, when the HMM is built: later writes to the parameter tensors are not
 * seen. For DeviceTensor parameters the gather of emission rows (and the scatter-add of gradients) runs on the
 * host — the parameters are copied to the host once at construction, each gradient once per call — and everything
 * else (forward-backward, Viterbi, sampling) on the GPU.
 */
import { optionsObject, rangeError, typeError } from '../errors';
import { FloatArray, native } from '../native';
import { AnyTensor, Device, DeviceTensor, Like, Tensor, cudaIndex, fromNative, isFloatArray, requireTensor, shapeSize, toNative } from '../tensor';
import { onCudaDevice, requireSamePlace } from '../ops/placement';
import { OutOptions, PerturbOptions, SparseMapOptions, checkDevice, checkLengths } from './common';
import * as divergence from './divergence';
import { DivergenceGrad, requireSameFamily } from './divergence';
import { ChainArgmax, ChainDecoded, ChainSparseMap, ChainTopk, FactoredParts, FactoredPotentials, LinearChainCRF } from './linear_chain';

/**
 * The parameters of an HMM (log-probabilities, or any scores; `-Infinity` forbids), one dtype, all in one place.
 * Gradients w.r.t. them have the same layout.
 */
export type HMMParams<X extends AnyTensor = AnyTensor> = {
  /** `[C, C]`: `[j, i]` = log p(z_{n+1} = j | z_n = i) (torch-struct's orientation). */
  transition: X;
  /** `[V, C]`: `[v, c]` = log p(x_n = v | z_n = c). */
  emission: X;
  /** `[C]`: `[c]` = log p(z_0 = c). */
  init: X;
};

/**
 * The observed symbols of a batch, each in [0, V) up to its sequence's length: a row-major `[B, N]` block
 * `{ data, shape: [B, N] }` (an `Int32Array` or an array of integers of B·N entries), or B rows of N integers.
 */
export type HMMObservations =
  | { readonly data: Int32Array | readonly number[]; readonly shape: readonly [number, number] }
  | readonly (readonly number[])[];

/** Options of an HMM. */
export interface HMMOptions {
  /** Length of each sequence, `[B]`, each in `[1, N]`; default N for all. Observations past it are ignored. */
  lengths?: Int32Array | readonly number[];
  /**
   * Run every method on this backend; default: where the parameters live. With `'cuda'` for host parameters,
   * results are copied back to the host (keep the parameters in DeviceTensors to keep results on the GPU).
   */
  device?: Device;
}

/** The parts of an HMM (the factored chain's): `{ unary [.., B, N, C], transition [.., B, C, C] }`. */
export type HMMParts<X extends AnyTensor = AnyTensor> = FactoredParts<X>;

/** The SparseMAP solution type of an HMM (never produced: the factored chain has no SparseMAP). */
export type HMMSparseMap<X extends AnyTensor = AnyTensor> = ChainSparseMap<FactoredPotentials<X>>;

/** The observations as a checked `Int32Array [B·N]` with B and N. */
function observationsOf(value: unknown): { data: Int32Array; batch: number; length: number } {
  const describe = 'observations must be { data: Int32Array | number[] (B·N entries), shape: [B, N] } or B rows of N integers';
  if (Array.isArray(value)) {
    const rows = value as unknown[];
    if (rows.length === 0) throw rangeError('ERR_INVALID_SHAPE', 'observations must hold at least one row');
    if (!rows.every((r) => Array.isArray(r) || ArrayBuffer.isView(r))) throw typeError('ERR_INVALID_ARG_TYPE', describe);
    const N = (rows[0] as ArrayLike<number>).length;
    if (N < 1) throw rangeError('ERR_INVALID_SHAPE', 'observations must have rows of at least one symbol');
    rows.forEach((r, b) => {
      if ((r as ArrayLike<number>).length !== N) {
        throw rangeError('ERR_SHAPE_MISMATCH', `observations[${b}] has ${(r as ArrayLike<number>).length} entries, observations[0] ${N}: pad rows to one length N (and pass lengths)`);
      }
    });
    const flat = rows.flatMap((r) => Array.from(r as ArrayLike<number>));
    return { data: integers(flat, N), batch: rows.length, length: N };
  }
  if (value === null || typeof value !== 'object' || !('data' in value) || !('shape' in value)) throw typeError('ERR_INVALID_ARG_TYPE', describe);
  const { data, shape } = value as { data: unknown; shape: unknown };
  if (!(data instanceof Int32Array) && !Array.isArray(data)) {
    throw typeError('ERR_INVALID_ARG_TYPE', 'observations.data must be an Int32Array or an array of integers');
  }
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw rangeError('ERR_INVALID_SHAPE', `observations.shape must be [B, N] of positive integers, got ${JSON.stringify(shape)}`);
  }
  const [B, N] = shape as number[];
  if ((data as ArrayLike<number>).length !== B * N) {
    throw rangeError('ERR_SHAPE_MISMATCH', `observations.data must hold B·N = ${B * N} entries, got ${(data as ArrayLike<number>).length}`);
  }
  return { data: integers(data as ArrayLike<number>, N), batch: B, length: N };
}

/** A copy of `values` as an Int32Array, every entry an integer (range checked later, within the lengths). */
function integers(values: ArrayLike<number>, N: number): Int32Array {
  if (values instanceof Int32Array) return Int32Array.from(values);
  const out = new Int32Array(values.length);
  for (let q = 0; q < values.length; q++) {
    const v = values[q];
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw rangeError('ERR_OUT_OF_RANGE', `observations[${Math.floor(q / N)}, ${q % N}] = ${String(v)} must be an integer`);
    }
    out[q] = v;
  }
  return out;
}

/**
 * A tensor (or DeviceTensor) argument whose shape is valid and, for a Tensor, agrees with its float data: the HMM
 * reads its parameters and gradients here, not in the addon, whose checks would otherwise catch a Tensor whose
 * fields were replaced.
 */
function requireConsistent(value: unknown, name: string): AnyTensor {
  const t = requireTensor(value, name);
  const size = shapeSize(t.shape, `${name}.shape`);
  if (t instanceof Tensor) {
    if (!isFloatArray(t.data)) throw typeError('ERR_INVALID_ARG_TYPE', `${name}.data must be a Float32Array or Float64Array`);
    if (t.data.length !== size) {
      throw rangeError('ERR_SHAPE_MISMATCH', `${name} has shape [${t.shape.join(', ')}] (${size} elements) but ${t.data.length} data elements`);
    }
  }
  return t;
}

/** A host copy's data (for a DeviceTensor, copied from the device). */
function hostData(t: AnyTensor): FloatArray {
  return t instanceof Tensor ? t.data : t.toHost().data;
}

/** Raises ERR_INVALID_SCORES for NaN or +Infinity in a parameter. */
function requireScores(data: FloatArray, name: string, shape: readonly number[]): void {
  for (let q = 0; q < data.length; q++) {
    const v = data[q];
    if (Number.isNaN(v) || v === Infinity) {
      const index: number[] = [];
      let rest = q;
      for (let d = shape.length - 1; d >= 0; d--) {
        index.unshift(rest % shape[d]);
        rest = Math.floor(rest / shape[d]);
      }
      throw rangeError('ERR_INVALID_SCORES', `${name}[${index.join(', ')}] = ${v}: scores must be finite or -Infinity`);
    }
  }
}

/**
 * A batch of hidden Markov models over observed sequences (torch-struct's HMM), on the factored LinearChainCRF.
 * See the module doc for the parameters' convention, the parts and the gradients.
 */
export class HMM<X extends AnyTensor = AnyTensor> {
  /** The parameters as given (not copied: the chain's potentials were computed from them at construction). */
  readonly params: HMMParams<X>;
  /** The factored chain the HMM runs on: unary `[B, N, C]`, transition `[C, C]` (from i to j, the transpose). */
  readonly crf: LinearChainCRF<FactoredPotentials<X>>;
  /** The observations, row-major `[B, N]` (a copy). */
  readonly observations: Int32Array;
  /** Batch size B. */
  readonly batch: number;
  /** Maximum length N. */
  readonly length: number;
  /** Number of hidden states C. */
  readonly labels: number;
  /** Number of observable symbols V. */
  readonly vocabulary: number;
  /** Sequence lengths `[B]`, or null when all are N. */
  readonly lengths: Int32Array | null;
  private readonly dtype: 'float32' | 'float64';
  /** Whether results (and gradients) live on the GPU. */
  private readonly onDevice: boolean;
  /** The CUDA device of device parameters. */
  private readonly home: number;
  private readonly owned: DeviceTensor[] = [];

  /**
   * @param params `{ transition [C, C], emission [V, C], init [C] }`, Tensors or DeviceTensors of one dtype
   *   (float32 or float64), all in one place
   * @param observations `{ data: Int32Array (B·N entries), shape: [B, N] }` or B rows of N integers; each in
   *   [0, V) up to its sequence's length, ignored past it
   * @param options `lengths` `[B]` in [1, N], and `device` to run elsewhere than where the parameters live
   * @throws TypeError ERR_INVALID_ARG_TYPE (not tensors, bad observations), ERR_DTYPE_MISMATCH, ERR_MIXED_DEVICES;
   *   RangeError ERR_INVALID_SHAPE / ERR_SHAPE_MISMATCH (shapes), ERR_OUT_OF_RANGE (an observation outside [0, V),
   *   lengths, device), ERR_INVALID_SCORES (NaN or +Infinity in a parameter)
   */
  constructor(params: HMMParams<X>, observations: HMMObservations, options: HMMOptions = {}) {
    options = optionsObject(options);
    const device = checkDevice(options.device);
    if (params === null || typeof params !== 'object') {
      throw typeError('ERR_INVALID_ARG_TYPE', 'params must be { transition [C, C], emission [V, C], init [C] }');
    }
    const transition = requireConsistent(params.transition, 'params.transition');
    const emission = requireConsistent(params.emission, 'params.emission');
    const init = requireConsistent(params.init, 'params.init');
    requireSamePlace([transition, emission, init], ['params.transition', 'params.emission', 'params.init']);
    if (emission.dtype !== transition.dtype || init.dtype !== transition.dtype) {
      const [name, other] = emission.dtype !== transition.dtype ? ['emission', emission] : ['init', init];
      throw typeError('ERR_DTYPE_MISMATCH', `params.${name} is ${other.dtype} but params.transition is ${transition.dtype}`);
    }
    if (emission.shape.length !== 2) {
      throw rangeError('ERR_INVALID_SHAPE', `params.emission must have shape [V, C], got [${emission.shape.join(', ')}]`);
    }
    const [V, C] = emission.shape;
    if (transition.shape.length !== 2 || transition.shape[0] !== C || transition.shape[1] !== C) {
      throw rangeError('ERR_SHAPE_MISMATCH', `params.transition must have shape [${C}, ${C}] (C from emission [V, C]), got [${transition.shape.join(', ')}]`);
    }
    if (init.shape.length !== 1 || init.shape[0] !== C) {
      throw rangeError('ERR_SHAPE_MISMATCH', `params.init must have shape [${C}], got [${init.shape.join(', ')}]`);
    }
    const obs = observationsOf(observations);
    const [B, N] = [obs.batch, obs.length];
    const lengths = checkLengths(options.lengths, B, N);
    for (let b = 0; b < B; b++) {
      const L = lengths ? lengths[b] : N;
      for (let n = 0; n < L; n++) {
        const v = obs.data[b * N + n];
        if (v < 0 || v >= V) throw rangeError('ERR_OUT_OF_RANGE', `observations[${b}, ${n}] = ${v} is outside [0, ${V}) (V from emission [V, C])`);
      }
    }

    const e = hostData(emission);
    const t = hostData(transition);
    const s = hostData(init);
    requireScores(t, 'params.transition', transition.shape);
    requireScores(e, 'params.emission', emission.shape);
    requireScores(s, 'params.init', init.shape);
    const float64 = transition.dtype === 'float64';
    const unary = float64 ? new Float64Array(B * N * C) : new Float32Array(B * N * C);
    for (let b = 0; b < B; b++) {
      const L = lengths ? lengths[b] : N;
      for (let n = 0; n < L; n++) {
        const row = obs.data[b * N + n] * C;
        const at = (b * N + n) * C;
        for (let c = 0; c < C; c++) unary[at + c] = n === 0 ? e[row + c] + s[c] : e[row + c];
      }
    }
    const flipped = float64 ? new Float64Array(C * C) : new Float32Array(C * C);
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) flipped[i * C + j] = t[j * C + i];

    let potentials: FactoredPotentials = { unary: new Tensor(unary, [B, N, C]), transition: new Tensor(flipped, [C, C]) };
    const deviceParams = transition instanceof DeviceTensor;
    const home = deviceParams && device !== 'cpu' ? onCudaDevice(transition, device === undefined || device === 'cuda' ? transition.deviceIndex : cudaIndex(device) ?? 0, 'params.transition').deviceIndex : 0;
    if (deviceParams && device !== 'cpu') {
      potentials = { unary: potentials.unary.toDevice(home), transition: potentials.transition.toDevice(home) };
      this.owned.push(potentials.unary as DeviceTensor, potentials.transition as DeviceTensor);
    }
    this.crf = new LinearChainCRF(potentials as FactoredPotentials<X>, {
      lengths: lengths ?? undefined,
      device: !deviceParams && device !== undefined && device !== 'cpu' ? device : undefined,
    });
    this.params = params;
    this.observations = obs.data;
    [this.batch, this.length, this.labels, this.vocabulary] = [B, N, C, V];
    this.lengths = lengths;
    this.dtype = transition.dtype;
    this.onDevice = deviceParams && device !== 'cpu';
    this.home = home;
  }

  /** log Z per sequence, `[B]`: log p(x) for normalized parameters. */
  logPartition(): Like<X> {
    return this.crf.logPartition();
  }
  /** Async {@link logPartition}. */
  logPartitionAsync(): Promise<Like<X>> {
    return this.crf.logPartitionAsync();
  }

  /**
   * μ = E_p[z] over the parts: posterior state marginals p(z_n = c | x) `[B, N, C]` and expected transition counts
   * `[b, i, j]` (from i to j, per sequence) `[B, C, C]`.
   * @param options `out`: `{ unary, transition }` tensors to write them into (returned; see {@link OutOptions})
   */
  marginals(options?: OutOptions<HMMParts<X>>): HMMParts<X> {
    return this.crf.marginals(options);
  }
  /** Async {@link marginals}. */
  marginalsAsync(options?: OutOptions<HMMParts<X>>): Promise<HMMParts<X>> {
    return this.crf.marginalsAsync(options);
  }
  /** Posterior edge marginals p(z_n = i, z_{n+1} = j | x) at `[b, n, j, i]`, `[B, N-1, C, C]` (N ≥ 2). */
  edgeMarginals(): Like<X> {
    return this.crf.edgeMarginals();
  }

  /**
   * (∂μ/∂params)ᵀ grad for grad over the parts (the layout of {@link marginals}): `{ transition [C, C],
   * emission [V, C], init [C] }`. Exact (the chain's expectation semiring, then the chain rule to the parameters).
   */
  marginalsBackward(grad: HMMParts<X>): HMMParams<Like<X>> {
    return this.toParams(this.crf.marginalsBackward(grad));
  }
  /** Async {@link marginalsBackward}. */
  async marginalsBackwardAsync(grad: HMMParts<X>): Promise<HMMParams<Like<X>>> {
    return this.toParams(await this.crf.marginalsBackwardAsync(grad));
  }

  /** Entropy of the posterior H(p(z | x)) per sequence, `[B]`. */
  entropy(): Like<X> {
    return this.crf.entropy();
  }
  /** Async {@link entropy}. */
  entropyAsync(): Promise<Like<X>> {
    return this.crf.entropyAsync();
  }

  /** The Viterbi state sequence as one-hot parts (first maximum on ties). */
  argmax(): HMMParts<X> {
    return this.crf.argmax();
  }
  /** The Viterbi states `[B, N]` (−1 past a length) with their score `[B]` (log p(x, z*) when normalized). */
  argmaxDecoded(): ChainArgmax<FactoredPotentials<X>> {
    return this.crf.argmaxDecoded();
  }
  /** Async {@link argmaxDecoded}. */
  argmaxAsync(): Promise<ChainArgmax<FactoredPotentials<X>>> {
    return this.crf.argmaxAsync();
  }

  /**
   * The k most probable state sequences of each observed sequence, in order (the chain's k-best Viterbi): states
   * `[k, B, N]`, score `[k, B]` (log p(x, z) when normalized) and one-hot parts `{ unary [k, B, N, C], transition
   * [k, B, C, C] }`. Ties: by the states read from the end, (z_{L−1}, …, z_0), smaller first, so sequence 0 is
   * {@link argmaxDecoded}'s; −Infinity scores, states −1 and zero parts past the state sequences of finite score.
   * k in [1, 1024] (RangeError otherwise).
   */
  topk(k: number): ChainTopk<FactoredPotentials<X>> {
    return this.crf.topk(k);
  }
  /** Async {@link topk}. */
  topkAsync(k: number): Promise<ChainTopk<FactoredPotentials<X>>> {
    return this.crf.topkAsync(k);
  }

  /** k exact samples z ~ p(z | x) as one-hot parts with a leading `[k]`. */
  sample(k: number, options: { seed: number | bigint }): HMMParts<X> {
    return this.crf.sample(k, options);
  }
  /** k exact samples with their states `[k, B, N]` (the chain's sampler: the same seed, the same draws on CPU and CUDA). */
  sampleDecoded(k: number, options: { seed: number | bigint }): ChainDecoded<FactoredPotentials<X>> {
    return this.crf.sampleDecoded(k, options);
  }
  /** Async {@link sampleDecoded}. */
  sampleAsync(k: number, options: { seed: number | bigint }): Promise<ChainDecoded<FactoredPotentials<X>>> {
    return this.crf.sampleAsync(k, options);
  }

  /** log p(z | x) for states given row-major `[B, N]` or `[S, B, N]` (past a length ignored): `[B]` or `[S, B]`. */
  logProb(labels: Int32Array): Like<X> {
    return this.crf.logProb(labels);
  }
  /** Async {@link logProb}. */
  logProbAsync(labels: Int32Array): Promise<Like<X>> {
    return this.crf.logProbAsync(labels);
  }

  /**
   * Perturb-and-MAP: the Viterbi states of the chain's potentials + τ·G, as one-hot parts. The noise is the chain's:
   * gumbelNoise([B, N, C], { seed, stream: 0 }) on the unary and gumbelNoise([C, C], { seed, stream: 1 }) on its
   * transition `[i, j]` (from i to j, i.e. on params.transitionᵀ).
   */
  perturbAndMap(options: PerturbOptions): HMMParts<X> {
    return this.crf.perturbAndMap(options);
  }
  /** {@link perturbAndMap} with the states `[B, N]` and the perturbed score `[B]`. */
  perturbAndMapDecoded(options: PerturbOptions): ChainArgmax<FactoredPotentials<X>> {
    return this.crf.perturbAndMapDecoded(options);
  }
  /** Async {@link perturbAndMapDecoded}. */
  perturbAndMapAsync(options: PerturbOptions): Promise<ChainArgmax<FactoredPotentials<X>>> {
    return this.crf.perturbAndMapAsync(options);
  }

  /** The marginals of (chain potentials + G)/τ, with the noise of {@link perturbAndMap}. */
  perturbedMarginals(options: PerturbOptions): HMMParts<X> {
    return this.crf.perturbedMarginals(options);
  }
  /** Async {@link perturbedMarginals}. */
  perturbedMarginalsAsync(options: PerturbOptions): Promise<HMMParts<X>> {
    return this.crf.perturbedMarginalsAsync(options);
  }
  /** VJP of {@link perturbedMarginals} w.r.t. the parameters `{ transition [C, C], emission [V, C], init [C] }`. */
  perturbedMarginalsBackward(grad: HMMParts<X>, options: PerturbOptions): HMMParams<Like<X>> {
    return this.toParams(this.crf.perturbedMarginalsBackward(grad, options));
  }

  /**
   * The score of every part, laid out like {@link marginals}: the chain's unary `[B, N, C]` (emission of each
   * observation, + init at position 0; 0 past a length) and its transition `[i, j]` = params.transition[j, i],
   * repeated per sequence `[B, C, C]`.
   */
  partScores(): HMMParts<X> {
    return this.crf.partScores();
  }

  /**
   * The gradient w.r.t. the parameters of ⟨grad, partScores()⟩, grad over the parts: emission[v, c] = Σ of
   * grad.unary[b, n, c] over the positions (within the lengths) observing v, init = Σ_b grad.unary[b, 0, :],
   * transition[j, i] = Σ_b grad.transition[b, i, j].
   * @throws RangeError ERR_SHAPE_MISMATCH when grad is not `{ unary [B, N, C], transition [B, C, C] }`
   */
  partsBackward(grad: HMMParts<X>): HMMParams<Like<X>> {
    if (grad === null || typeof grad !== 'object' || !('unary' in grad) || !('transition' in grad)) {
      throw typeError('ERR_INVALID_ARG_TYPE', 'grad must be { unary, transition }');
    }
    const unary = requireConsistent(grad.unary, 'grad.unary');
    const transition = requireConsistent(grad.transition, 'grad.transition');
    const [B, N, C] = [this.batch, this.length, this.labels];
    if (unary.size !== B * N * C) {
      throw rangeError('ERR_SHAPE_MISMATCH', `grad.unary must have shape [${B}, ${N}, ${C}], got [${unary.shape.join(', ')}]`);
    }
    if (transition.size !== B * C * C) {
      throw rangeError('ERR_SHAPE_MISMATCH', `grad.transition must have shape [${B}, ${C}, ${C}], got [${transition.shape.join(', ')}]`);
    }
    if (this.onDevice && unary instanceof DeviceTensor && transition instanceof DeviceTensor) return this.paramsGradOnDevice(unary, transition, B);
    return this.paramsGrad(hostData(unary), hostData(transition), B);
  }

  /** SparseMAP needs a chain's edge parts; the HMM is a factored chain: always TypeError ERR_INVALID_ARG_TYPE. */
  sparsemap(options?: SparseMapOptions): HMMSparseMap<X> {
    void options;
    throw this.noSparseMap();
  }
  /** Async {@link sparsemap}: rejects with TypeError ERR_INVALID_ARG_TYPE. */
  async sparsemapAsync(options?: SparseMapOptions): Promise<HMMSparseMap<X>> {
    return this.sparsemap(options);
  }
  /** See {@link sparsemap}: always TypeError ERR_INVALID_ARG_TYPE. */
  sparsemapBackward(grad: HMMParts<X>, solution?: HMMSparseMap<X>): HMMParams<Like<X>> {
    void grad;
    void solution;
    throw this.noSparseMap();
  }
  /** See {@link sparsemap}: always TypeError ERR_INVALID_ARG_TYPE. */
  supportParts(solution: HMMSparseMap<X>): HMMParts<X> {
    void solution;
    throw this.noSparseMap();
  }

  /**
   * A LinearChainCRF with the same lengths and device option over other scores given over the parts (`{ unary
   * [B, N, C], transition [B, C, C] }`, from i to j): arbitrary part scores are no HMM's, so the result is the chain.
   */
  withScores(scores: HMMParts<X>): LinearChainCRF<FactoredPotentials<X>> {
    return this.crf.withScores(scores);
  }

  /** Frees the device copies of the chain's potentials (a no-op for host structures). */
  dispose(): void {
    this.crf.dispose();
    this.owned.forEach((t) => t.dispose());
  }

  /**
   * KL(this ‖ other) per sequence, `[B]` host float64, exact (structures/divergence.ts): ≥ 0, +Infinity where
   * `other` forbids (−Infinity) a part this distribution uses.
   * @throws TypeError ERR_INVALID_ARG_TYPE when other is another kind of structure; RangeError ERR_SHAPE_MISMATCH
   *   when its shape (N, C) or lengths (the observations may differ) differ
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
  klBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<HMMParams<Like<X>>> {
    return divergence.divergenceBackward('kl', this, this.sameFamily(other), grad);
  }
  /** Gradients of Σ_b grad_b·H_b(this, other): `self` = −Cov_this(z)·s_other, `other` = μ_other − μ_this (scaled). */
  crossEntropyBackward(other: this, grad: ArrayLike<number>): DivergenceGrad<HMMParams<Like<X>>> {
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
  async klBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<HMMParams<Like<X>>>> {
    return divergence.divergenceBackwardAsync('kl', this, this.sameFamily(other), grad);
  }
  /** Async {@link crossEntropyBackward}. */
  async crossEntropyBackwardAsync(other: this, grad: ArrayLike<number>): Promise<DivergenceGrad<HMMParams<Like<X>>>> {
    return divergence.divergenceBackwardAsync('crossEntropy', this, this.sameFamily(other), grad);
  }
  /** Async {@link count}. */
  async countAsync(): Promise<Float64Array> {
    return divergence.countAsync(this);
  }

  /** `other`, checked to be this kind of structure with the same shape (N, C) or lengths (the observations may differ). */
  private sameFamily(other: this): this {
    return requireSameFamily(this, other, (s) => ({ lengths: s.lengths }));
  }

  /** Parameter gradients from a chain gradient `{ unary [B, N, C], transition [C, C] }` (freed when on the device). */
  private toParams(grad: FactoredParts): HMMParams<Like<X>> {
    if (this.onDevice && grad.unary instanceof DeviceTensor && grad.transition instanceof DeviceTensor) {
      try {
        return this.paramsGradOnDevice(grad.unary, grad.transition, grad.transition.size / (this.labels * this.labels));
      } finally {
        grad.unary.dispose();
        grad.transition.dispose();
      }
    }
    const unary = grad.unary instanceof DeviceTensor ? grad.unary.toHost() : grad.unary;
    const transition = grad.transition instanceof DeviceTensor ? grad.transition.toHost() : grad.transition;
    if (grad.unary instanceof DeviceTensor) grad.unary.dispose();
    if (grad.transition instanceof DeviceTensor) grad.transition.dispose();
    return this.paramsGrad(unary.data, transition.data, transition.size / (this.labels * this.labels));
  }

  /**
   * The chain rule from the chain's potentials to the parameters, in float64: `unary [B, N, C]`, `transition`
   * `[T, C, C]` (T = 1 or B, summed), as tensors in the parameters' dtype where results live.
   */
  private paramsGrad(unary: ArrayLike<number>, transition: ArrayLike<number>, T: number): HMMParams<Like<X>> {
    const [B, N, C, V] = [this.batch, this.length, this.labels, this.vocabulary];
    const emission = new Float64Array(V * C);
    const init = new Float64Array(C);
    const flipped = new Float64Array(C * C);
    for (let b = 0; b < B; b++) {
      const L = this.lengths ? this.lengths[b] : N;
      for (let c = 0; c < C; c++) init[c] += unary[b * N * C + c];
      for (let n = 0; n < L; n++) {
        const row = this.observations[b * N + n] * C;
        const at = (b * N + n) * C;
        for (let c = 0; c < C; c++) emission[row + c] += unary[at + c];
      }
    }
    for (let q = 0; q < T; q++) {
      for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) flipped[j * C + i] += transition[(q * C + i) * C + j];
    }
    const place = (values: Float64Array, shape: number[]): Like<X> => {
      const t = new Tensor(this.dtype === 'float64' ? values : Float32Array.from(values), shape);
      return (this.onDevice ? t.toDevice(this.home) : t) as Like<X>;
    };
    return { transition: place(flipped, [C, C]), emission: place(emission, [V, C]), init: place(init, [C]) };
  }

  /**
   * {@link paramsGrad} where device gradients live (the same float64 sums, in the same order, by native kernels):
   * emission rows gathered by observation and init from the first positions (partsGatherSum; only the
   * observation-sorted position lists, O(B·N + V) int32, cross), transition summed over T and transposed
   * (partsSumRowsTransposed).
   */
  private paramsGradOnDevice(unary: DeviceTensor, transition: DeviceTensor, T: number): HMMParams<Like<X>> {
    const [B, N, C, V] = [this.batch, this.length, this.labels, this.vocabulary];
    // Positions (b, n) within the lengths, grouped by observation v, in (b, n) order within each group.
    const offsets = new Int32Array(V + 1);
    const lengthOf = (b: number): number => (this.lengths ? this.lengths[b] : N);
    for (let b = 0; b < B; b++) for (let n = 0; n < lengthOf(b); n++) offsets[this.observations[b * N + n] + 1]++;
    for (let v = 0; v < V; v++) offsets[v + 1] += offsets[v];
    const cursor = offsets.slice(0, V);
    const members = new Int32Array(offsets[V]);
    for (let b = 0; b < B; b++) for (let n = 0; n < lengthOf(b); n++) members[cursor[this.observations[b * N + n]]++] = b * N + n;
    const emission = fromNative(native.partsGatherSum(toNative(unary), C, offsets, members), [V, C]);
    const init = fromNative(native.partsGatherSum(toNative(unary), C, Int32Array.of(0, B), Int32Array.from({ length: B }, (_, b) => b * N)), [C]);
    // flipped[j, i] = Σ_q transition[q, i, j].
    const flipped = fromNative(native.partsSumRowsTransposed(toNative(transition.reshape([T, C, C]))), [C, C]);
    return { transition: flipped, emission, init } as HMMParams<Like<X>>;
  }

  private noSparseMap(): Error {
    return typeError(
      'ERR_INVALID_ARG_TYPE',
      'SparseMAP of an HMM is not available: it is a factored linear chain (SparseMAP needs edge potentials [B, N-1, C, C])',
    );
  }
}
