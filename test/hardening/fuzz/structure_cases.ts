/**
 * Every public method of every structure class, fuzzed: valid calls on random instances ({@link instanceArbitrary})
 * whose results must satisfy the structure's invariants (and equal the enumeration on tiny instances), async forms
 * equal to the sync ones, and invalid calls — bad potentials, lengths, shapes, dtypes, devices, tampered or fake
 * device tensors, bad method arguments — that must raise a coded TypeError or RangeError.
 *
 * The method table is keyed by the public method names of the eight classes (a compile error when a class gains a
 * method the fuzz does not call).
 */
import fc from 'fast-check';

import {
  AlignmentCRF,
  AnyTensor,
  Categorical,
  DependencyCRF,
  DeviceTensor,
  ErrorCode,
  HMM,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
  backendInfo,
} from '../../../lib';
import { rng } from '../../helpers';
import {
  AnyStructure,
  Instance,
  Kind,
  PartsView,
  buildStructure,
  checkParts,
  dims,
  ensure,
  exact,
  extent,
  isAlignment,
  isFactored,
  lengthOf,
  logCount,
  partTolerance,
  scoreTolerance,
  scoresOfParts,
  targetLengthOf,
  tensorsOf,
} from './instances';
import { FuzzFailure, Outcome, expectLibraryError, outcomeOf } from './outcome';

const cudaAvailable = backendInfo().cuda.available;

type Method = (...args: unknown[]) => unknown;
type MethodNames<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;
/** Every public method name of the structure classes. */
export type StructureMethod =
  | MethodNames<Categorical>
  | MethodNames<LinearChainCRF>
  | MethodNames<TreeCRF>
  | MethodNames<DependencyCRF>
  | MethodNames<NonProjectiveDependencyCRF>
  | MethodNames<HMM>
  | MethodNames<SemiMarkovCRF>
  | MethodNames<AlignmentCRF>;

/** One call: the instance, its structure, and a seeded source for the arguments. */
export interface Ctx {
  inst: Instance;
  structure: AnyStructure;
  random: () => number;
}

function call(ctx: Ctx, method: string, args: unknown[]): unknown {
  return (ctx.structure as unknown as Record<string, Method>)[method](...args);
}

/** A bad argument list and the codes it may raise (any library code when absent). */
interface BadCall {
  label: string;
  args: unknown[];
  codes?: ErrorCode[];
}

interface MethodCase {
  /** Arguments of a valid call (none by default). */
  args?: (ctx: Ctx) => unknown[];
  /** Checks a valid call's (awaited) result. */
  check?: (ctx: Ctx, result: unknown, args: unknown[]) => void;
  /** For an async method: the sync method whose result it must equal, given the same arguments. */
  twin?: StructureMethod;
  /** Whether it reads the potentials, so that NaN potentials must make it throw. */
  reads: boolean;
  /** Bad argument lists. */
  bad?: (ctx: Ctx) => BadCall[];
}

// ---- arguments ---------------------------------------------------------------------------------------

function randomTensor(shape: number[], ctx: Ctx, dtype = ctx.inst.dtype): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () => 2 * ctx.random() - 1);
  return new Tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
}

/** A gradient over the parts (the layout of marginals()); a factored chain's transition equal across the batch. */
function partsGrad(ctx: Ctx): Tensor | { unary: Tensor; transition: Tensor } {
  const { B, N, C } = dims(ctx.inst);
  if (!isFactored(ctx.inst.kind)) return randomTensor(ctx.inst.shape, ctx);
  const shared = randomTensor([C, C], ctx);
  const transition = new Tensor(ctx.inst.dtype === 'float64' ? new Float64Array(B * C * C) : new Float32Array(B * C * C), [B, C, C]);
  for (let b = 0; b < B; b++) transition.data.set(shared.data, b * C * C);
  return { unary: randomTensor([B, N, C], ctx), transition };
}

const seedOf = (ctx: Ctx): number => Math.floor(ctx.random() * 2 ** 40);
/**
 * Perturbation options: τ ∈ {0.1, 0.5, 1, 3}, at least 1 for scores of 1e3 or more, so that the perturbed scores
 * (scores + G)/τ stay within the ±1e4 range the fuzz checks (float32 loses precision past it).
 */
function perturbOptions(ctx: Ctx): { seed: number; temperature: number } {
  const large = ctx.inst.values.some((v) => Math.abs(v) >= 1e3 && Number.isFinite(v));
  const temperatures = large ? [1, 3] : [0.1, 0.5, 1, 3];
  return { seed: seedOf(ctx), temperature: temperatures[Math.floor(ctx.random() * temperatures.length)] };
}
const sampleCount = (ctx: Ctx): number => 1 + Math.floor(ctx.random() * 4);

// ---- views of results -------------------------------------------------------------------------------

function hostData(t: unknown, what: string): Float32Array | Float64Array {
  ensure(t instanceof Tensor, () => `${what} is not a host Tensor`);
  return (t as Tensor).data;
}

/** A result over the parts as a PartsView (a tensor, or { unary, transition } of a factored chain). */
function viewOf(result: unknown, what: string): PartsView {
  if (result instanceof Tensor) return { main: result.data };
  const r = result as { unary?: unknown; transition?: unknown };
  return { main: hostData(r.unary, `${what}.unary`), transition: hostData(r.transition, `${what}.transition`) };
}

function finiteAll(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) ensure(Number.isFinite(values[i]), () => `${what}[${i}] = ${values[i]} is not finite`);
}

/** Flattens a result (tensors, typed arrays, arrays, objects) into a list of [path, value] for equality checks. */
function flatten(value: unknown, path = 'result', out: [string, unknown][] = []): [string, unknown][] {
  if (value instanceof Tensor) {
    out.push([`${path}.shape`, value.shape.join(',')]);
    Array.from(value.data).forEach((v, i) => out.push([`${path}[${i}]`, v]));
  } else if (ArrayBuffer.isView(value)) {
    Array.from(value as unknown as ArrayLike<number>).forEach((v, i) => out.push([`${path}[${i}]`, v]));
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value).sort()) flatten((value as Record<string, unknown>)[key], `${path}.${key}`, out);
  } else if (typeof value !== 'function') {
    out.push([path, value]);
  }
  return out;
}

function expectIdentical(actual: unknown, expected: unknown, what: string): void {
  const a = flatten(actual);
  const e = flatten(expected);
  ensure(a.length === e.length, () => `${what}: ${a.length} values, expected ${e.length}`);
  a.forEach(([path, v], i) => ensure(Object.is(v, e[i][1]) && path === e[i][0], () => `${what}: ${path} = ${String(v)}, expected ${e[i][0]} = ${String(e[i][1])}`));
}

// ---- invariants -------------------------------------------------------------------------------------

/** A decoded structure (argmax, sample, perturb-and-MAP) agrees with its one-hot parts. */
function checkDecoded(ctx: Ctx, result: unknown, what: string): void {
  const { inst } = ctx;
  const r = result as { index?: Int32Array; labels?: Int32Array; spans?: Int32Array; heads?: Int32Array; path?: Int32Array; onehot?: unknown; parts?: unknown; score?: unknown };
  const parts = viewOf(r.onehot ?? r.parts, `${what} parts`);
  checkParts(inst, parts, true, `${what} parts`);
  const { B, N, C } = dims(inst);
  const block = inst.shape.reduce((a, b) => a * b, 1) / B;
  const count = parts.main.length / block;
  const one = (row: number, q: number, label: string) =>
    ensure(parts.main[row * block + q] === 1, () => `${what}: the decoded ${label} of structure ${row} is not in its parts`);
  for (let row = 0; row < count; row++) {
    const n = lengthOf(inst, row % B);
    if (inst.kind === 'semi-markov') {
      // a label at position 0 and at the last position of each segment, −1 inside segments and past the length
      ensure(r.labels !== undefined, () => `${what}: no labels`);
      const K = extent(inst);
      const y = r.labels!.subarray(row * N, (row + 1) * N);
      let previous = 0;
      for (let t = 0; t < N; t++) {
        const ends = t === 0 || t === n - 1;
        ensure(t < n ? y[t] >= (ends ? 0 : -1) && y[t] < C : y[t] === -1, () => `${what}: label ${t} of structure ${row} is ${y[t]}`);
        if (t === 0 || t >= n || y[t] < 0) continue;
        ensure(t - previous < K, () => `${what}: structure ${row} has a segment of ${t - previous} positions (K = ${K})`);
        one(row, ((previous * K + t - previous) * C + y[t]) * C + y[previous], `segment (${previous}, ${t}]`);
        previous = t;
      }
    } else if (isAlignment(inst.kind)) {
      // path rows (i, j, op) in order, each a move from the previous cell, then rows of −1
      ensure(r.path !== undefined, () => `${what}: no path`);
      const [M, m] = [extent(inst), targetLengthOf(inst, row % B)];
      const width = (N + M - 1) * 3;
      const rows = r.path!.subarray(row * width, (row + 1) * width);
      const steps: Record<number, [number, number]> = { 0: [0, 1], 1: [1, 1], 2: [1, 0] };
      let length = 0;
      while (length < N + M - 1 && rows[3 * length] !== -1) length++;
      ensure(length >= 1, () => `${what}: structure ${row} has an empty path`);
      for (let k = 0; k < N + M - 1; k++) {
        const [i, j, op] = [rows[3 * k], rows[3 * k + 1], rows[3 * k + 2]];
        if (k >= length) {
          ensure(i === -1 && j === -1 && op === -1, () => `${what}: path row ${k} of structure ${row} is not −1`);
          continue;
        }
        ensure(i >= 0 && i < n && j >= 0 && j < m && op >= 0 && op <= 2, () => `${what}: path row ${k} of structure ${row} is (${i}, ${j}, ${op})`);
        if (k === 0) ensure(op === 1 && (inst.kind === 'alignment-local' || (i === 0 && j === 0)), () => `${what}: structure ${row} starts at (${i}, ${j}, ${op})`);
        else {
          const [pi, pj] = [rows[3 * k - 3], rows[3 * k - 2]];
          ensure(i - pi === steps[op][0] && j - pj === steps[op][1], () => `${what}: path row ${k} of structure ${row}, (${i}, ${j}, ${op}), is no move from (${pi}, ${pj})`);
        }
        one(row, (i * M + j) * 3 + op, `move (${i}, ${j}, ${op})`);
      }
      const last = 3 * (length - 1);
      if (inst.kind === 'alignment') ensure(rows[last] === n - 1 && rows[last + 1] === m - 1, () => `${what}: structure ${row} ends at (${rows[last]}, ${rows[last + 1]})`);
      let ones = 0;
      for (let q = 0; q < block; q++) ones += parts.main[row * block + q];
      ensure(ones === length, () => `${what}: structure ${row} has ${length} path rows but ${ones} parts`);
    } else if (r.index) {
      one(row, r.index[row], `class ${r.index[row]}`);
    } else if (r.labels) {
      const y = r.labels.subarray(row * N, (row + 1) * N);
      for (let t = 0; t < N; t++) ensure(t < n ? y[t] >= 0 && y[t] < C : y[t] === -1, () => `${what}: label ${t} of structure ${row} is ${y[t]}`);
      if (inst.kind === 'chain') for (let t = 0; t + 1 < n; t++) one(row, (t * C + y[t + 1]) * C + y[t], `edge ${t}`);
      else for (let t = 0; t < n; t++) one(row, t * C + y[t], `label ${t}`);
    } else if (r.heads) {
      const h = r.heads.subarray(row * N, (row + 1) * N);
      for (let m = 0; m < N; m++) {
        ensure(m < n ? h[m] >= 0 && h[m] < n : h[m] === -1, () => `${what}: head ${m} of structure ${row} is ${h[m]}`);
        if (m < n) one(row, h[m] * N + m, `arc ${h[m]} → ${m}`);
      }
    } else if (r.spans) {
      const width = (2 * N - 1) * 3;
      const rows = r.spans.subarray(row * width, (row + 1) * width);
      for (let k = 0; k < 2 * N - 1; k++) {
        const [i, j, l] = [rows[3 * k], rows[3 * k + 1], rows[3 * k + 2]];
        if (k >= 2 * n - 1) ensure(i === -1 && j === -1 && l === -1, () => `${what}: span row ${k} of structure ${row} is not −1`);
        else one(row, (i * N + j) * C + l, `span (${i}, ${j}, ${l})`);
      }
    } else {
      throw new FuzzFailure(`${what}: no decoded form`);
    }
  }
  if (r.score !== undefined && !what.startsWith('perturb')) {
    const score = hostData(r.score, `${what}.score`);
    const expected = scoresOfParts(inst, parts);
    for (let b = 0; b < B; b++) {
      ensure(Math.abs(score[b] - expected[b]) <= scoreTolerance(inst, b), () => `${what}: score[${b}] = ${score[b]}, its parts score ${expected[b]}`);
    }
  }
}

/** The score of the MAP structure of each instance, from its parts (float64). */
function mapScores(ctx: Ctx): number[] {
  return scoresOfParts(ctx.inst, viewOf(ctx.structure.argmax(), 'argmax'));
}

/** log Z (or the entropy) per instance against the MAP score, the count of structures, and the enumeration. */
function checkLogPartition(ctx: Ctx, result: unknown): void {
  const { inst } = ctx;
  const logZ = hostData(result, 'logPartition');
  const best = mapScores(ctx);
  for (let b = 0; b < dims(inst).B; b++) {
    const tol = scoreTolerance(inst, b);
    ensure(Number.isFinite(logZ[b]), () => `logPartition[${b}] = ${logZ[b]} is not finite`);
    ensure(logZ[b] >= best[b] - tol, () => `logPartition[${b}] = ${logZ[b]} is below the MAP score ${best[b]}`);
    ensure(logZ[b] <= best[b] + logCount(inst, b) + tol, () => `logPartition[${b}] = ${logZ[b]} exceeds MAP score ${best[b]} + log(#structures)`);
    const e = exact(inst, b);
    if (e) {
      ensure(Math.abs(logZ[b] - e.logZ) <= tol, () => `logPartition[${b}] = ${logZ[b]}, enumeration ${e.logZ}`);
      ensure(Math.abs(best[b] - e.bestScore) <= tol, () => `MAP score[${b}] = ${best[b]}, enumeration ${e.bestScore}`);
    }
  }
}

function checkEntropy(ctx: Ctx, result: unknown): void {
  const { inst } = ctx;
  const h = hostData(result, 'entropy');
  for (let b = 0; b < dims(inst).B; b++) {
    const tol = scoreTolerance(inst, b) * 64; // H = log Z − E[score] cancels; Matrix-Tree adds an inverse's error
    ensure(h[b] >= -tol && h[b] <= logCount(inst, b) + tol, () => `entropy[${b}] = ${h[b]} is outside [0, log(#structures) = ${logCount(inst, b)}]`);
    const e = exact(inst, b);
    if (e) ensure(Math.abs(h[b] - e.entropy) <= tol, () => `entropy[${b}] = ${h[b]}, enumeration ${e.entropy}`);
  }
}

/** Marginals: a point of the marginal polytope, equal to the enumeration's on tiny instances. */
function checkMarginals(ctx: Ctx, result: unknown, what = 'marginals', compareExact = true): void {
  const { inst } = ctx;
  const view = viewOf(result, what);
  checkParts(inst, view, false, what);
  if (!compareExact) return;
  const { B, C } = dims(inst);
  const block = view.main.length / B;
  for (let b = 0; b < B; b++) {
    const e = exact(inst, b);
    if (!e) continue;
    const ours = Array.from(view.main).slice(b * block, (b + 1) * block);
    if (view.transition) ours.push(...Array.from(view.transition).slice(b * C * C, (b + 1) * C * C));
    const tol = partTolerance(inst, b);
    ensure(ours.length === e.marginals.length, () => `${what}: ${ours.length} parts, enumeration ${e.marginals.length}`);
    ours.forEach((v, q) => ensure(Math.abs(v - e.marginals[q]) <= tol, () => `${what}[${b}] part ${q} = ${v}, enumeration ${e.marginals[q]}`));
  }
}

function dot(a: PartsView, b: PartsView): number {
  let s = 0;
  for (let i = 0; i < a.main.length; i++) s += a.main[i] * b.main[i];
  if (a.transition && b.transition) for (let i = 0; i < a.transition.length; i++) s += a.transition[i] * b.transition[i];
  return s;
}

/** A Hessian-vector product H g: finite, and ⟨h, H g⟩ = ⟨g, H h⟩ for a second direction h. */
function checkHessianProduct(ctx: Ctx, method: 'marginalsBackward' | 'perturbedMarginalsBackward', result: unknown, args: unknown[]): void {
  if (ctx.inst.kind === 'hmm') {
    checkHmmGradient(ctx, result, (crf) => (crf as unknown as Record<string, Method>)[method](...args), method);
    return;
  }
  const view = viewOf(result, method);
  finiteAll(view.main, method);
  if (view.transition) finiteAll(view.transition, `${method}.transition`);
  if (ctx.inst.kind === 'chain-factored' && ctx.inst.transitionShape?.length === 2) return; // [C, C] gradient: other layout
  const g = args[0];
  const h = partsGrad(ctx);
  const hg = dot(viewOf(h, 'h'), view);
  const gh = dot(viewOf(g, 'g'), viewOf(call(ctx, method, [h, ...args.slice(1)]), method));
  const tol = 50 * partTolerance(ctx.inst, 0) * (viewOf(g, 'g').main.length + 1);
  ensure(Math.abs(hg - gh) <= tol * (1 + Math.abs(hg)), () => `${method} is not symmetric: <h, Hg> = ${hg}, <g, Hh> = ${gh}`);
}

/**
 * An HMM's gradient w.r.t. its parameters `{ transition [C, C], emission [V, C], init [C] }`: the chain rule, done
 * here, of the gradient w.r.t. its factored chain's potentials that `chainGradient` computes on the HMM's chain.
 */
function checkHmmGradient(ctx: Ctx, result: unknown, chainGradient: (crf: LinearChainCRF) => unknown, what: string): void {
  const { inst } = ctx;
  const { B, N, C } = dims(inst);
  const h = inst.hmm!;
  const r = result as { transition: unknown; emission: unknown; init: unknown };
  const [transition, emission, init] = [hostData(r.transition, `${what}.transition`), hostData(r.emission, `${what}.emission`), hostData(r.init, `${what}.init`)];
  const g = chainGradient((ctx.structure as HMM).crf as LinearChainCRF) as { unary: Tensor; transition: Tensor };
  const expected = { transition: new Float64Array(C * C), emission: new Float64Array(h.V * C), init: new Float64Array(C) };
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) expected.init[c] += g.unary.data[b * N * C + c];
    for (let n = 0; n < lengthOf(inst, b); n++) for (let c = 0; c < C; c++) expected.emission[h.observations[b * N + n] * C + c] += g.unary.data[(b * N + n) * C + c];
  }
  for (let q = 0; q < g.transition.size / (C * C); q++) {
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) expected.transition[j * C + i] += g.transition.data[(q * C + i) * C + j];
  }
  const tol = partTolerance(inst, 0) * (B * N + 1);
  for (const [name, got] of Object.entries({ transition, emission, init })) {
    const want = expected[name as keyof typeof expected];
    ensure(got.length === want.length, () => `${what}.${name}: ${got.length} entries, expected ${want.length}`);
    got.forEach((v, q) => ensure(Number.isFinite(v) && Math.abs(v - want[q]) <= tol * (1 + Math.abs(want[q])), () => `${what}.${name}[${q}] = ${v}, by the chain rule ${want[q]}`));
  }
}

function checkSparseMap(ctx: Ctx, result: unknown): void {
  const r = result as { marginals: unknown; support: ArrayLike<unknown>[]; weights: Float64Array[]; converged: boolean[] };
  checkMarginals(ctx, r.marginals, 'sparsemap marginals', false);
  r.weights.forEach((w, b) => {
    let total = 0;
    w.forEach((v) => {
      ensure(v > 0 && v <= 1 + 1e-9, () => `sparsemap weight of instance ${b} = ${v}`);
      total += v;
    });
    ensure(Math.abs(total - 1) <= 1e-6, () => `sparsemap weights of instance ${b} sum to ${total}`);
    ensure(r.support[b].length === w.length, () => `sparsemap support and weights of instance ${b} differ in length`);
  });
}

// ---- bad arguments ----------------------------------------------------------------------------------

const notNumbers: unknown[] = [Number.NaN, Infinity, '2', null, {}, 2n];

function badCounts(ctx: Ctx): unknown[] {
  const { B, N } = dims(ctx.inst);
  const overflow = Math.ceil(2 ** 31 / (B * N)) + 1;
  return [0, -1, 1.5, 2 ** 31, ...notNumbers, ...(overflow < 2 ** 31 ? [overflow] : [])];
}

const topkCount = (ctx: Ctx): number => 1 + Math.floor(ctx.random() * 4);

function badTopkArgs(): BadCall[] {
  return [0, -1, 1.5, 1025, ...notNumbers].map((k) => ({ label: `k = ${String(k)}`, args: [k] }));
}

function badSeeds(): unknown[] {
  return [-1, 1.5, Number.NaN, '1', null, {}, 2n ** 64n, -1n];
}

function badTemperatures(): unknown[] {
  return [0, -1, Number.NaN, Infinity, '1', {}];
}

/** Gradients that must be refused: wrong shape, wrong dtype, non-finite entries, not tensors. */
function badGrads(ctx: Ctx): BadCall[] {
  const good = partsGrad(ctx);
  const other = ctx.inst.dtype === 'float64' ? 'float32' : 'float64';
  const swap = (t: AnyTensor) => randomTensor([...t.shape], ctx, other);
  const poison = (t: AnyTensor, v: number) => {
    const copy = new Tensor(t.dtype === 'float64' ? Float64Array.from((t as Tensor).data) : Float32Array.from((t as Tensor).data), [...t.shape]);
    copy.data[Math.floor(ctx.random() * copy.size)] = v;
    return copy;
  };
  const map = (f: (t: AnyTensor) => unknown): unknown =>
    good instanceof Tensor ? f(good) : { unary: f(good.unary), transition: good.transition };
  const calls: BadCall[] = [
    { label: 'grad of the wrong shape', args: [map((t) => randomTensor([...t.shape, 1], ctx))], codes: ['ERR_SHAPE_MISMATCH', 'ERR_INVALID_SHAPE'] },
    { label: 'grad of the other dtype', args: [map(swap)], codes: ['ERR_DTYPE_MISMATCH'] },
    { label: 'grad with NaN', args: [map((t) => poison(t, Number.NaN))], codes: ['ERR_NOT_FINITE'] },
    { label: 'grad with -Infinity', args: [map((t) => poison(t, -Infinity))], codes: ['ERR_NOT_FINITE'] },
    { label: 'grad not a tensor', args: [{}], codes: ['ERR_INVALID_ARG_TYPE'] },
    { label: 'grad null', args: [null], codes: ['ERR_INVALID_ARG_TYPE'] },
    { label: 'grad a plain array', args: [[1, 2, 3]], codes: ['ERR_INVALID_ARG_TYPE'] },
    { label: 'grad on a (fake) device', args: [map((t) => fakeDeviceTensor(t as Tensor))], codes: ['ERR_MIXED_DEVICES', 'ERR_INVALID_ARG_TYPE'] },
  ];
  return calls;
}

function badSparseMapOptions(): BadCall[] {
  return [
    ...[0, -1, 1.5, Number.NaN, '10'].map((v) => ({ label: `maxIterations ${String(v)}`, args: [{ maxIterations: v }] })),
    ...[0, -1, Number.NaN, Infinity, '1'].map((v) => ({ label: `tolerance ${String(v)}`, args: [{ tolerance: v }] })),
    ...[0, 1025, 1.5, Number.NaN].map((v) => ({ label: `maxActive ${String(v)}`, args: [{ maxActive: v }] })),
    { label: 'options null', args: [null] },
    { label: 'options a number', args: [3] },
  ];
}

/** A DeviceTensor that is not on any device: its handle is a plain object (disposed or not). */
export function fakeDeviceTensor(t: Tensor, disposed = false): DeviceTensor {
  const handle = {
    dtype: t.dtype,
    shape: [...t.shape],
    disposed,
    bytes: t.data.byteLength,
    toHost: () => t.data,
    dispose: () => undefined,
  };
  return new DeviceTensor(handle, t.shape);
}

/** Decoded structures of the argmax in the form logProb takes besides parts (labels, heads, class indices). */
function decodedOfArgmax(ctx: Ctx): Int32Array | undefined {
  const r = ctx.structure.argmaxDecoded() as { index?: Int32Array; labels?: Int32Array; heads?: Int32Array; path?: Int32Array };
  return r.index ?? r.labels ?? r.heads ?? r.path;
}

/** The MAP structure in a form logProb takes: labels for chains, parts for trees, either for the others. */
function structureForLogProb(ctx: Ctx): unknown {
  const kind = ctx.inst.kind;
  if (kind === 'chain' || isFactored(kind)) return decodedOfArgmax(ctx);
  if (kind === 'tree' || kind === 'tree-labelled' || ctx.random() < 0.5) return ctx.structure.argmax();
  return decodedOfArgmax(ctx);
}

function badStructures(ctx: Ctx): BadCall[] {
  const { inst } = ctx;
  const argmax = ctx.structure.argmax();
  const parts = argmax instanceof Tensor && !ctx.inst.kind.startsWith('chain') ? argmax : undefined;
  const calls: BadCall[] = [
    { label: 'z null', args: [null] },
    { label: 'z an object', args: [{}] },
    { label: 'z a Float64Array', args: [new Float64Array(3)] },
  ];
  if (parts) {
    calls.push({ label: 'z of the wrong shape', args: [randomTensor([...parts.shape, parts.shape[0] + 1], ctx)] }); // not [S, ...shape]
    if (inst.kind !== 'categorical') {
      const nan = new Tensor(Float64Array.from(parts.data), [...parts.shape]);
      nan.data[0] = Number.NaN;
      calls.push({ label: 'z with NaN', args: [inst.dtype === 'float64' ? nan : new Tensor(Float32Array.from(nan.data), [...nan.shape])], codes: ['ERR_NOT_FINITE', 'ERR_DTYPE_MISMATCH'] });
    }
  }
  const decoded = decodedOfArgmax(ctx);
  if (decoded && inst.kind !== 'tree' && inst.kind !== 'tree-labelled') {
    const { C, N } = dims(inst);
    const out = Int32Array.from(decoded);
    out[0] = inst.kind === 'categorical' || inst.kind.startsWith('chain') || inst.kind === 'hmm' || inst.kind === 'semi-markov' ? C : N;
    calls.push({ label: 'decoded out of range', args: [out], codes: ['ERR_OUT_OF_RANGE'] });
    const negative = Int32Array.from(decoded);
    negative[0] = -2;
    calls.push({ label: 'decoded negative', args: [negative], codes: ['ERR_OUT_OF_RANGE'] });
    const wrongLength = decoded.length === 1 ? new Int32Array(0) : Int32Array.from([...decoded, 0]); // not S·B·N entries
    calls.push({ label: 'decoded of the wrong length', args: [wrongLength], codes: ['ERR_SHAPE_MISMATCH', 'ERR_OUT_OF_RANGE'] });
  }
  return calls;
}

/** Malformed SparseMAP solutions (null too where the solution is required, not optional). */
function badSolutions(ctx: Ctx, optional = false): BadCall[] {
  const { B } = dims(ctx.inst);
  return [
    ...(optional ? [] : [{ label: 'solution null', args: [null] }]),
    { label: 'solution without support', args: [{}] },
    { label: 'support of the wrong batch', args: [{ support: Array.from({ length: B + 1 }, () => []) }] },
    { label: 'empty supports', args: [{ support: Array.from({ length: B }, () => []) }] },
    { label: 'support of wrong widths', args: [{ support: Array.from({ length: B }, () => [new Int32Array(decodedWidth(ctx) + 1)]) }] },
    { label: 'support entries out of range', args: [{ support: Array.from({ length: B }, () => [new Int32Array(decodedWidth(ctx)).fill(1 << 20)]), weights: [] }] },
    ...(ctx.inst.kind === 'semi-markov' || isAlignment(ctx.inst.kind) ? badPathSupports(ctx) : []),
  ];
}

/**
 * SparseMAP supports of segmentations and alignments whose first structure is the MAP with one entry broken: a
 * label of C or −2 (a position inside a segment at the first position), an op of 3, a cell outside the grid, a
 * path that does not start by a match.
 */
function badPathSupports(ctx: Ctx): BadCall[] {
  const map = decodedOfArgmax(ctx)!;
  const width = decodedWidth(ctx);
  const { B, C } = dims(ctx.inst);
  const broken = (label: string, edit: (row: Int32Array) => void): BadCall => {
    const support = Array.from({ length: B }, (_, b) => [map.slice(b * width, (b + 1) * width)]);
    edit(support[Math.floor(ctx.random() * B)][0]);
    return { label: `support with ${label}`, args: [{ support, weights: support.map(() => Float64Array.of(1)) }], codes: ['ERR_OUT_OF_RANGE'] };
  };
  if (ctx.inst.kind === 'semi-markov') {
    return [broken(`label ${C}`, (row) => (row[0] = C)), broken('label −2', (row) => (row[0] = -2)), broken('label −1 at position 0', (row) => (row[0] = -1))];
  }
  return [
    broken('op 3', (row) => (row[2] = 3)),
    broken('op −2', (row) => (row[2] = -2)),
    broken('a cell past N', (row) => (row[0] = dims(ctx.inst).N)),
    broken('a cell at −5', (row) => (row[1] = -5)),
  ];
}

function decodedWidth(ctx: Ctx): number {
  const { N } = dims(ctx.inst);
  if (ctx.inst.kind === 'categorical') return 1;
  if (isAlignment(ctx.inst.kind)) return (N + extent(ctx.inst) - 1) * 3;
  return ctx.inst.kind.startsWith('tree') ? (2 * N - 1) * 3 : N;
}

/** Bad calls of methods with grad (and maybe more) arguments: bad grads, then `rest` appended. */
function gradThen(rest: (ctx: Ctx) => unknown[]) {
  return (ctx: Ctx): BadCall[] => badGrads(ctx).map((c) => ({ ...c, args: [...c.args, ...rest(ctx)] }));
}

function badSampleArgs(ctx: Ctx): BadCall[] {
  return [
    ...badCounts(ctx).map((k) => ({ label: `k = ${String(k)}`, args: [k, { seed: 1 }] })),
    ...badSeeds().map((seed) => ({ label: `seed ${String(seed)}`, args: [1, { seed }] })),
    { label: 'no options', args: [1] },
    { label: 'options null', args: [1, null] },
  ];
}

function badPerturbArgs(): BadCall[] {
  return [
    ...badSeeds().map((seed) => ({ label: `seed ${String(seed)}`, args: [{ seed, temperature: 1 }] })),
    ...badTemperatures().map((temperature) => ({ label: `temperature ${String(temperature)}`, args: [{ seed: 1, temperature }] })),
    { label: 'no options', args: [] },
    { label: 'options null', args: [null] },
  ];
}

// ---- the table ------------------------------------------------------------------------------------

const pureReaders = { reads: false } as const;

/** What to call and check for each public method. */
export const methodCases: Record<StructureMethod, MethodCase> = {
  logPartition: { reads: true, check: checkLogPartition },
  logPartitionAsync: { reads: true, twin: 'logPartition' },
  marginals: { reads: true, check: (ctx, r) => checkMarginals(ctx, r) },
  marginalsAsync: { reads: true, twin: 'marginals' },
  edgeMarginals: {
    reads: true,
    check: (ctx, r) => {
      const { B, N, C } = dims(ctx.inst);
      checkParts({ ...ctx.inst, kind: 'chain', shape: [B, N - 1, C, C] }, viewOf(r, 'edgeMarginals'), false, 'edgeMarginals');
    },
  },
  marginalsBackward: {
    reads: true,
    args: (ctx) => [partsGrad(ctx)],
    check: (ctx, r, args) => checkHessianProduct(ctx, 'marginalsBackward', r, args),
    bad: (ctx) => badGrads(ctx),
  },
  marginalsBackwardAsync: { reads: true, args: (ctx) => [partsGrad(ctx)], twin: 'marginalsBackward', bad: (ctx) => badGrads(ctx) },
  entropy: { reads: true, check: checkEntropy },
  entropyAsync: { reads: true, twin: 'entropy' },
  argmax: { reads: true, check: (ctx, r) => checkParts(ctx.inst, viewOf(r, 'argmax'), true, 'argmax') },
  argmaxDecoded: { reads: true, check: (ctx, r) => checkDecoded(ctx, r, 'argmaxDecoded') },
  argmaxAsync: { reads: true, twin: 'argmaxDecoded' },
  sample: {
    reads: true,
    args: (ctx) => [sampleCount(ctx), { seed: seedOf(ctx) }],
    check: (ctx, r, args) => {
      checkParts(ctx.inst, viewOf(r, 'sample'), true, 'sample');
      scoresOfParts(ctx.inst, viewOf(r, 'sample')).forEach((s, i) => ensure(s > -Infinity, () => `sample ${i} uses a masked part`));
      expectIdentical(call(ctx, 'sample', args), r, 'sample again with the same seed');
    },
    bad: badSampleArgs,
  },
  topk: { reads: true, args: (ctx) => [topkCount(ctx)], bad: badTopkArgs },
  topkAsync: { reads: true, args: (ctx) => [topkCount(ctx)], twin: 'topk', bad: badTopkArgs },
  sampleDecoded: { reads: true, args: (ctx) => [sampleCount(ctx), { seed: seedOf(ctx) }], check: (ctx, r) => checkDecoded(ctx, r, 'sampleDecoded'), bad: badSampleArgs },
  sampleAsync: { reads: true, args: (ctx) => [sampleCount(ctx), { seed: seedOf(ctx) }], twin: 'sampleDecoded', bad: badSampleArgs },
  logProb: {
    reads: true,
    args: (ctx) => [structureForLogProb(ctx)],
    check: (ctx, r) => {
      const logp = hostData(r, 'logProb');
      const best = mapScores(ctx);
      const logZ = hostData(ctx.structure.logPartition(), 'logPartition');
      logp.forEach((v, b) => {
        const tol = 2 * scoreTolerance(ctx.inst, b);
        ensure(v <= tol && Math.abs(v - (best[b] - logZ[b])) <= tol, () => `logProb[${b}] of the MAP = ${v}, expected score − log Z = ${best[b] - logZ[b]}`);
      });
    },
    bad: badStructures,
  },
  logProbAsync: { reads: true, args: (ctx) => [structureForLogProb(ctx)], twin: 'logProb', bad: badStructures },
  perturbAndMap: {
    reads: true,
    args: (ctx) => [perturbOptions(ctx)],
    check: (ctx, r, args) => {
      checkParts(ctx.inst, viewOf(r, 'perturbAndMap'), true, 'perturbAndMap');
      expectIdentical(call(ctx, 'perturbAndMap', args), r, 'perturbAndMap again with the same seed');
    },
    bad: badPerturbArgs,
  },
  perturbAndMapDecoded: { reads: true, args: (ctx) => [perturbOptions(ctx)], check: (ctx, r) => checkDecoded(ctx, r, 'perturbAndMapDecoded'), bad: badPerturbArgs },
  perturbAndMapAsync: { reads: true, args: (ctx) => [perturbOptions(ctx)], twin: 'perturbAndMapDecoded', bad: badPerturbArgs },
  perturbedMarginals: { reads: true, args: (ctx) => [perturbOptions(ctx)], check: (ctx, r) => checkMarginals(ctx, r, 'perturbedMarginals', false), bad: badPerturbArgs },
  perturbedMarginalsAsync: { reads: true, args: (ctx) => [perturbOptions(ctx)], twin: 'perturbedMarginals', bad: badPerturbArgs },
  perturbedMarginalsBackward: {
    reads: true,
    args: (ctx) => [partsGrad(ctx), perturbOptions(ctx)],
    check: (ctx, r, args) => checkHessianProduct(ctx, 'perturbedMarginalsBackward', r, args),
    bad: (ctx) => [...gradThen(() => [{ seed: 1 }])(ctx), ...badPerturbArgs().map((c) => ({ ...c, args: [partsGrad(ctx), ...c.args] }))],
  },
  sparsemap: {
    reads: true,
    args: (ctx) => (ctx.inst.kind === 'categorical' || ctx.random() < 0.5 ? [] : [{ maxActive: 1 + Math.floor(ctx.random() * 16) }]),
    check: checkSparseMap,
    bad: (ctx) => (ctx.inst.kind === 'categorical' ? [] : badSparseMapOptions()),
  },
  sparsemapAsync: { reads: true, twin: 'sparsemap', bad: () => badSparseMapOptions() },
  sparsemapBackward: {
    reads: true,
    args: (ctx) => [partsGrad(ctx)],
    check: (_ctx, r) => finiteAll(viewOf(r, 'sparsemapBackward').main, 'sparsemapBackward'),
    bad: (ctx) => [...badGrads(ctx), ...(ctx.inst.kind === 'categorical' ? [] : badSolutions(ctx, true).map((c) => ({ ...c, args: [partsGrad(ctx), ...c.args] })))],
  },
  sparsemapBackwardAsync: { reads: true, args: (ctx) => [partsGrad(ctx)], twin: 'sparsemapBackward', bad: (ctx) => badGrads(ctx) },
  partScores: { ...pureReaders, check: (ctx, r) => ensure(viewOf(r, 'partScores').main.length === ctx.inst.values.length, () => 'partScores has the wrong size') },
  partsBackward: {
    ...pureReaders,
    args: (ctx) => [partsGrad(ctx)],
    check: (ctx, r, args) =>
      ctx.inst.kind === 'hmm' ? checkHmmGradient(ctx, r, () => args[0], 'partsBackward') : finiteAll(viewOf(r, 'partsBackward').main, 'partsBackward'),
    bad: (ctx) => (isFactored(ctx.inst.kind) ? [{ label: 'grad null', args: [null] }, { label: 'grad {}', args: [{}] }] : [{ label: 'grad null', args: [null] }]),
  },
  supportParts: {
    reads: false,
    args: (ctx) => [ctx.structure.sparsemap()],
    check: (ctx, r) => checkParts(ctx.inst, viewOf(r, 'supportParts'), true, 'supportParts'),
    bad: (ctx) => badSolutions(ctx),
  },
  withScores: {
    reads: false,
    args: (ctx) => [ctx.structure.partScores()],
    check: (ctx, r) => {
      const again = hostData((r as AnyStructure).logPartition(), 'withScores(partScores()).logPartition()');
      hostData(ctx.structure.logPartition(), 'logPartition').forEach((v, b) =>
        ensure(Math.abs(again[b] - v) <= scoreTolerance(ctx.inst, b), () => `withScores(partScores()).logPartition()[${b}] = ${again[b]}, expected ${v}`),
      );
    },
    bad: () => [{ label: 'scores null', args: [null] }, { label: 'scores {}', args: [{}] }],
  },
  dispose: pureReaders,
  entmax15: {
    reads: true,
    check: (ctx, r) => checkParts(ctx.inst, viewOf(r, 'entmax15'), false, 'entmax15'),
  },
  entmax15Backward: { reads: true, args: (ctx) => [partsGrad(ctx)], check: (_ctx, r) => finiteAll(viewOf(r, 'entmax15Backward').main, 'entmax15Backward'), bad: badGrads },
  enumerate: { ...pureReaders, check: (ctx, r) => checkParts(ctx.inst, viewOf(r, 'enumerate'), true, 'enumerate') },
  gumbelPair: {
    reads: true,
    args: (ctx) => [{ seed: seedOf(ctx) }],
    check: (ctx, r) => {
      const pair = r as { perturbed: unknown; conditional: unknown };
      for (const [name, t] of Object.entries({ perturbed: pair.perturbed, conditional: pair.conditional })) {
        Array.from(viewOf(t, name).main).forEach((v, q) => ensure(ctx.inst.values[q] === -Infinity ? v === -Infinity : Number.isFinite(v), () => `gumbelPair ${name}[${q}] = ${v}`));
      }
    },
    bad: () => badSeeds().map((seed) => ({ label: `seed ${String(seed)}`, args: [{ seed }] })),
  },
  gumbelSoftmax: {
    reads: true,
    args: (ctx) => [perturbOptions(ctx)],
    check: (ctx, r) => checkParts(ctx.inst, viewOf(r, 'gumbelSoftmax'), false, 'gumbelSoftmax'),
    bad: () => badPerturbArgs().filter((c) => c.args.length > 0),
  },
  kl: { reads: true, args: (ctx) => [ctx.structure], check: (ctx, r) => checkDivergence(ctx, r, 'kl'), bad: badOthers },
  crossEntropy: { reads: true, args: (ctx) => [ctx.structure], check: (ctx, r) => checkDivergence(ctx, r, 'crossEntropy'), bad: badOthers },
  klBackward: {
    reads: true,
    args: (ctx) => [ctx.structure, new Float64Array(dims(ctx.inst).B).fill(1)],
    check: (_ctx, r) => checkDivergenceGrad(r, 'klBackward'),
    bad: badDivergenceGrads,
  },
  crossEntropyBackward: {
    reads: true,
    args: (ctx) => [ctx.structure, new Float64Array(dims(ctx.inst).B).fill(1)],
    check: (_ctx, r) => checkDivergenceGrad(r, 'crossEntropyBackward'),
    bad: badDivergenceGrads,
  },
  klAsync: { reads: true, args: (ctx) => [ctx.structure], twin: 'kl', bad: badOthers },
  crossEntropyAsync: { reads: true, args: (ctx) => [ctx.structure], twin: 'crossEntropy', bad: badOthers },
  klBackwardAsync: { reads: true, args: (ctx) => [ctx.structure, new Float64Array(dims(ctx.inst).B).fill(1)], twin: 'klBackward', bad: badDivergenceGrads },
  crossEntropyBackwardAsync: {
    reads: true,
    args: (ctx) => [ctx.structure, new Float64Array(dims(ctx.inst).B).fill(1)],
    twin: 'crossEntropyBackward',
    bad: badDivergenceGrads,
  },
  countAsync: { reads: false, twin: 'count' },
  count: {
    reads: false,
    check: (ctx, r) => {
      const count = r as Float64Array;
      for (let b = 0; b < dims(ctx.inst).B; b++) {
        const bound = logCount(ctx.inst, b);
        const tol = 1e-4 * (1 + bound);
        const exactCount = ctx.inst.kind !== 'dependency' && ctx.inst.kind !== 'nonprojective';
        ensure(Number.isFinite(count[b]) && count[b] <= bound + tol && (!exactCount || count[b] >= bound - tol), () => `count[${b}] = ${count[b]}, log(#structures) ${exactCount ? '=' : '≤'} ${bound}`);
      }
    },
  },
};

/** KL(p‖p) = 0 (up to rounding) and H(p, p) = H(p) ∈ [0, log(#structures)], per instance (host float64 `[B]`). */
function checkDivergence(ctx: Ctx, result: unknown, what: 'kl' | 'crossEntropy'): void {
  ensure(result instanceof Float64Array && result.length === dims(ctx.inst).B, () => `${what} is not a Float64Array of B values`);
  const values = result as Float64Array;
  for (let b = 0; b < values.length; b++) {
    const tol = scoreTolerance(ctx.inst, b) * 64;
    // 0 exactly for p.kl(p); a device twin against the host structure differs by the backends' rounding of log Z.
    if (what === 'kl') ensure(values[b] >= 0 && values[b] <= tol, () => `kl(self)[${b}] = ${values[b]}, not 0`);
    else ensure(values[b] >= -tol && values[b] <= logCount(ctx.inst, b) + tol, () => `crossEntropy(self)[${b}] = ${values[b]} is outside [0, log(#structures)]`);
  }
}

/** The gradients of a divergence of a structure with itself: finite tensors (zero for KL). */
function checkDivergenceGrad(result: unknown, what: string): void {
  const { self, other } = result as { self: unknown; other: unknown };
  for (const [side, g] of Object.entries({ self, other })) {
    const leaves = g !== null && typeof g === 'object' && !('shape' in g) ? Object.entries(g as Record<string, unknown>) : [['', g] as const];
    for (const [name, leaf] of leaves) hostData(leaf, `${what}.${side}${name ? `.${name}` : ''}`).forEach((v, q) => ensure(Number.isFinite(v), () => `${what}.${side}[${q}] = ${v}`));
  }
}

function badOthers(): BadCall[] {
  return [
    { label: 'other null', args: [null], codes: ['ERR_INVALID_ARG_TYPE'] },
    { label: 'other {}', args: [{}], codes: ['ERR_INVALID_ARG_TYPE'] },
  ];
}

function badDivergenceGrads(ctx: Ctx): BadCall[] {
  const B = dims(ctx.inst).B;
  return [
    ...badOthers().map((c) => ({ ...c, args: [...c.args, new Float64Array(B).fill(1)] })),
    { label: 'grad of B + 1', args: [ctx.structure, new Float64Array(B + 1)], codes: ['ERR_SHAPE_MISMATCH'] },
    { label: 'grad NaN', args: [ctx.structure, new Float64Array(B).fill(NaN)], codes: ['ERR_NOT_FINITE'] },
    { label: 'grad null', args: [ctx.structure, null], codes: ['ERR_INVALID_ARG_TYPE'] },
  ];
}

const classOf: Record<Kind, { prototype: object }> = {
  categorical: Categorical,
  chain: LinearChainCRF,
  'chain-factored': LinearChainCRF,
  tree: TreeCRF,
  'tree-labelled': TreeCRF,
  dependency: DependencyCRF,
  nonprojective: NonProjectiveDependencyCRF,
  hmm: HMM,
  'semi-markov': SemiMarkovCRF,
  alignment: AlignmentCRF,
  'alignment-local': AlignmentCRF,
};

/** The public methods of a kind's class (the table's names that it has). */
export function methodsOf(kind: Kind): StructureMethod[] {
  const prototype = classOf[kind].prototype as Record<string, unknown>;
  // topk is not implemented for NonProjectiveDependencyCRF yet (it throws ERR_NOT_IMPLEMENTED).
  const topkPending = [NonProjectiveDependencyCRF].some((Class) => classOf[kind] === Class);
  return (Object.keys(methodCases) as StructureMethod[]).filter(
    (name) => typeof prototype[name] === 'function' && !(topkPending && name.startsWith('topk')),
  );
}

export function contextOf(inst: Instance, seed: number, structure = buildStructure(inst)): Ctx {
  return { inst, structure, random: rng(seed) };
}

function applicable(inst: Instance, method: StructureMethod): boolean {
  return method !== 'edgeMarginals' || dims(inst).N >= 2;
}

/** SparseMAP of a chain needs edge potentials: on the factored form these methods raise a TypeError. */
function needsEdges(inst: Instance, method: StructureMethod): boolean {
  return isFactored(inst.kind) && (method.startsWith('sparsemap') || method === 'supportParts');
}

/** A valid call of one method on one instance. */
export interface ValidCase {
  inst: Instance;
  method: StructureMethod;
  seed: number;
}

/**
 * A valid call of `method` on the instance, ready to repeat (its arguments drawn once), or undefined where the
 * method does not apply (edge marginals of N = 1, SparseMAP of a factored chain).
 */
export function preparedCall(inst: Instance, method: StructureMethod, seed: number, device?: 'cuda'): (() => unknown) | undefined {
  if (!applicable(inst, method) || needsEdges(inst, method)) return undefined;
  const ctx = contextOf(inst, seed, buildStructure(inst, device));
  const args = methodCases[method].args?.(ctx) ?? [];
  return () => call(ctx, method, args);
}

/** Runs a valid call and its checks; throws a FuzzFailure or an invariant error when something is wrong. */
export async function runValid({ inst, method, seed }: ValidCase): Promise<void> {
  const ctx = contextOf(inst, seed);
  if (!applicable(inst, method)) return;
  const spec = methodCases[method];
  if (needsEdges(inst, method)) {
    expectLibraryError(await outcomeOf(() => call(ctx, method, [partsGrad(ctx)])), `${method} of a factored chain`, ['ERR_INVALID_ARG_TYPE']);
    return;
  }
  const args = spec.args?.(ctx) ?? [];
  const outcome = await outcomeOf(() => call(ctx, method, args));
  if (outcome.threw) throw new FuzzFailure(`${method} threw on valid input: ${String((outcome.error as Error)?.stack ?? outcome.error)}`);
  if (spec.twin) {
    expectIdentical(outcome.value, call(ctx, spec.twin, args), `${method} against ${spec.twin}`);
  } else {
    spec.check?.(ctx, outcome.value, args);
  }
  if (cudaAvailable && method !== 'dispose') await runOnDevice(ctx, method, args, outcome);
}

/**
 * With a GPU: the same call on `{ device: 'cuda' }` gives host results close to the CPU's (sampling and argmax
 * ties may differ in the last bits, so only the shapes and invariants of those are compared).
 */
async function runOnDevice(ctx: Ctx, method: StructureMethod, args: unknown[], cpu: Outcome): Promise<void> {
  const structure = buildStructure(ctx.inst, 'cuda');
  try {
    const gpuCtx: Ctx = { ...ctx, structure, random: rng(1) };
    const gpu = await outcomeOf(() => call(gpuCtx, method, args));
    if (gpu.threw) throw new FuzzFailure(`${method} on CUDA threw on valid input: ${String(gpu.error)}`);
    const spec = methodCases[method];
    if (!spec.twin) spec.check?.(gpuCtx, gpu.value, args);
    if (['logPartition', 'marginals', 'entropy', 'marginalsBackward'].includes(method) && !cpu.threw) {
      const a = flatten(gpu.value);
      const e = flatten(cpu.value);
      const tol = 10 * partTolerance(ctx.inst, 0) + scoreTolerance(ctx.inst, 0);
      a.forEach(([path, v], i) => {
        const w = e[i][1];
        if (typeof v === 'number' && typeof w === 'number') ensure(Math.abs(v - w) <= tol * (1 + Math.abs(w)), () => `${method} on CUDA: ${path} = ${v}, CPU ${w}`);
      });
    }
  } finally {
    structure.dispose();
  }
}

/** Ways to break a call; each must raise a coded error. */
export const mutations = [
  'non-finite potential',
  'instance without a structure',
  'bad lengths',
  'bad shape',
  'tampered tensor',
  'dtype mismatch',
  'bad device',
  'device tensor',
  'bad arguments',
] as const;
export type Mutation = (typeof mutations)[number];

/** An invalid call: a valid instance and method, broken by one mutation (choices drawn from `seed`). */
export interface InvalidCase extends ValidCase {
  mutation: Mutation;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** The structure (or the error building it) and the call of `method` under a mutation. */
function mutatedCall(c: InvalidCase, random: () => number): { build: () => AnyStructure; args?: unknown[]; label: string; codes?: ErrorCode[] } | undefined {
  const { inst, mutation } = c;
  const { B, N } = dims(inst);
  const t = tensorsOf(inst);
  const withMain = (main: unknown) => () => buildStructure(inst, undefined, { ...t, main: main as Tensor });
  if (inst.kind === 'hmm' && ['non-finite potential', 'instance without a structure', 'bad shape', 'tampered tensor', 'dtype mismatch', 'device tensor'].includes(mutation)) {
    return mutatedHmmCall(c, random);
  }
  switch (mutation) {
    case 'non-finite potential': {
      const bad = pick(random, [Number.NaN, Infinity]);
      const target = inst.transition && random() < 0.5 ? (t.transition as Tensor) : t.main;
      target.data[Math.floor(random() * target.size)] = bad;
      return { build: () => buildStructure(inst, undefined, t), label: `a ${bad} potential`, codes: ['ERR_INVALID_SCORES'] };
    }
    case 'instance without a structure': {
      // a segmentation of one position has no parts: its log Z is log C whatever the scores
      const candidates = Array.from({ length: B }, (_, b) => b).filter((b) => inst.kind !== 'semi-markov' || lengthOf(inst, b) >= 2);
      if (candidates.length === 0) return undefined;
      const b = pick(random, candidates);
      const block = t.main.size / B;
      t.main.data.fill(-Infinity, b * block, (b + 1) * block);
      return { build: () => buildStructure(inst, undefined, t), label: `instance ${b} all −Infinity`, codes: ['ERR_INVALID_SCORES'] };
    }
    case 'bad lengths': {
      if (inst.kind === 'categorical') return undefined;
      const lengths = pick(random, [[0], [N + 1], [-1], [1.5], [Number.NaN], 'x', {}, [null], new Float32Array([1.5])]);
      const full = Array.isArray(lengths) && lengths.length === 1 ? Array.from({ length: B }, (_, b) => (b === B - 1 ? lengths[0] : 1)) : lengths;
      const wrongCount = random() < 0.2 ? Array.from({ length: B + 1 }, () => 1) : full;
      const codes: ErrorCode[] = ['ERR_OUT_OF_RANGE', 'ERR_SHAPE_MISMATCH', 'ERR_INVALID_ARG_TYPE'];
      if (isAlignment(inst.kind) && random() < 0.5) {
        // the lengths over M: targetLengths, checked like lengths (M + 1 where lengths had N + 1)
        const over = Array.isArray(wrongCount) ? wrongCount.map((v) => (v === N + 1 ? extent(inst) + 1 : v)) : wrongCount;
        return { build: () => buildStructure({ ...inst, targetLengths: over as number[] }, undefined, t), label: `targetLengths ${JSON.stringify(over)}`, codes };
      }
      return { build: () => buildStructure({ ...inst, lengths: wrongCount as number[] }, undefined, t), label: `lengths ${JSON.stringify(wrongCount)}`, codes };
    }
    case 'bad shape': {
      const shapes = [[t.main.size], [1, 1, 1, 1, 1, t.main.size]];
      if (inst.transition) {
        const { C } = dims(inst);
        const transition = new Tensor(t.transition!.data.slice(0, 1), [1, 1]);
        if (C > 1) return { build: () => buildStructure(inst, undefined, { ...t, transition }), label: 'transition [1, 1]', codes: ['ERR_SHAPE_MISMATCH'] };
      }
      const { C } = dims(inst);
      if (inst.kind === 'semi-markov') {
        // K < 2, or the two label dimensions differing: [B, N − 1, K, C, C′]
        const K = extent(inst);
        shapes.push([B, N - 1, 1, C * C * K], [B, N - 1, K * C, C], ...(C > 1 ? [[B, N - 1, K * C, 1, C]] : []), [B * (N - 1), K, C, C]);
      }
      if (isAlignment(inst.kind)) shapes.push([B, N, extent(inst) * 3, 1], [B, N, extent(inst), 3, 1], [B * N, extent(inst), 3]);
      const shape = pick(random, shapes);
      return { build: withMain(t.main.reshape(shape)), label: `potentials reshaped to [${shape.join(', ')}]`, codes: ['ERR_INVALID_SHAPE', 'ERR_SHAPE_MISMATCH'] };
    }
    case 'tampered tensor': {
      const tampered = t.main as unknown as { data: unknown; shape: unknown };
      const how = pick(random, ['Int32Array', 'Uint8Array', 'Array', 'short', 'null', 'shape huge', 'shape zero', 'shape string', 'shape NaN', 'shape 2^32']);
      const n = t.main.size;
      const data: Record<string, () => unknown> = {
        Int32Array: () => new Int32Array(n),
        Uint8Array: () => new Uint8Array(n),
        Array: () => Array.from(t.main.data),
        short: () => t.main.data.slice(0, Math.max(0, n - 1)),
        null: () => null,
      };
      if (how in data) Object.defineProperty(tampered, 'data', { value: data[how]() });
      else {
        const shape = { 'shape huge': [2 ** 31 - 1, ...inst.shape.slice(1)], 'shape zero': [0, ...inst.shape.slice(1)], 'shape string': [String(B), ...inst.shape.slice(1)], 'shape NaN': [Number.NaN, ...inst.shape.slice(1)], 'shape 2^32': [65536, 65536, ...inst.shape.slice(2)] }[how];
        Object.defineProperty(tampered, 'shape', { value: shape });
      }
      return { build: () => buildStructure(inst, undefined, t), label: `tensor with ${how}` };
    }
    case 'dtype mismatch': {
      if (!inst.transition) return undefined;
      const other = inst.dtype === 'float64' ? Float32Array.from(t.transition!.data) : Float64Array.from(t.transition!.data);
      return { build: () => buildStructure(inst, undefined, { ...t, transition: new Tensor(other, [...t.transition!.shape]) }), label: 'transition of the other dtype', codes: ['ERR_DTYPE_MISMATCH'] };
    }
    case 'bad device': {
      const device = pick(random, cudaAvailable ? ['gpu', '', 1, 'CUDA'] : ['cuda', 'gpu', '', 1, 'CUDA']);
      return { build: () => buildStructure(inst, device as 'cuda', t), label: `device ${JSON.stringify(device)}`, codes: device === 'cuda' ? ['ERR_NO_CUDA'] : ['ERR_OUT_OF_RANGE'] };
    }
    case 'device tensor': {
      const disposed = random() < 0.5;
      let device: DeviceTensor;
      if (cudaAvailable) {
        device = t.main.toDevice();
        if (disposed) device.dispose();
      } else {
        device = fakeDeviceTensor(t.main, disposed);
      }
      const mixed = inst.transition !== undefined && random() < 0.5;
      if (mixed) return { build: () => buildStructure(inst, undefined, { ...t, main: device as unknown as Tensor }), label: 'unary on a device, transition on the host', codes: ['ERR_MIXED_DEVICES'] };
      if (cudaAvailable && !disposed) return undefined; // a valid device call: runOnDevice covers it
      return { build: withMain(device), label: `${disposed ? 'disposed ' : ''}${cudaAvailable ? '' : 'fake '}DeviceTensor`, codes: ['ERR_TENSOR_DISPOSED', 'ERR_INVALID_ARG_TYPE', 'ERR_MIXED_DEVICES', 'ERR_NO_CUDA'] };
    }
    case 'bad arguments': {
      const spec = methodCases[c.method];
      const ctx = contextOf(inst, c.seed);
      const bad = spec.bad?.(ctx) ?? [];
      if (bad.length === 0) return undefined;
      const chosen = pick(random, bad);
      return { build: () => ctx.structure, args: chosen.args, label: chosen.label, codes: chosen.codes };
    }
  }
}

/** The mutations of an HMM's parameters and observations (those of its potentials on the other kinds). */
function mutatedHmmCall(c: InvalidCase, random: () => number): ReturnType<typeof mutatedCall> {
  const { inst, mutation } = c;
  const t = tensorsOf(inst);
  const { params, observations } = t.hmm!;
  const [B, N] = observations.shape;
  const build = (p: Record<string, unknown> = params, o: unknown = observations) => () => buildStructure(inst, undefined, { ...t, hmm: { params: p as never, observations: o as never } });
  const name = pick(random, ['transition', 'emission', 'init'] as const);
  switch (mutation) {
    case 'non-finite potential': {
      const bad = pick(random, [Number.NaN, Infinity]);
      params[name].data[Math.floor(random() * params[name].size)] = bad;
      return { build: build(), label: `params.${name} with ${bad}`, codes: ['ERR_INVALID_SCORES'] };
    }
    case 'instance without a structure':
      params.init.data.fill(-Infinity);
      return { build: build(), label: 'init all −Infinity', codes: ['ERR_INVALID_SCORES'] };
    case 'bad shape': {
      const V = inst.hmm!.V;
      const choices: [string, () => AnyStructure][] = [
        ...(name === 'init' ? [] : ([[`params.${name} flattened`, build({ ...params, [name]: params[name].reshape([params[name].size]) })]] as [string, () => AnyStructure][])),
        [`params.${name} with a unit dimension`, build({ ...params, [name]: params[name].reshape([1, ...params[name].shape]) })],
        ['observations of the wrong count', build(params, { data: observations.data.slice(1), shape: [B, N] })],
        ['observations shape [B·N]', build(params, { data: observations.data, shape: [B * N] })],
        [`observation ${V}`, build(params, { data: observations.data.map((x, q) => (q === 0 ? V : x)), shape: [B, N] })],
        ['observation −1', build(params, { data: observations.data.map((x, q) => (q === 0 ? -1 : x)), shape: [B, N] })],
        ['observation 1.5', build(params, { data: Array.from(observations.data, (x, q) => (q === 0 ? 1.5 : x)), shape: [B, N] })],
        ['ragged observation rows', build(params, Array.from({ length: B + 1 }, (_, b) => new Array(b === B ? N + 1 : N).fill(0)))],
        ['observations null', build(params, null)],
        ['observations a Float64Array', build(params, { data: Float64Array.from(observations.data), shape: [B, N] })],
      ];
      const [label, made] = pick(random, choices);
      return { build: made, label, codes: ['ERR_INVALID_SHAPE', 'ERR_SHAPE_MISMATCH', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE'] };
    }
    case 'tampered tensor': {
      const tampered = params[name] as unknown as { data: unknown; shape: unknown };
      const how = pick(random, ['Int32Array', 'Array', 'short', 'null', 'shape huge', 'shape zero', 'shape NaN', 'shape 2^32']);
      const n = params[name].size;
      const data: Record<string, () => unknown> = { Int32Array: () => new Int32Array(n), Array: () => Array.from(params[name].data), short: () => params[name].data.slice(0, Math.max(0, n - 1)), null: () => null };
      if (how in data) Object.defineProperty(tampered, 'data', { value: data[how]() });
      else {
        const rest = params[name].shape.slice(1);
        const shape = { 'shape huge': [2 ** 31 - 1, ...rest], 'shape zero': [0, ...rest], 'shape NaN': [Number.NaN, ...rest], 'shape 2^32': [65536, 65536, ...rest] }[how];
        Object.defineProperty(tampered, 'shape', { value: shape });
      }
      return { build: build(), label: `params.${name} with ${how}` };
    }
    case 'dtype mismatch': {
      const other = inst.dtype === 'float64' ? Float32Array.from(params[name].data) : Float64Array.from(params[name].data);
      return { build: build({ ...params, [name]: new Tensor(other, [...params[name].shape]) }), label: `params.${name} of the other dtype`, codes: ['ERR_DTYPE_MISMATCH'] };
    }
    default: {
      // 'device tensor': one parameter on a (fake or disposed) device, the others on the host
      const disposed = random() < 0.5;
      let device: DeviceTensor;
      if (cudaAvailable) {
        device = params[name].toDevice();
        if (disposed) device.dispose();
      } else {
        device = fakeDeviceTensor(params[name], disposed);
      }
      return { build: build({ ...params, [name]: device }), label: `params.${name} a ${disposed ? 'disposed ' : ''}DeviceTensor`, codes: ['ERR_TENSOR_DISPOSED', 'ERR_INVALID_ARG_TYPE', 'ERR_MIXED_DEVICES', 'ERR_NO_CUDA'] };
    }
  }
}

/** Runs an invalid call: building the structure or calling the method must raise a coded error (of `codes`). */
export async function runInvalid(c: InvalidCase): Promise<string | undefined> {
  const random = rng(c.seed ^ 0x5bd1e995);
  if (!applicable(c.inst, c.method) || needsEdges(c.inst, c.method)) return undefined;
  const spec = methodCases[c.method];
  if (!spec.reads && ['non-finite potential', 'instance without a structure', 'tampered tensor', 'device tensor'].includes(c.mutation)) return undefined;
  const mutated = mutatedCall(c, random);
  if (!mutated) return undefined;
  const what = `${c.method} with ${mutated.label}`;
  const built = await outcomeOf(mutated.build);
  if (built.threw) {
    expectLibraryError(built, `constructor with ${mutated.label}`, mutated.codes);
    return mutated.label;
  }
  const structure = built.value as AnyStructure;
  const args = mutated.args ?? spec.args?.(contextOf(c.inst, c.seed, buildStructure(c.inst))) ?? [];
  expectLibraryError(await outcomeOf(() => (structure as unknown as Record<string, Method>)[c.method](...args)), what, mutated.codes);
  return mutated.label;
}

/** Valid calls: an instance, one of its structure's methods, a seed. */
export const validCaseArbitrary = (instances: fc.Arbitrary<Instance>): fc.Arbitrary<ValidCase> =>
  instances.chain((inst) => fc.record({ inst: fc.constant(inst), method: fc.constantFrom(...methodsOf(inst.kind)), seed: fc.nat() }));

/** Invalid calls: a valid call and a mutation. */
export const invalidCaseArbitrary = (instances: fc.Arbitrary<Instance>): fc.Arbitrary<InvalidCase> =>
  instances.chain((inst) =>
    fc.record({ inst: fc.constant(inst), method: fc.constantFrom(...methodsOf(inst.kind)), seed: fc.nat(), mutation: fc.constantFrom(...mutations) }),
  );
