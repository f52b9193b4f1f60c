/**
 * What the structure classes share: option checks and the placement of a structure's tensors (`device`
 * option: inputs copied once, results brought back to where the caller's potentials live). @internal
 */
import { rangeError, typeError } from '../errors';
import { NativeFloat, native } from '../native';
import { AnyTensor, Device, DeviceTensor, fromNative, toNative } from '../tensor';
import { requireSamePlace, resultToHost } from '../ops/placement';

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

/** Checks a `device` option. */
export function checkDevice(device: unknown): Device | undefined {
  if (device === undefined || device === 'cpu' || device === 'cuda') return device;
  throw rangeError('ERR_OUT_OF_RANGE', `device must be 'cpu' or 'cuda', got ${String(device)}`);
}

/** Checks optional lengths: B integers in [1, N]; null when absent. */
export function checkLengths(lengths: Int32Array | readonly number[] | undefined, batch: number, length: number): Int32Array | null {
  if (lengths === undefined) return null;
  if (!Array.isArray(lengths) && !ArrayBuffer.isView(lengths)) {
    throw typeError('ERR_INVALID_ARG_TYPE', 'lengths must be an Int32Array or an array of integers');
  }
  const values = Int32Array.from(lengths as ArrayLike<number>);
  if (values.length !== batch) {
    throw rangeError('ERR_SHAPE_MISMATCH', `lengths must hold B = ${batch} entries, got ${values.length}`);
  }
  Array.from(lengths as ArrayLike<number>).forEach((v, b) => {
    if (!Number.isInteger(v) || v < 1 || v > length) {
      throw rangeError('ERR_OUT_OF_RANGE', `lengths[${b}] = ${v} is outside [1, ${length}]`);
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

  /** The potentials on the target device (a copy when they live elsewhere). */
  place(t: AnyTensor): AnyTensor {
    const moved = this.target === 'cuda' ? t.toDevice() : this.target === 'cpu' ? t.toHost() : t;
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
      const moved = t.toDevice();
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
