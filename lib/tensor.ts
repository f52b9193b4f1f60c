/**
 * Tensors: `Tensor` (host memory: a Float32Array or Float64Array and a row-major shape) and `DeviceTensor`
 * (GPU memory). Computation follows data: ops on a Tensor run on the CPU backend, ops on a DeviceTensor run
 * on CUDA and return DeviceTensors, so chained ops stay on the device.
 */
import { rangeError, resourceError, typeError } from './errors';
import { FloatArray, NativeDeviceBuffer, NativeFloat, NativeTensorArg, native } from './native';

/** Element type of a float tensor. */
export type DType = 'float32' | 'float64';

/**
 * Where an op should run: `'cpu'`, `'cuda:N'` (CUDA device N, as listed by `backendInfo().cuda.devices`),
 * `'cuda'` (the default CUDA device: `cuda:0` unless {@link setDefaultDevice} changed it), or (no option) where
 * its inputs live.
 */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** Most device indices the library addresses (cuda:0 .. cuda:63). */
const MAX_DEVICES = 64;
let defaultDeviceIndex = 0;

function checkIndex(index: unknown, name: string): number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_DEVICES) {
    throw rangeError('ERR_OUT_OF_RANGE', `${name} must be a device index, an integer in [0, ${MAX_DEVICES - 1}], got ${String(index)}`);
  }
  return index;
}

/**
 * Sets the CUDA device that `'cuda'` and `toDevice()` mean in this JS realm (this thread: each `worker_thread`
 * has its own): a data-parallel worker calls it once with its device. Default 0. Whether the device exists is
 * checked when it is used (RangeError ERR_NO_DEVICE).
 * @param index the device index N of `cuda:N`, an integer in [0, 63]
 * @throws RangeError ERR_OUT_OF_RANGE
 */
export function setDefaultDevice(index: number): void {
  defaultDeviceIndex = checkIndex(index, 'index');
}

/** The index of the CUDA device `'cuda'` and `toDevice()` mean (see {@link setDefaultDevice}). */
export function defaultDevice(): number {
  return defaultDeviceIndex;
}

/**
 * Checks a `device` option: undefined, `'cpu'`, `'cuda'` or `'cuda:N'` (N a decimal integer in [0, 63]).
 * @throws RangeError ERR_OUT_OF_RANGE for anything else
 * @internal
 */
export function checkDevice(device: unknown, name = 'device'): Device | undefined {
  if (device === undefined || device === 'cpu' || device === 'cuda') return device;
  if (typeof device === 'string') {
    const match = /^cuda:(0|[1-9][0-9]?)$/.exec(device);
    if (match && Number(match[1]) < MAX_DEVICES) return device as Device;
  }
  throw rangeError('ERR_OUT_OF_RANGE', `${name} must be 'cpu', 'cuda' or 'cuda:N' (N in [0, ${MAX_DEVICES - 1}]), got ${String(device)}`);
}

/** The CUDA device index a device option names (`'cuda'`: the default device), or undefined for `'cpu'`. @internal */
export function cudaIndex(device: Device): number | undefined {
  if (device === 'cpu') return undefined;
  if (device === 'cuda') return defaultDeviceIndex;
  return Number(device.slice(5));
}

/** Where a tensor lives, for messages and comparisons: `'cpu'` or `'cuda:N'`. @internal */
export function placeOf(t: Tensor | DeviceTensor): 'cpu' | `cuda:${number}` {
  return t instanceof DeviceTensor ? `cuda:${t.deviceIndex}` : 'cpu';
}

const MAX_DIM = 2 ** 31 - 1;
/** Most elements of a host tensor: V8's typed arrays hold at most 2^32 on 64-bit Node 20 (more in newer V8). */
const MAX_HOST_ELEMENTS = 2 ** 32 - 1;

/** Checks a shape (1 to 8 positive integer dims) and returns its element count. */
export function shapeSize(shape: readonly number[], name = 'shape'): number {
  if (!Array.isArray(shape)) throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an array of dimensions`);
  if (shape.length < 1 || shape.length > 8) {
    throw rangeError('ERR_INVALID_SHAPE', `${name} must have 1 to 8 dimensions, got ${shape.length}`);
  }
  let size = 1;
  shape.forEach((dim, i) => {
    if (typeof dim !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `${name}[${i}] must be a number`);
    if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
      throw rangeError('ERR_INVALID_SHAPE', `${name}[${i}] must be an integer in [1, 2^31 - 1], got ${dim}`);
    }
    size *= dim;
  });
  if (size > 2 ** 50) throw rangeError('ERR_SIZE_OVERFLOW', `${name} has too many elements (more than 2^50)`);
  return size;
}

/**
 * Typed-array kind by its tag, not `instanceof`: arrays made by the addon or another realm (vm contexts,
 * jest) fail `instanceof` against this realm's constructors.
 */
export function typedArrayKind(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value)) return undefined;
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** Whether value is a Float32Array or Float64Array (of any realm). */
export function isFloatArray(value: unknown): value is FloatArray {
  const kind = typedArrayKind(value);
  return kind === 'Float32Array' || kind === 'Float64Array';
}

function dtypeOf(data: FloatArray): DType {
  return typedArrayKind(data) === 'Float32Array' ? 'float32' : 'float64';
}

/** A float tensor in host memory, row-major. */
export class Tensor {
  /** The elements, row-major. */
  readonly data: FloatArray;
  /** The dimensions. */
  readonly shape: readonly number[];

  /**
   * @param data the elements, row-major (Float32Array or Float64Array; kept, not copied)
   * @param shape the dimensions; their product must equal `data.length`
   * @throws TypeError ERR_INVALID_ARG_TYPE, RangeError ERR_INVALID_SHAPE / ERR_SHAPE_MISMATCH
   */
  constructor(data: FloatArray, shape: readonly number[]) {
    if (!isFloatArray(data)) {
      throw typeError('ERR_INVALID_ARG_TYPE', 'data must be a Float32Array or Float64Array');
    }
    const size = shapeSize(shape);
    if (size !== data.length) {
      throw rangeError(
        'ERR_SHAPE_MISMATCH',
        `shape [${shape.join(', ')}] needs ${size} elements but data has ${data.length}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  /**
   * A tensor of zeros.
   * @throws TypeError ERR_INVALID_ARG_TYPE, RangeError ERR_INVALID_SHAPE / ERR_SIZE_OVERFLOW (more elements than
   *   a typed array holds), Error ERR_OUT_OF_MEMORY
   */
  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw typeError('ERR_INVALID_ARG_TYPE', `dtype must be 'float32' or 'float64', got ${String(dtype)}`);
    }
    const size = shapeSize(shape);
    if (size > MAX_HOST_ELEMENTS) {
      throw rangeError('ERR_SIZE_OVERFLOW', `shape [${shape.join(', ')}] has ${size} elements; a typed array holds at most 2^32 - 1`);
    }
    let data: FloatArray;
    try {
      data = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
    } catch (error) {
      throw Object.assign(resourceError('ERR_OUT_OF_MEMORY', `out of host memory: cannot allocate a tensor of shape [${shape.join(', ')}]`), { cause: error });
    }
    return new Tensor(data, shape);
  }

  /** 'float32' or 'float64'. */
  get dtype(): DType {
    return dtypeOf(this.data);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Always `'cpu'`. */
  get device(): 'cpu' {
    return 'cpu';
  }

  /** The element at a full multi-index (row-major). */
  get(...index: number[]): number {
    if (index.length !== this.shape.length) {
      throw rangeError('ERR_INVALID_SHAPE', `get needs ${this.shape.length} indices, got ${index.length}`);
    }
    let offset = 0;
    index.forEach((i, d) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[d]) {
        throw rangeError('ERR_OUT_OF_RANGE', `index ${i} is out of range for dimension ${d} of size ${this.shape[d]}`);
      }
      offset = offset * this.shape[d] + i;
    });
    return this.data[offset];
  }

  /** A view with another shape of the same size (shares the data). */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.data, shape);
  }

  /** This tensor as nested arrays (for printing and tests). */
  toArray(): unknown[] {
    const build = (dim: number, offset: number): unknown[] => {
      const out: unknown[] = [];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      for (let i = 0; i < this.shape[dim]; i++) {
        out.push(dim === this.shape.length - 1 ? this.data[offset + i] : build(dim + 1, offset + i * stride));
      }
      return out;
    };
    return build(0, 0);
  }

  /**
   * A copy in GPU memory.
   * @param device the CUDA device: an index N (`cuda:N`), `'cuda:N'`, or `'cuda'` / none for the default device
   *   (cuda:0 unless {@link setDefaultDevice} changed it)
   * @throws Error ERR_NO_CUDA when no CUDA device is usable, RangeError ERR_NO_DEVICE when device N does not
   *   exist, RangeError ERR_OUT_OF_RANGE for a malformed device
   */
  toDevice(device?: number | Device): DeviceTensor {
    return new DeviceTensor(native.DeviceBuffer.fromHost(this.data, this.shape, deviceArgument(device)));
  }

  /** This tensor (already on the host). */
  toHost(): Tensor {
    return this;
  }
}

/** The device index a `toDevice(device)` argument names. */
function deviceArgument(device: number | Device | undefined): number {
  if (device === undefined) return defaultDeviceIndex;
  if (typeof device === 'number') return checkIndex(device, 'device');
  const checked = checkDevice(device);
  const index = checked === undefined ? undefined : cudaIndex(checked);
  if (index === undefined) throw rangeError('ERR_OUT_OF_RANGE', `toDevice needs a CUDA device, got ${String(device)}`);
  return index;
}

/** What a value is, for messages: `null`, `an array`, or its typeof. */
function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Whether value has the form of a native device buffer: the addon's DeviceBuffer, or an object with its members
 * (dtype, shape, toHost, dispose); the addon itself rejects what it did not make.
 */
function isDeviceBuffer(value: unknown): value is NativeDeviceBuffer {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<Record<keyof NativeDeviceBuffer, unknown>>;
  return Array.isArray(v.shape) && typeof v.dtype === 'string' && typeof v.toHost === 'function' && typeof v.dispose === 'function';
}

/** A float tensor in GPU memory. Free it with `dispose()`; a finalizer frees it too when it is collected. */
export class DeviceTensor {
  /** The native buffer (internal). */
  readonly handle: NativeDeviceBuffer;
  /** The dimensions. */
  readonly shape: readonly number[];

  /** @internal wraps a native buffer; make DeviceTensors with `tensor.toDevice()`. */
  constructor(handle: NativeDeviceBuffer, shape?: readonly number[]) {
    if (!isDeviceBuffer(handle)) {
      throw typeError(
        'ERR_INVALID_ARG_TYPE',
        `DeviceTensor needs a native device buffer (handle), got ${describe(handle)}: make DeviceTensors with tensor.toDevice()`,
      );
    }
    this.handle = handle;
    const own = shape ?? handle.shape;
    if (shapeSize(own) !== handle.shape.reduce((a, b) => a * b, 1)) {
      throw rangeError('ERR_SHAPE_MISMATCH', `cannot view [${handle.shape.join(', ')}] as [${own.join(', ')}]`);
    }
    this.shape = Object.freeze([...own]);
  }

  /** A view with another shape of the same size (shares the device memory). */
  reshape(shape: readonly number[]): DeviceTensor {
    return new DeviceTensor(this.handle, shape);
  }

  /** 'float32' or 'float64'. */
  get dtype(): DType {
    return this.handle.dtype;
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Always `'cuda'`; {@link deviceIndex} says which device. */
  get device(): 'cuda' {
    return 'cuda';
  }

  /** The index N of the CUDA device (`cuda:N`) holding the memory; ops on this tensor run there. */
  get deviceIndex(): number {
    return typeof this.handle.device === 'number' ? this.handle.device : 0;
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** A copy in host memory. @throws TypeError ERR_TENSOR_DISPOSED */
  toHost(): Tensor {
    return new Tensor(this.handle.toHost(), this.shape);
  }

  /**
   * This tensor when it is already on `device` (default: its own device), else a copy there (through host memory).
   * @throws as {@link Tensor.toDevice}
   */
  toDevice(device?: number | Device): DeviceTensor {
    if (device === undefined) return this;
    const index = deviceArgument(device);
    return index === this.deviceIndex ? this : this.toHost().toDevice(index);
  }

  /** Frees the GPU memory now (idempotent). Pending async ops that use it keep it alive until they finish. */
  dispose(): void {
    this.handle.dispose();
  }
}

/** A host or device tensor. */
export type AnyTensor = Tensor | DeviceTensor;

/** The tensor kind an op returns for an input of kind X: DeviceTensor for DeviceTensor, else Tensor. */
export type Like<X extends AnyTensor> = X extends DeviceTensor ? DeviceTensor : Tensor;

/** Same as `new Tensor(data, shape)`. */
export function tensor(data: FloatArray, shape: readonly number[]): Tensor {
  return new Tensor(data, shape);
}

/** Wraps a native float result with the given shape (host) or as returned (device). @internal */
export function fromNative(result: NativeFloat, shape: readonly number[]): AnyTensor {
  if (isFloatArray(result)) return new Tensor(result, shape);
  return new DeviceTensor(result, shape);
}

/** The addon's view of a tensor. @internal */
export function toNative(t: AnyTensor): NativeTensorArg {
  return t instanceof DeviceTensor ? { handle: t.handle, shape: t.shape } : { data: t.data, shape: t.shape };
}

/** Checks that `value` is a Tensor or DeviceTensor. @internal */
export function requireTensor(value: unknown, name: string): AnyTensor {
  if (value instanceof Tensor || value instanceof DeviceTensor) return value;
  throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a Tensor or DeviceTensor`);
}
