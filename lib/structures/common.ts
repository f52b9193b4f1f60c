/**
 * What the structure classes share: option checks and the placement of a structure's tensors (`device`
 * option: inputs copied once, results brought back to where the caller's potentials live). @internal
 */
import { rangeError, typeError } from '../errors';
import { NativeFloat, NativeSparseMapOptions, NativeSparseMap, native } from '../native';
import {
  AnyTensor,
  DType,
  Device,
  DeviceTensor,
  Like,
  Tensor,
  checkDevice as checkTensorDevice,
  cudaIndex,
  fromNative,
  placeOf,
  requireTensor,
  toNative,
} from '../tensor';
import { onCudaDevice, requireSamePlace, resultToHost } from '../ops/placement';

/** Options of the Gumbel perturbations of a structure. */
export interface PerturbOptions {
  /** Philox seed of the noise: G = gumbelNoise(shape, { seed }) over the scores (the same on CPU and CUDA). */
  seed: number | bigint;
  /** τ > 0 (default 1); see each method for what it scales. */
  temperature?: number;
}

/** The temperature of perturbation options: a finite number > 0, default 1. */
export function temperatureOf(options: PerturbOptions): number {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  const tau = options.temperature ?? 1;
  if (typeof tau !== 'number' || !(tau > 0) || !Number.isFinite(tau)) {
    throw rangeError('ERR_OUT_OF_RANGE', `temperature must be a finite number > 0, got ${String(tau)}`);
  }
  return tau;
}

/** scale · (t + noiseScale · G), G the Gumbel noise of (seed, stream), where t lives (noiseScale 0: t scaled). */
export function perturbNative(t: AnyTensor, seed: number | bigint, stream: number, noiseScale: number, scale: number): NativeFloat {
  return native.gumbelPerturb(toNative(t), seed, stream, noiseScale, scale, false);
}

/** Async {@link perturbNative}. */
export function perturbNativeAsync(
  t: AnyTensor,
  seed: number | bigint,
  stream: number,
  noiseScale: number,
  scale: number,
): Promise<NativeFloat> {
  return native.gumbelPerturb(toNative(t), seed, stream, noiseScale, scale, true);
}

/** Settings of a structure's `sparsemap()`. */
export interface SparseMapOptions {
  /** Most major iterations (MAP oracle calls after the first); default 1000. */
  maxIterations?: number;
  /** Stop when the Frank-Wolfe duality gap is at most this; default 1e-9 (float64 scores) or 1e-5 (float32). */
  tolerance?: number;
  /** Most structures in the active set, 1..1024; default 128. */
  maxActive?: number;
}

/** The SparseMAP solution of each instance (Niculae et al. 2018). */
export interface StructuredSparseMap<X extends AnyTensor> {
  /** μ* = argmax_{μ ∈ M} ⟨scores, μ⟩ − ½‖μ‖², in the scores' shape (zero outside each length). */
  marginals: Like<X>;
  /** support[b][i]: the decoded form (heads, span rows, or labels) of the i-th structure with non-zero weight. */
  support: Int32Array[][];
  /** weights[b][i] > 0, aligned with `support`, summing to 1: μ* = Σᵢ weights[b][i] · parts(support[b][i]). */
  weights: Float64Array[];
  /** Major iterations (MAP oracle calls after the first) per instance, `[B]`. */
  iterations: Int32Array;
  /** Whether the duality gap reached the tolerance, per instance. */
  converged: boolean[];
}


/** The addon's SparseMAP settings from the user's: defaults 1000 iterations, tolerance 1e-9 (float64) or 1e-5. */
export function sparseMapOptions(options: SparseMapOptions, dtype: 'float32' | 'float64'): NativeSparseMapOptions {
  if (options === null || typeof options !== 'object') throw typeError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  return {
    maxIterations: options.maxIterations ?? 1000,
    tolerance: options.tolerance ?? (dtype === 'float64' ? 1e-9 : 1e-5),
    maxActive: options.maxActive ?? 128,
  };
}

/** A native SparseMAP result as the public one; `marginals` wraps the native marginals. */
export function unpackSparseMap<X extends AnyTensor>(
  result: NativeSparseMap,
  batch: number,
  marginals: (m: NativeFloat) => Like<X>,
): StructuredSparseMap<X> {
  const K = result.weights.length / batch;
  const width = result.support.length / (batch * K);
  const support: Int32Array[][] = [];
  const weights: Float64Array[] = [];
  for (let b = 0; b < batch; b++) {
    const size = result.sizes[b];
    support.push(Array.from({ length: size }, (_, i) => result.support.slice((b * K + i) * width, (b * K + i + 1) * width)));
    weights.push(result.weights.slice(b * K, b * K + size));
  }
  return {
    marginals: marginals(result.marginals),
    support,
    weights,
    iterations: result.iterations,
    converged: Array.from(result.converged, (c) => c !== 0),
  };
}

/** A solution's support as the addon takes it: rows [B, K, width] (−1 padded), K the largest support, sizes. */
export function packedSupport(
  solution: { support: Int32Array[][] },
  batch: number,
  width: number,
): { rows: Int32Array; sizes: Int32Array; maxActive: number } {
  const support = solution?.support;
  if (!Array.isArray(support) || support.length !== batch) {
    throw typeError('ERR_INVALID_ARG_TYPE', `solution.support must be an array of B = ${batch} supports`);
  }
  const K = Math.max(1, ...support.map((s) => (Array.isArray(s) ? s.length : 0)));
  const rows = new Int32Array(batch * K * width).fill(-1);
  const sizes = new Int32Array(batch);
  support.forEach((structures, b) => {
    if (!Array.isArray(structures)) throw typeError('ERR_INVALID_ARG_TYPE', `solution.support[${b}] must be an array`);
    sizes[b] = structures.length;
    structures.forEach((decoded, i) => {
      if (!ArrayBuffer.isView(decoded) || (decoded as Int32Array).length !== width) {
        throw rangeError('ERR_SHAPE_MISMATCH', `solution.support[${b}][${i}] must be an Int32Array of ${width} entries`);
      }
      rows.set(decoded as Int32Array, (b * K + i) * width);
    });
  });
  return { rows, sizes, maxActive: K };
}

/** Checks a `device` option: undefined, `'cpu'`, `'cuda'` or `'cuda:N'` (RangeError ERR_OUT_OF_RANGE otherwise). */
export function checkDevice(device: unknown): Device | undefined {
  return checkTensorDevice(device);
}

/**
 * A structure's potentials placed per a checked `device` option: `'cpu'` → on the host; `'cuda:N'` → on device N
 * (host tensors copied; device tensors must be there: ERR_MIXED_DEVICES); `'cuda'` → host tensors to the default
 * device, device tensors where they are; undefined → as they are.
 */
export function placeOn(t: AnyTensor, device: Device | undefined, name: string): AnyTensor {
  if (device === undefined) return t;
  const index = cudaIndex(device);
  if (index === undefined) return t.toHost();
  if (device === 'cuda' && t instanceof DeviceTensor) return t;
  return onCudaDevice(t, index, name);
}

/** Checks optional lengths: B integers in [1, N]; null when absent. */
export function checkLengths(
  lengths: Int32Array | readonly number[] | undefined,
  batch: number,
  length: number,
  name = 'lengths',
): Int32Array | null {
  if (lengths === undefined) return null;
  if (!Array.isArray(lengths) && !ArrayBuffer.isView(lengths)) {
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an Int32Array or an array of integers`);
  }
  const values = Int32Array.from(lengths as ArrayLike<number>);
  if (values.length !== batch) {
    throw rangeError('ERR_SHAPE_MISMATCH', `${name} must hold B = ${batch} entries, got ${values.length}`);
  }
  Array.from(lengths as ArrayLike<number>).forEach((v, b) => {
    if (!Number.isInteger(v)) {
      throw rangeError('ERR_OUT_OF_RANGE', `${name}[${b}] = ${String(v)} must be an integer in [1, ${length}]`);
    }
    if (v < 1 || v > length) {
      throw rangeError('ERR_OUT_OF_RANGE', `${name}[${b}] = ${v} is outside [1, ${length}]`);
    }
  });
  return values;
}

/**
 * Where a structure runs. With `device: 'cuda'` for host potentials, the potentials are copied to the GPU once
 * (owned, freed by dispose()), results are copied back to the host and host gradients go to the GPU for the
 * call; otherwise everything stays where the potentials live.
 */
export class Placement {
  private readonly owned: DeviceTensor[] = [];
  private readonly target: Device | undefined;

  constructor(device: unknown) {
    this.target = checkDevice(device);
  }

  /** The potentials on the target device (a copy when they live elsewhere; see {@link placeOn}). */
  place(t: AnyTensor, name = 'potentials'): AnyTensor {
    const moved = placeOn(t, this.target, name);
    if (moved !== t && moved instanceof DeviceTensor) this.owned.push(moved);
    return moved;
  }

  /** True when host potentials were copied to the GPU (results then go back to the host). */
  get movedToDevice(): boolean {
    return this.owned.length > 0;
  }

  /** A native result as a tensor where the caller's potentials live. */
  result(value: NativeFloat, shape: readonly number[]): AnyTensor {
    const t = fromNative(value, shape);
    return this.movedToDevice ? resultToHost(t) : t;
  }

  /**
   * Another input (a gradient, parts) next to the placed potentials `home`: moved to the GPU for the call
   * when the potentials were; `temporaries` must be disposed after the call.
   */
  input(t: AnyTensor, name: string, home: AnyTensor, homeName: string): { tensor: AnyTensor; temporaries: DeviceTensor[] } {
    if (this.movedToDevice && t.device === 'cpu') {
      const moved = t.toDevice(this.owned[0].deviceIndex);
      return { tensor: moved, temporaries: [moved] };
    }
    requireSamePlace([home, t], [homeName, name]);
    return { tensor: t, temporaries: [] };
  }

  /** Frees the device copies this placement made. */
  dispose(): void {
    this.owned.forEach((t) => t.dispose());
    this.owned.length = 0;
  }
}

/** Frees a native device result that a method does not return. */
export function disposeNative(value: NativeFloat | undefined): void {
  if (value !== undefined && !ArrayBuffer.isView(value)) value.dispose();
}

/** Options of a method that can write its result into tensors the caller owns (PyTorch's `out=`). */
export interface OutOptions<R> {
  /**
   * Where to write the result instead of new tensors: a value of the method's result type (same dtype, shape and
   * place: Tensor or DeviceTensor), returned by the method. Every element is overwritten. It must not share
   * memory with an input or with another of its tensors (RangeError ERR_OUT_ALIASES_INPUT). Async forms write it
   * when the promise resolves (a SharedArrayBuffer-backed array is written while the job runs: read it after).
   */
  out?: R;
}

/** The dtype, shape and place of a result. @internal */
export interface ResultSpec {
  dtype: DType;
  shape: readonly number[];
  device: Device;
  /** The CUDA device of a device result (when known). */
  deviceIndex?: number;
}

/** Checks a caller's `out` tensor (named `name`) against the result it receives. @internal */
export function checkOut(value: unknown, name: string, spec: ResultSpec): AnyTensor {
  const t = requireTensor(value, name);
  if (t.device !== spec.device || (spec.deviceIndex !== undefined && t instanceof DeviceTensor && t.deviceIndex !== spec.deviceIndex)) {
    const where = spec.deviceIndex !== undefined ? `cuda:${spec.deviceIndex}` : spec.device;
    throw typeError('ERR_MIXED_DEVICES', `${name} is on ${placeOf(t)} but the result is on ${where}`);
  }
  if (t instanceof DeviceTensor && t.disposed) throw typeError('ERR_TENSOR_DISPOSED', `${name} is a disposed DeviceTensor`);
  if (t.dtype !== spec.dtype) throw typeError('ERR_DTYPE_MISMATCH', `${name} is ${t.dtype} but the result is ${spec.dtype}`);
  if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
    throw rangeError('ERR_SHAPE_MISMATCH', `${name} must have the result's shape [${spec.shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
  return t;
}

/** Whether two tensors share memory (host: overlapping bytes of one buffer; device: one buffer). @internal */
export function sharesMemory(a: AnyTensor, b: AnyTensor): boolean {
  if (a instanceof DeviceTensor || b instanceof DeviceTensor) {
    return a instanceof DeviceTensor && b instanceof DeviceTensor && a.handle === b.handle;
  }
  const x = a.data, y = b.data;
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/** Raises ERR_OUT_ALIASES_INPUT when two of the `out` tensors share memory. @internal */
export function requireDistinctOuts(tensors: readonly AnyTensor[], names: readonly string[]): void {
  for (let i = 0; i < tensors.length; i++) {
    for (let j = 0; j < i; j++) {
      if (sharesMemory(tensors[i], tensors[j])) throw rangeError('ERR_OUT_ALIASES_INPUT', `${names[i]} shares memory with ${names[j]}`);
    }
  }
}

/** Copies a device result into the caller's host `out` tensor and frees it (results of `{ device: 'cuda' }`). @internal */
export function copyResultInto(out: Tensor, result: NativeFloat): void {
  if (ArrayBuffer.isView(result)) {
    out.data.set(result);
    return;
  }
  out.data.set(result.toHost());
  result.dispose();
}
