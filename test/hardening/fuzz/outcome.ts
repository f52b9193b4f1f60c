/**
 * What the fuzz accepts from a call: a value, or an error of the library's kind — a TypeError or RangeError (bad
 * input) or an Error (no CUDA, out of memory) with one of the library's codes and a message. Anything else (no
 * code, an unknown code, ERR_INTERNAL, a crash) is a failure.
 */
import type { ErrorCode } from '../../../lib';

const knownCodes: Record<ErrorCode, true> = {
  ERR_INVALID_ARG_TYPE: true,
  ERR_INVALID_SHAPE: true,
  ERR_SHAPE_MISMATCH: true,
  ERR_SIZE_OVERFLOW: true,
  ERR_INVALID_SCORES: true,
  ERR_NOT_FINITE: true,
  ERR_OUT_OF_RANGE: true,
  ERR_DTYPE_MISMATCH: true,
  ERR_MIXED_DEVICES: true,
  ERR_NO_DEVICE: true,
  ERR_TENSOR_DISPOSED: true,
  ERR_BUFFER_DETACHED: true,
  ERR_OUT_ALIASES_INPUT: true,
  ERR_ILLEGAL_CONSTRUCTOR: true,
  ERR_NO_CUDA: true,
  ERR_CUDA: true,
  ERR_CUDA_OOM: true,
  ERR_OUT_OF_MEMORY: true,
  ERR_ADDON_NOT_FOUND: true,
  ERR_NOT_IMPLEMENTED: true,
  ERR_INTERNAL: true,
};

/** Codes of errors that are not about the input: the resources or the backend (a plain Error). */
const resourceCodes = new Set<string>(['ERR_NO_CUDA', 'ERR_CUDA', 'ERR_CUDA_OOM', 'ERR_OUT_OF_MEMORY']);

/** The result of a call, awaited when it is a Promise. */
export type Outcome = { threw: false; value: unknown } | { threw: true; error: unknown };

export async function outcomeOf(call: () => unknown): Promise<Outcome> {
  try {
    const value = call();
    return { threw: false, value: value instanceof Promise ? await value : value };
  } catch (error) {
    return { threw: true, error };
  }
}

/** `Name:CODE: message` of an error, for reports. */
export function describeError(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string };
  return `${e?.name}:${e?.code}: ${String(e?.message).slice(0, 300)}`;
}

/** Why an error is not an acceptable library error, or undefined when it is. */
export function badError(error: unknown): string | undefined {
  if (!(error instanceof Object) || typeof (error as Error).message !== 'string') return `threw a non-error ${String(error)}`;
  const { name, code, message } = error as Error & { code?: string };
  if (typeof code !== 'string' || !(code in knownCodes)) return `threw ${describeError(error)} without a library code`;
  if (code === 'ERR_INTERNAL') return `threw an internal error ${describeError(error)}`;
  if (message.length < 8) return `threw ${describeError(error)} without a clear message`;
  const expectedName = resourceCodes.has(code) ? 'Error' : code === 'ERR_ADDON_NOT_FOUND' ? 'TypeError' : undefined;
  if (expectedName ? name !== expectedName : name !== 'TypeError' && name !== 'RangeError') {
    return `threw ${describeError(error)}: a ${code} must be a ${expectedName ?? 'TypeError or RangeError'}`;
  }
  return undefined;
}

/** A property's verdict on one case that the fuzz reports. */
export class FuzzFailure extends Error {}

/** Requires an acceptable library error (see {@link badError}); with `codes`, one of those. */
export function expectLibraryError(outcome: Outcome, what: string, codes?: readonly ErrorCode[]): void {
  if (!outcome.threw) throw new FuzzFailure(`${what}: returned instead of raising ${codes?.join(' or ') ?? 'a coded error'}`);
  const bad = badError(outcome.error);
  if (bad) throw new FuzzFailure(`${what}: ${bad}`);
  const code = (outcome.error as { code: ErrorCode }).code;
  if (codes && !codes.includes(code)) throw new FuzzFailure(`${what}: ${describeError(outcome.error)}, expected ${codes.join(' or ')}`);
}

/** Accepts a value or an acceptable library error. */
export function expectValueOrLibraryError(outcome: Outcome, what: string): void {
  if (!outcome.threw) return;
  const bad = badError(outcome.error);
  if (bad) throw new FuzzFailure(`${what}: ${bad}`);
}

/**
 * A shape as drawn, except that a valid one of more than 2^20 elements becomes one of more than 2^32 (which must be
 * refused): the fuzz must not ask for gigabytes that the host could allocate.
 */
export function withoutHugeValid(shape: unknown): unknown {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) > 0)) return shape;
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  return size > 2 ** 20 && size <= 2 ** 32 ? [2 ** 31 - 1, 2 ** 31 - 1] : shape;
}
