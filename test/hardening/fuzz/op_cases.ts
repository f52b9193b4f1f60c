/**
 * The categorical ops (`ops.*`, lib/ops/categorical.ts), fuzzed: valid calls on random score rows (scales up to
 * ±1e4, −Infinity masks, float32 and float64) checked against the enumeration oracle and the identities of their
 * backward passes, async forms equal to the sync ones, and invalid calls — each under one mutation — that must
 * raise a coded error. The table is keyed by the names `ops` exports (a compile error when one is missing).
 */
import fc from 'fast-check';

import { DType, ErrorCode, Tensor, backendInfo, ops } from '../../../lib';
import * as oracle from '../../oracles/categorical';
import { rng } from '../../helpers';
import { ensure } from './instances';
import { FuzzFailure, expectLibraryError, outcomeOf } from './outcome';
import { fakeDeviceTensor } from './structure_cases';

type OpName = keyof typeof ops;
type Call = (...args: unknown[]) => unknown;
const cudaAvailable = backendInfo().cuda.available;

/** One call of an op: rows of scores (−Infinity masks, at least one finite entry per row), a seed for the rest. */
export interface OpCase {
  op: OpName;
  dtype: DType;
  rows: number;
  cols: number;
  values: number[];
  seed: number;
  mutation: string | null;
}

/** What an op takes besides scores: each adds arguments and the mutations of those arguments. */
type Signature = 'scores' | 'scores, grad' | 'probs, grad' | 'scores, index' | 'scores, alpha' | 'probs, grad, alpha' | 'probs, grad, tau' | 'gumbelMax' | 'gumbelSoftmax' | 'noise' | 'philox';

interface OpSpec {
  signature: Signature;
  /** The primal the op computes its backward at, for `probs` signatures. */
  probs?: (scores: Tensor) => Tensor;
  check?: (c: OpCase, scores: Tensor, result: unknown, args: unknown[]) => void;
  twin?: OpName;
}

const alphas = [1, 1.25, 1.5, 2, 3];

function tolerance(c: OpCase): number {
  const largest = Math.max(1, ...c.values.filter(Number.isFinite).map(Math.abs));
  return (c.dtype === 'float32' ? 2 ** -23 : 2 ** -52) * 64 * (largest + Math.log(c.cols) + 1);
}

function rowsOf(t: Tensor): number[][] {
  const [B, K] = t.shape;
  return Array.from({ length: B }, (_, b) => Array.from(t.data.subarray(b * K, (b + 1) * K)));
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  ensure(actual.length === expected.length, () => `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    ensure(Math.abs(actual[i] - expected[i]) <= tol, () => `${what}[${i}] = ${actual[i]}, expected ${expected[i]} ± ${tol}`);
  }
}

const data = (t: unknown): ArrayLike<number> => (t as Tensor).data;
const probTolerance = (c: OpCase): number => (c.dtype === 'float32' ? 1e-4 : 1e-9) + tolerance(c);

/** Every row of a backward result sums to 0 (the output is orthogonal to the simplex's normal). */
function rowsSumToZero(c: OpCase, result: unknown, what: string): void {
  const values = data(result);
  for (let b = 0; b < c.rows; b++) {
    let s = 0;
    let size = 0;
    for (let k = 0; k < c.cols; k++) {
      s += values[b * c.cols + k];
      size += Math.abs(values[b * c.cols + k]);
    }
    ensure(Math.abs(s) <= probTolerance(c) * (1 + size) * c.cols, () => `${what}: row ${b} sums to ${s}, expected 0`);
  }
}

function distribution(c: OpCase, result: unknown, expected: number[][] | undefined, what: string): void {
  const values = data(result);
  for (let i = 0; i < values.length; i++) ensure(values[i] >= -probTolerance(c) && values[i] <= 1 + probTolerance(c), () => `${what}[${i}] = ${values[i]}`);
  rowsSumToZero(c, { data: Array.from(values, (v, i) => (i % c.cols === 0 ? v - 1 : v)) }, `${what} − e₀`);
  if (expected) close(values, expected.flat(), probTolerance(c) * 10, what);
}

const softmaxOf = (t: Tensor): Tensor => ops.softmax(t) as Tensor;

/** The ops by name. */
export const opNames = (): OpName[] => Object.keys(specs) as OpName[];

const specs: Record<OpName, OpSpec> = {
  logsumexp: { signature: 'scores', check: (c, x, r) => close(data(r), rowsOf(x).map(oracle.logPartition), tolerance(c), 'logsumexp') },
  logsumexpAsync: { signature: 'scores', twin: 'logsumexp' },
  logsumexpBackward: {
    signature: 'scores, grad',
    check: (c, x, r, args) => {
      const g = data(args[1]);
      close(data(r), rowsOf(x).flatMap((row, b) => oracle.probabilities(row).map((p) => p * g[b])), probTolerance(c) * 10, 'logsumexpBackward');
    },
  },
  logsumexpBackwardAsync: { signature: 'scores, grad', twin: 'logsumexpBackward' },
  softmax: { signature: 'scores', check: (c, x, r) => distribution(c, r, rowsOf(x).map(oracle.probabilities), 'softmax') },
  softmaxAsync: { signature: 'scores', twin: 'softmax' },
  softmaxBackward: { signature: 'probs, grad', probs: softmaxOf, check: (c, _x, r) => rowsSumToZero(c, r, 'softmaxBackward') },
  softmaxBackwardAsync: { signature: 'probs, grad', probs: softmaxOf, twin: 'softmaxBackward' },
  sparsemax: { signature: 'scores', check: (c, x, r) => distribution(c, r, rowsOf(x).map((row) => oracle.entmax(row, 2)), 'sparsemax') },
  sparsemaxAsync: { signature: 'scores', twin: 'sparsemax' },
  sparsemaxBackward: {
    signature: 'probs, grad',
    probs: (x) => ops.sparsemax(x) as Tensor,
    check: (c, _x, r, args) => {
      rowsSumToZero(c, r, 'sparsemaxBackward');
      const p = data(args[0]);
      Array.from(data(r)).forEach((v, i) => ensure(p[i] > 0 || v === 0, () => `sparsemaxBackward[${i}] = ${v} off the support`));
    },
  },
  entmax15: { signature: 'scores', check: (c, x, r) => distribution(c, r, rowsOf(x).map((row) => oracle.entmax(row, 1.5)), 'entmax15') },
  entmax15Async: { signature: 'scores', twin: 'entmax15' },
  entmax15Backward: { signature: 'probs, grad', probs: (x) => ops.entmax15(x) as Tensor, check: (c, _x, r) => rowsSumToZero(c, r, 'entmax15Backward') },
  entmaxBisect: {
    signature: 'scores, alpha',
    check: (c, x, r, args) => distribution(c, r, rowsOf(x).map((row) => oracle.entmax(row, args[1] as number)), 'entmaxBisect'),
  },
  entmaxBisectAsync: { signature: 'scores, alpha', twin: 'entmaxBisect' },
  entmaxBisectBackward: { signature: 'probs, grad, alpha', probs: (x) => ops.entmaxBisect(x, 1.5) as Tensor, check: (c, _x, r) => rowsSumToZero(c, r, 'entmaxBisectBackward') },
  entropy: {
    signature: 'scores',
    check: (c, x, r) => close(data(r), rowsOf(x).map(oracle.entropy), tolerance(c) * 4 + (c.dtype === 'float32' ? 1e-4 : 1e-10), 'entropy'),
  },
  entropyAsync: { signature: 'scores', twin: 'entropy' },
  logProb: {
    signature: 'scores, index',
    check: (c, x, r, args) => {
      const index = args[1] as Int32Array;
      const rows = rowsOf(x);
      close(data(r), Array.from(index, (k, i) => rows[i % c.rows][k] - oracle.logPartition(rows[i % c.rows])), tolerance(c) * 2, 'logProb');
    },
  },
  argmax: {
    signature: 'scores',
    check: (c, x, r) => {
      const { index, onehot } = r as { index: Int32Array; onehot: Tensor };
      close(index, rowsOf(x).map(oracle.argmax), 0, 'argmax index');
      Array.from(onehot.data).forEach((v, i) => ensure(v === (index[Math.floor(i / c.cols)] === i % c.cols ? 1 : 0), () => `argmax onehot[${i}] = ${v}`));
    },
  },
  argmaxAsync: { signature: 'scores', twin: 'argmax' },
  gumbelNoise: {
    signature: 'noise',
    check: (c, _x, r, args) => {
      Array.from(data(r)).forEach((v, i) => ensure(Number.isFinite(v), () => `gumbelNoise[${i}] = ${v}`));
      close(data(r), data(ops.gumbelNoise(...(args as Parameters<typeof ops.gumbelNoise>))), 0, 'gumbelNoise again');
    },
  },
  gumbelMax: {
    signature: 'gumbelMax',
    check: (c, x, r) => {
      const { index, onehot } = r as { index: Int32Array; onehot: Tensor };
      index.forEach((k, i) => {
        ensure(x.data[(i % c.rows) * c.cols + k] > -Infinity, () => `gumbelMax sample ${i} chose the masked class ${k}`);
        ensure(onehot.data[i * c.cols + k] === 1, () => `gumbelMax onehot of sample ${i}`);
      });
    },
  },
  gumbelMaxAsync: { signature: 'gumbelMax', twin: 'gumbelMax' },
  gumbelSoftmax: { signature: 'gumbelSoftmax', check: (c, _x, r) => distribution(c, r, undefined, 'gumbelSoftmax') },
  gumbelSoftmaxAsync: { signature: 'gumbelSoftmax', twin: 'gumbelSoftmax' },
  gumbelSoftmaxBackward: { signature: 'probs, grad, tau', probs: softmaxOf, check: (c, _x, r) => rowsSumToZero(c, r, 'gumbelSoftmaxBackward') },
  philox4x32: {
    signature: 'philox',
    check: (_c, _x, r, args) => {
      ensure(r instanceof Uint32Array && r.length === 4, () => 'philox4x32 did not return 4 words');
      close(r as Uint32Array, ops.philox4x32(...(args as [Uint32Array, number])), 0, 'philox4x32 again');
    },
  },
};

function tensorOf(values: ArrayLike<number>, shape: number[], dtype: DType): Tensor {
  return new Tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
}

/** The valid arguments of a case's op. */
export function validArgs(c: OpCase, scores: Tensor, random: () => number): unknown[] {
  const spec = specs[c.op];
  const grad = (shape: number[]) => tensorOf(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * random() - 1), shape, c.dtype);
  const seed = Math.floor(random() * 2 ** 40);
  const tau = [0.1, 0.5, 1, 4][Math.floor(random() * 4)];
  switch (spec.signature) {
    case 'scores':
      return [scores];
    case 'scores, grad':
      return [scores, grad([c.rows])];
    case 'probs, grad':
      return [spec.probs!(scores), grad([c.rows, c.cols])];
    case 'scores, index': {
      const S = 1 + Math.floor(random() * 3);
      const rows = rowsOf(scores);
      return [scores, Int32Array.from({ length: S * c.rows }, (_, i) => rows[i % c.rows].findIndex((v) => v > -Infinity))];
    }
    case 'scores, alpha':
      return [scores, alphas[Math.floor(random() * alphas.length)]];
    case 'probs, grad, alpha':
      return [spec.probs!(scores), grad([c.rows, c.cols]), 1.5];
    case 'probs, grad, tau':
      return [spec.probs!(scores), grad([c.rows, c.cols]), tau];
    case 'gumbelMax':
      return [scores, { seed, samples: 1 + Math.floor(random() * 4), temperature: tau }];
    case 'gumbelSoftmax':
      return [scores, { seed, temperature: tau }];
    case 'noise':
      return [[c.rows, c.cols], { seed, dtype: c.dtype }];
    case 'philox':
      return [Uint32Array.from({ length: 4 }, () => Math.floor(random() * 2 ** 32)), seed];
  }
}

/** A mutation: its name, the broken argument list, and the codes it may raise. */
interface Broken {
  args: unknown[];
  codes?: ErrorCode[];
}

/** The mutations that apply to a signature (names, for the arbitrary). */
function mutationsOf(signature: Signature): string[] {
  const tensorInput = ['not a tensor', 'rank 3', 'fake device tensor', 'device cuda', 'device tpu'];
  const scores = ['NaN score', '+Infinity score', 'row all −Infinity'];
  const grads = ['grad of the wrong shape', 'grad of the other dtype', 'NaN grad', 'grad on a (fake) device'];
  switch (signature) {
    case 'scores':
      return [...tensorInput, ...scores];
    case 'scores, grad':
      return [...tensorInput, ...scores, ...grads];
    case 'probs, grad':
      return [...tensorInput, 'NaN probability', ...grads];
    case 'scores, index':
      return [...tensorInput, ...scores, 'index out of range', 'index of the wrong length', 'index a Float64Array'];
    case 'scores, alpha':
      return [...tensorInput, ...scores, 'alpha 0.5', 'alpha NaN', 'alpha a string'];
    case 'probs, grad, alpha':
      return [...tensorInput, 'NaN probability', ...grads, 'alpha 0.5'];
    case 'probs, grad, tau':
      return [...tensorInput, 'NaN probability', ...grads, 'temperature 0', 'temperature NaN'];
    case 'gumbelMax':
      return [...tensorInput, ...scores, 'seed −1', 'seed 2^64', 'samples 0', 'samples 1.5', 'samples 2^31', 'temperature 0', 'no options'];
    case 'gumbelSoftmax':
      return [...tensorInput, ...scores, 'seed 1.5', 'temperature −1', 'temperature NaN', 'no options'];
    case 'noise':
      return ['shape [0]', 'shape [−1]', 'shape [2^31]', 'shape over 2^32 elements', 'shape not an array', 'dtype int8', 'seed −1', 'no options'];
    case 'philox':
      return ['counter of 3 words', 'counter a Float64Array', 'key −1', 'key 2^64'];
  }
}

function broken(c: OpCase, args: unknown[], random: () => number): Broken | undefined {
  const m = c.mutation as string;
  if (m === 'device cuda' && cudaAvailable) return undefined; // valid there: runOp compares it with the CPU
  const [first, ...rest] = args;
  const x = first as Tensor;
  const withFirst = (v: unknown, codes?: ErrorCode[]): Broken => ({ args: [v, ...rest], codes });
  const poison = (t: Tensor, v: number, row?: number): Tensor => {
    const copy = tensorOf(t.data, [...t.shape], c.dtype);
    if (row === undefined) copy.data[Math.floor(random() * copy.size)] = v;
    else copy.data.fill(v, row * c.cols, (row + 1) * c.cols);
    return copy;
  };
  const replace = (i: number, v: unknown, codes?: ErrorCode[]): Broken => ({ args: args.map((a, j) => (j === i ? v : a)), codes });
  const options = args[1] as Record<string, unknown>;
  const withOption = (key: string, v: unknown, codes?: ErrorCode[]): Broken => replace(1, { ...options, [key]: v }, codes);
  const grad = args[1] as Tensor;
  switch (m) {
    case 'not a tensor':
      return withFirst(pick(random, [null, {}, [1, 2], new Float64Array(4), 'x']), ['ERR_INVALID_ARG_TYPE']);
    case 'rank 3':
      return withFirst(x.reshape([1, ...x.shape]), ['ERR_INVALID_SHAPE', 'ERR_SHAPE_MISMATCH']);
    case 'fake device tensor':
      return withFirst(fakeDeviceTensor(x, random() < 0.5), ['ERR_INVALID_ARG_TYPE', 'ERR_MIXED_DEVICES', 'ERR_TENSOR_DISPOSED']);
    case 'device cuda':
        return { args: withDevice(args, 'cuda'), codes: ['ERR_NO_CUDA'] };
    case 'device tpu':
      return { args: withDevice(args, 'tpu'), codes: ['ERR_OUT_OF_RANGE'] };
    case 'NaN score':
      return withFirst(poison(x, Number.NaN), ['ERR_INVALID_SCORES']);
    case '+Infinity score':
      return withFirst(poison(x, Infinity), ['ERR_INVALID_SCORES']);
    case 'row all −Infinity':
      return withFirst(poison(x, -Infinity, Math.floor(random() * c.rows)), ['ERR_INVALID_SCORES']);
    case 'NaN probability':
      return withFirst(poison(x, Number.NaN), ['ERR_NOT_FINITE']);
    case 'grad of the wrong shape':
      return replace(1, tensorOf(new Float64Array(grad.size + 1), [grad.size + 1], c.dtype), ['ERR_SHAPE_MISMATCH']);
    case 'grad of the other dtype':
      return replace(1, tensorOf(grad.data, [...grad.shape], c.dtype === 'float64' ? 'float32' : 'float64'), ['ERR_DTYPE_MISMATCH']);
    case 'NaN grad':
      return replace(1, poison(grad, Number.NaN), ['ERR_NOT_FINITE']);
    case 'grad on a (fake) device':
      return replace(1, fakeDeviceTensor(grad), ['ERR_MIXED_DEVICES']);
    case 'index out of range':
      return replace(1, Int32Array.from(args[1] as Int32Array, (k, i) => (i === 0 ? pick(random, [-1, c.cols, 2 ** 31 - 1]) : k)), ['ERR_OUT_OF_RANGE']);
    case 'index of the wrong length':
      return replace(1, new Int32Array(c.rows === 1 ? 0 : c.rows + 1), ['ERR_SHAPE_MISMATCH']);
    case 'index a Float64Array':
      return replace(1, new Float64Array(c.rows), ['ERR_INVALID_ARG_TYPE']);
    case 'alpha 0.5':
      return replace(args.length - 1, 0.5, ['ERR_OUT_OF_RANGE']);
    case 'alpha NaN':
      return replace(1, Number.NaN, ['ERR_OUT_OF_RANGE']);
    case 'alpha a string':
      return replace(1, '1.5', ['ERR_INVALID_ARG_TYPE']);
    case 'temperature 0':
      return isOptions(options) ? withOption('temperature', 0, ['ERR_OUT_OF_RANGE']) : replace(2, 0, ['ERR_OUT_OF_RANGE']);
    case 'temperature NaN':
      return isOptions(options) ? withOption('temperature', Number.NaN, ['ERR_OUT_OF_RANGE']) : replace(2, Number.NaN, ['ERR_OUT_OF_RANGE']);
    case 'temperature −1':
      return withOption('temperature', -1, ['ERR_OUT_OF_RANGE']);
    case 'seed −1':
      return withOption('seed', -1, ['ERR_OUT_OF_RANGE']);
    case 'seed 1.5':
      return withOption('seed', 1.5, ['ERR_OUT_OF_RANGE']);
    case 'seed 2^64':
      return withOption('seed', 2n ** 64n, ['ERR_OUT_OF_RANGE']);
    case 'samples 0':
      return withOption('samples', 0, ['ERR_OUT_OF_RANGE']);
    case 'samples 1.5':
      return withOption('samples', 1.5, ['ERR_OUT_OF_RANGE']);
    case 'samples 2^31':
      return withOption('samples', 2 ** 31, ['ERR_OUT_OF_RANGE', 'ERR_SIZE_OVERFLOW']);
    case 'no options':
      return { args: [args[0]] };
    case 'shape [0]':
      return replace(0, [0], ['ERR_INVALID_SHAPE']);
    case 'shape [−1]':
      return replace(0, [-1], ['ERR_INVALID_SHAPE']);
    case 'shape [2^31]':
      return replace(0, [2 ** 31], ['ERR_INVALID_SHAPE']);
    case 'shape over 2^32 elements':
      return replace(0, [65536, 65537], ['ERR_SIZE_OVERFLOW']);
    case 'shape not an array':
      return replace(0, 4, ['ERR_INVALID_ARG_TYPE']);
    case 'dtype int8':
      return withOption('dtype', 'int8', ['ERR_INVALID_ARG_TYPE']);
    case 'counter of 3 words':
      return replace(0, new Uint32Array(3), ['ERR_INVALID_ARG_TYPE']);
    case 'counter a Float64Array':
      return replace(0, new Float64Array(4), ['ERR_INVALID_ARG_TYPE']);
    case 'key −1':
      return replace(1, -1, ['ERR_OUT_OF_RANGE']);
    case 'key 2^64':
      return replace(1, 2n ** 64n, ['ERR_OUT_OF_RANGE']);
    default:
      throw new FuzzFailure(`unknown mutation ${m}`);
  }
}

/** The arguments with `device` in the options (the last argument, added when absent). */
function withDevice(args: unknown[], device: string): unknown[] {
  const last = args[args.length - 1];
  return isOptions(last) ? [...args.slice(0, -1), { ...(last as object), device }] : [...args, { device }];
}

function isOptions(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !(v instanceof Tensor) && !ArrayBuffer.isView(v);
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

const unit = fc.double({ min: -1, max: 1, noNaN: true });

export const opCaseArbitrary: fc.Arbitrary<OpCase> = fc
  .record({
    op: fc.constantFrom(...(Object.keys(specs) as OpName[])),
    dtype: fc.constantFrom<DType>('float64', 'float32'),
    rows: fc.integer({ min: 1, max: 5 }),
    cols: fc.integer({ min: 1, max: 9 }),
    scale: fc.constantFrom(1, 30, 1e4),
    masked: fc.boolean(),
    seed: fc.nat(),
    mutate: fc.boolean(),
  })
  .chain(({ op, dtype, rows, cols, scale, masked, seed, mutate }) =>
    fc
      .record({
        values: fc.array(masked ? fc.oneof({ weight: 3, arbitrary: unit.map((u) => u * scale) }, { weight: 1, arbitrary: fc.constant(-Infinity) }) : unit.map((u) => u * scale), { minLength: rows * cols, maxLength: rows * cols }),
        mutation: mutate ? fc.constantFrom(...mutationsOf(specs[op].signature)).map((m): string | null => m) : fc.constant(null),
      })
      .map(({ values, mutation }) => {
        for (let b = 0; b < rows; b++) if (values[b * cols] === -Infinity) values[b * cols] = 0; // a finite class per row
        return { op, dtype, rows, cols, values, seed, mutation };
      }),
  );

/** Runs one op case: a valid call is checked, an invalid one must raise a coded error. */
export async function runOp(c: OpCase): Promise<void> {
  const random = rng(c.seed);
  const scores = tensorOf(c.values, [c.rows, c.cols], c.dtype);
  const spec = specs[c.op];
  const args = validArgs(c, scores, random);
  const op = ops[c.op] as unknown as Call;
  if (c.mutation !== null) {
    const b = broken(c, args, random);
    if (!b) return;
    expectLibraryError(await outcomeOf(() => op(...b.args)), `${c.op} with ${c.mutation}`, b.codes);
    return;
  }
  const outcome = await outcomeOf(() => op(...args));
  if (outcome.threw) throw new FuzzFailure(`${c.op} threw on valid input: ${String((outcome.error as Error)?.stack ?? outcome.error)}`);
  if (spec.twin) {
    const expected = (ops[spec.twin] as unknown as Call)(...args);
    const flat = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x instanceof Tensor ? { shape: x.shape, data: Array.from(x.data) } : ArrayBuffer.isView(x) ? Array.from(x as Int32Array) : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
    ensure(flat(outcome.value) === flat(expected), () => `${c.op} differs from ${spec.twin}`);
  } else {
    spec.check?.(c, scores, outcome.value, args);
  }
  if (cudaAvailable && !['noise', 'philox'].includes(spec.signature)) {
    const gpu = await outcomeOf(() => op(...withDevice(args, 'cuda')));
    if (gpu.threw) throw new FuzzFailure(`${c.op} on CUDA threw on valid input: ${String(gpu.error)}`);
    if (!spec.twin && !['gumbelMax', 'gumbelSoftmax'].includes(spec.signature)) spec.check?.(c, scores, gpu.value, args);
  }
}
