/**
 * Running an op where the caller asks: by default where its inputs live; with `{ device: 'cuda' }` host
 * inputs are copied to the GPU and results copied back (and the GPU copies freed); with
 * `{ device: 'cpu' }` device inputs are copied to the host. @internal
 */
import { rangeError, typeError } from '../errors';
import { AnyTensor, Device, DeviceTensor, Tensor } from '../tensor';

/** Options every op takes. */
export interface OpOptions {
  /** Run on this backend, copying inputs there and results back; default: where the inputs live. */
  device?: Device;
}

function checkDevice(device: unknown): Device | undefined {
  if (device === undefined || device === 'cpu' || device === 'cuda') return device;
  throw rangeError('ERR_OUT_OF_RANGE', `device must be 'cpu' or 'cuda', got ${String(device)}`);
}

/** Checks that all inputs live in one place (host or device). */
export function requireSamePlace(inputs: readonly AnyTensor[], names: readonly string[]): void {
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].device !== inputs[0].device) {
      throw typeError(
        'ERR_MIXED_DEVICES',
        `${names[i]} is on ${inputs[i].device} but ${names[0]} is on ${inputs[0].device}`,
      );
    }
  }
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
  if (target === undefined || inputs.length === 0 || inputs[0].device === target) {
    return { inputs: [...inputs], temporaries: [], back: false };
  }
  if (target === 'cpu') return { inputs: inputs.map((t) => t.toHost()), temporaries: [], back: false };
  const temporaries = inputs.map((t) => (t as Tensor).toDevice());
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
