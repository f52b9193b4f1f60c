/**
 * The tensor API fuzzed: `new Tensor` / `tensor`, `Tensor.zeros`, `get`, `reshape`, `toArray`, `toDevice` /
 * `toHost`, `shapeSize`, `backendInfo` and `synchronize` with arbitrary data, shapes and indices. Valid calls are
 * checked (sizes, dtypes, elements); invalid ones must raise a coded error.
 */
import fc from 'fast-check';

import { Tensor, backendInfo, shapeSize, synchronize, tensor } from '../../../lib';
import { ensure } from './instances';
import { FuzzFailure, badError, outcomeOf, withoutHugeValid } from './outcome';

const calls = ['new Tensor', 'tensor', 'Tensor.zeros', 'get', 'reshape', 'toArray', 'toDevice', 'shapeSize', 'backendInfo', 'synchronize'] as const;

/** One call of the tensor API. */
export interface TensorCase {
  call: (typeof calls)[number];
  data: unknown;
  shape: unknown;
  other: unknown;
  description: string;
}

const dim = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, Number.NaN, Infinity, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 65536, '2', null, 2n) });
const shape = fc.oneof({ weight: 8, arbitrary: fc.array(dim, { minLength: 0, maxLength: 9 }).map(withoutHugeValid) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) });
const data = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => Float64Array.from({ length: n }, (_, i) => i)) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => Float32Array.from({ length: n }, (_, i) => i)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(new Int32Array(4), new Uint8Array(4), [1, 2, 3, 4], null, undefined, 'data', new DataView(new ArrayBuffer(8))) },
);
const index = fc.array(fc.oneof(fc.integer({ min: -1, max: 4 }), fc.constantFrom<unknown>(1.5, Number.NaN, '0')), { maxLength: 5 });

export const tensorCaseArbitrary: fc.Arbitrary<TensorCase> = fc
  .record({ call: fc.constantFrom(...calls), data, shape, other: fc.oneof(shape, index, fc.constantFrom('float32', 'float64', 'int8')) })
  .map((c) => ({ ...c, description: `${c.call} ${String(c.data && Object.prototype.toString.call(c.data))}(${(c.data as { length?: number })?.length}) shape ${JSON.stringify(c.shape, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))} other ${String(c.other)}` }));

type Shape = readonly number[];

function expectElements(t: Tensor, data: ArrayLike<number>): void {
  ensure(t.size === data.length, () => `size ${t.size}, data ${data.length}`);
  for (let i = 0; i < data.length; i++) ensure(Object.is(t.data[i], data[i]), () => `element ${i}`);
}

/** Runs one call; a returned value is checked where its meaning is plain. */
export async function runTensorCase(c: TensorCase): Promise<void> {
  const outcome = await outcomeOf(() => {
    switch (c.call) {
      case 'new Tensor':
      case 'tensor': {
        const t = c.call === 'tensor' ? tensor(c.data as Float64Array, c.shape as Shape) : new Tensor(c.data as Float64Array, c.shape as Shape);
        expectElements(t, c.data as Float64Array);
        ensure(shapeSize(t.shape) === t.size, () => 'shape and size disagree');
        return t;
      }
      case 'Tensor.zeros': {
        const t = Tensor.zeros(c.shape as Shape, c.other as 'float32');
        ensure(t.data.every((v) => v === 0) && t.dtype === c.other, () => 'zeros are not zeros of the dtype');
        return t;
      }
      case 'get': {
        const t = new Tensor(c.data as Float64Array, c.shape as Shape);
        const i = c.other as number[];
        const value = t.get(...i);
        let offset = 0;
        i.forEach((k, d) => (offset = offset * t.shape[d] + k));
        ensure(Object.is(value, t.data[offset]), () => `get(${i.join(', ')}) = ${value}, expected ${t.data[offset]}`);
        return value;
      }
      case 'reshape': {
        const t = new Tensor(c.data as Float64Array, c.shape as Shape).reshape(c.other as Shape);
        expectElements(t, c.data as Float64Array);
        return t;
      }
      case 'toArray':
        return new Tensor(c.data as Float64Array, c.shape as Shape).toArray().flat(9).length;
      case 'toDevice': {
        const host = new Tensor(c.data as Float64Array, c.shape as Shape);
        const device = host.toDevice();
        expectElements(device.toHost(), host.data);
        device.dispose();
        return device.disposed;
      }
      case 'shapeSize':
        return shapeSize(c.shape as Shape, c.other as string);
      case 'backendInfo':
        return backendInfo();
      case 'synchronize':
        return synchronize();
    }
  });
  if (outcome.threw) {
    const bad = badError(outcome.error);
    if (bad) throw new FuzzFailure(`${c.call}: ${bad}${(outcome.error as Error)?.stack ? `\n${(outcome.error as Error).stack}` : ''}`);
  }
}
