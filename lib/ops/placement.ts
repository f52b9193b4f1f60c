/**
 * Running an op where the caller asks: by default where its inputs live; with `{ device: 'cuda' }` (or
 * `'cuda:N'`) host inputs are copied to that GPU and results copied back (and the GPU copies freed); with
 * `{ device: 'cpu' }` device inputs are copied to the host. Device inputs on another GPU than the one asked for
 * raise ERR_MIXED_DEVICES (no implicit copies between devices); plain `'cuda'` leaves device inputs on their
 * device. @internal
 */
import { typeError } from '../errors';
import { AnyTensor, Device, DeviceTensor, Tensor, checkDevice, cudaIndex, placeOf } from '../tensor';

/** Options every op takes. */
export interface OpOptions {
  /** Run on this backend, copying inputs there and results back; default: where the inputs live. */
  device?: Device;
}

/** Checks that all inputs live in one place (the host, or one CUDA device). */
export function requireSamePlace(inputs: readonly AnyTensor[], names: readonly string[]): void {
  for (let i = 1; i < inputs.length; i++) {
    const here = placeOf(inputs[i]), first = placeOf(inputs[0]);
    if (here !== first) throw typeError('ERR_MIXED_DEVICES', `${names[i]} is on ${here} but ${names[0]} is on ${first}`);
  }
}

/**
 * Where tensors go for a checked `device` option: host tensors to CUDA device `index` (a copy); device tensors
 * must already be there (ERR_MIXED_DEVICES otherwise). @internal
 */
export function onCudaDevice(t: AnyTensor, index: number, name: string): DeviceTensor {
  if (t instanceof DeviceTensor) {
    if (t.deviceIndex !== index) {
      throw typeError('ERR_MIXED_DEVICES', `${name} is on cuda:${t.deviceIndex} but device is cuda:${index}`);
    }
    return t;
  }
  return t.toDevice(index);
}

/** Moves a tensor-bearing result (a tensor, or an object whose values may be tensors) to the host. */
export function resultToHost<R>(result: R): R {
  if (result instanceof DeviceTensor) {
    const host = result.toHost();
    result.dispose();
    return host as unknown as R;
  }
  if (Array.isArray(result)) return result.map((value: unknown) => resultToHost(value)) as R;
  if (result !== null && typeof result === 'object' && !(result instanceof Tensor) && !ArrayBuffer.isView(result)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(result as Record<string, unknown>)) out[key] = resultToHost(value);
    return out as R;
  }
  return result;
}

interface Moved {
  inputs: AnyTensor[];
  temporaries: DeviceTensor[];
  back: boolean;
}

function move(inputs: readonly AnyTensor[], names: readonly string[], device: Device | undefined): Moved {
  const target = checkDevice(device);
  requireSamePlace(inputs, names);
  if (target === undefined || inputs.length === 0) return { inputs: [...inputs], temporaries: [], back: false };
  const index = cudaIndex(target);
  if (index === undefined) return { inputs: inputs.map((t) => t.toHost()), temporaries: [], back: false };
  if (inputs[0] instanceof DeviceTensor) {
    // 'cuda' (no index) keeps device inputs on the device they are on; 'cuda:N' requires that device.
    if (target === 'cuda') return { inputs: [...inputs], temporaries: [], back: false };
    return { inputs: inputs.map((t, i) => onCudaDevice(t, index, names[i])), temporaries: [], back: false };
  }
  const temporaries = inputs.map((t) => (t as Tensor).toDevice(index));
  return { inputs: temporaries, temporaries, back: true };
}

/** Runs body on the inputs placed per `device` (see module doc); sync. */
export function placed<R>(
  inputs: readonly AnyTensor[],
  names: readonly string[],
  device: Device | undefined,
  body: (inputs: AnyTensor[]) => R,
): R {
  const moved = move(inputs, names, device);
  try {
    const result = body(moved.inputs);
    return moved.back ? resultToHost(result) : result;
  } finally {
    moved.temporaries.forEach((t) => t.dispose());
  }
}

/** Runs body on the inputs placed per `device` (see module doc); async. */
export async function placedAsync<R>(
  inputs: readonly AnyTensor[],
  names: readonly string[],
  device: Device | undefined,
  body: (inputs: AnyTensor[]) => Promise<R>,
): Promise<R> {
  const moved = move(inputs, names, device);
  try {
    const result = await body(moved.inputs);
    return moved.back ? resultToHost(result) : result;
  } finally {
    moved.temporaries.forEach((t) => t.dispose());
  }
}
