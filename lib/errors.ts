/** Error codes thrown by latent-struct, on the JS side and by the native addon alike. */
export type ErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_SHAPE'
  | 'ERR_SHAPE_MISMATCH'
  | 'ERR_SIZE_OVERFLOW'
  | 'ERR_INVALID_SCORES'
  | 'ERR_NOT_FINITE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_DTYPE_MISMATCH'
  | 'ERR_MIXED_DEVICES'
  | 'ERR_TENSOR_DISPOSED'
  | 'ERR_BUFFER_DETACHED'
  | 'ERR_OUT_ALIASES_INPUT'
  | 'ERR_ILLEGAL_CONSTRUCTOR'
  | 'ERR_NO_CUDA'
  | 'ERR_NO_DEVICE'
  | 'ERR_CUDA'
  | 'ERR_CUDA_OOM'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_ADDON_NOT_FOUND'
  | 'ERR_NOT_IMPLEMENTED'
  | 'ERR_INTERNAL';

/** An Error (TypeError, RangeError or Error) carrying one of the library's codes. */
export type CodedError = Error & { code: ErrorCode };

/** A TypeError with `code`: the argument has the wrong kind (type, dtype, device). */
export function typeError(code: ErrorCode, message: string): CodedError {
  return Object.assign(new TypeError(message), { code });
}

/** A RangeError with `code`: the argument has the right kind but a bad value (shape, range). */
export function rangeError(code: ErrorCode, message: string): CodedError {
  return Object.assign(new RangeError(message), { code });
}

/** An Error with `code`: a resource ran out (host or GPU memory) or a backend failed; the input may be fine. */
export function resourceError(code: ErrorCode, message: string): CodedError {
  return Object.assign(new Error(message), { code });
}

/**
 * Checks an options argument: `undefined` gives `{}`; anything but a plain object (null, a number, a string, a
 * boolean, an array, a function) is a TypeError ERR_INVALID_ARG_TYPE naming it. @internal
 */
export function optionsObject<T extends object>(value: T | undefined, name = 'options'): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an object, got ${got}`);
  }
  return value;
}
