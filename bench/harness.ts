/** Shared pieces of the benchmark suites: timing (median of runs), test data, result rows and the suite context. */
import { AnyTensor, DType, Tensor, setThreads, synchronize } from '../lib';
import { resultToHost } from '../lib/ops/placement';
import { BenchOptions, SuiteName } from './options';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Frees every DeviceTensor (or native buffer) inside a result. */
export function release(result: unknown): void {
  if (result && typeof result === 'object' && !ArrayBuffer.isView(result)) {
    if ('dispose' in result && typeof (result as { dispose: unknown }).dispose === 'function') (result as { dispose(): void }).dispose();
    else Object.values(result).forEach(release);
  }
}

/** A median over runs. */
export interface Measured {
  ms: number;
  reps: number;
}

/** Median wall time in ms of `reps` runs of body after one warm-up (synchronizing the GPU when `sync`). */
export function time(reps: number, body: () => unknown, sync: boolean): number {
  return timeWithin(0, reps, reps, body, sync).ms;
}

/**
 * Median wall time in ms of as many runs of body as fit in `budgetMs` (timed by the warm-up run), at least
 * `minReps` and at most `maxReps`; synchronizing the GPU when `sync`. For ops whose cost spans orders of
 * magnitude across sizes (cubic tree algorithms), so that small sizes get many runs and large ones few.
 */
export function timeWithin(budgetMs: number, minReps: number, maxReps: number, body: () => unknown, sync: boolean): Measured {
  const start = process.hrtime.bigint();
  release(body());
  if (sync) synchronize();
  const warmMs = Number(process.hrtime.bigint() - start) / 1e6;
  const reps = Math.max(minReps, Math.min(maxReps, Math.floor(budgetMs / Math.max(warmMs, 1e-3))));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    const result = body();
    if (sync) synchronize();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    release(result);
  }
  return { ms: median(samples), reps };
}

/** Deterministic test scores `2 sin(12.9898 (i + seed))` (scaled by `scale`) in the dtype's array. */
export function filled(size: number, dtype: DType, seed: number, scale = 2): Float32Array | Float64Array {
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin((i + seed) * 12.9898) * scale;
  return data;
}

/** A host tensor of `shape` filled by {@link filled}. */
export function filledTensor(shape: number[], dtype: DType, seed: number): Tensor {
  return new Tensor(filled(shape.reduce((a, b) => a * b, 1), dtype, seed), shape);
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

/**
 * Where a row ran: the CPU backend on all its threads, the CPU backend on one thread, CUDA on device-resident data, or
 * CUDA on host arrays (copies included).
 */
export type Backend = 'cpu' | 'cpu (1 thread)' | 'cuda (device-resident)' | 'cuda (host arrays)';
export const BACKENDS: readonly Backend[] = ['cpu', 'cpu (1 thread)', 'cuda (device-resident)', 'cuda (host arrays)'];

/** Whether a backend is the CPU's (all threads or one). */
export function onCpu(backend: Backend): boolean {
  return backend === 'cpu' || backend === 'cpu (1 thread)';
}

/** The CPU's ceilings as measured on the machine the bench runs on (cpu/roofline.h), for one thread count. */
export interface CpuCeilings {
  threads: number;
  /** Bytes read + written per second by large memcpys, in GB/s. */
  copyGbPerS: number;
  /** Vector exp rate on cache-resident data, G exp/s. */
  expGPerS: Record<DType, number>;
}

/** One measured (op, backend, size). */
export interface Row {
  /** The suite that produced it (as `--suite` names it). */
  family: SuiteName;
  /** The table's suite column ("chain (edges)", "dependency (any roots)", "sparsemap (tree)", "semimarkov"). */
  suite: string;
  op: string;
  backend: Backend;
  /** The size, as printed ("B × K", "B × N × C"). */
  size: string;
  /** Elements of the op's input potentials: the size axis of the plot. */
  elements: number;
  dtype: DType;
  medianMs: number;
  /** Runs behind the median. */
  reps: number;
  /** Bytes the op must move (inputs once, outputs once) per ms → GB/s. */
  gbPerS: number;
  /** Items per call, items as `itemUnit` says: B (categorical rows, SparseMAP instances) or B·N (tokens). */
  items: number;
  /** items / time. */
  itemsPerS: number;
  /** rows (categorical), tokens (sequences and trees), instances (SparseMAP). */
  itemUnit: 'rows' | 'tokens' | 'instances';
  /** gbPerS over the backend's bandwidth ceiling. */
  rooflineFraction: number;
  /** Tree suites (inside-outside, Matrix-Tree): the figures KERNELS.md asks for. */
  tree?: {
    sentencesPerS: number;
    tokensPerS: number;
    /** Split points (Matrix-Tree: entry updates) visited per second, summed over the op's passes. */
    splitPointsPerS: number;
    /** splitPointsPerS over the exp-throughput ceiling used (one exp per split point). */
    expFraction: number;
  };
  /**
   * Path structures (SemiMarkovCRF, AlignmentCRF: bench/paths.ts): the lattice edges with a part, summed over the op's
   * passes (forward, backward, marginals: one exp term each), and their rate over the backend's exp ceiling.
   */
  lattice?: {
    /** Sequences (SemiMarkov) or pairs (Alignment) per second. */
    sequencesPerS: number;
    tokensPerS: number;
    expTermsPerCall: number;
    expTermsPerS: number;
    /** expTermsPerS over the exp-throughput ceiling used. */
    expFraction: number;
  };
  /** Matrix-Tree ops with an elimination: 2 flops per entry update, against the backend's FP64 ceiling. */
  flops?: { gflopPerS: number; flopFraction: number };
  /**
   * Full estimator steps (bench/steps.ts): steps/s, and on CUDA rows the library's host ↔ device bytes over one step
   * (null on the CPU) and the toy decoder's own copies, apart.
   */
  step?: {
    stepsPerS: number;
    toDeviceBytesPerStep: number | null;
    toHostBytesPerStep: number | null;
    decoderBytesPerStep: number | null;
  };
  /** SparseMAP: the solution's statistics over the batch (for sparsemapBackward, those of the solution it uses). */
  sparsemap?: {
    msPerInstance: number;
    meanIterations: number;
    maxIterations: number;
    meanSupport: number;
    /** The smallest support: never 0 for a valid solution. */
    minSupport: number;
    maxSupport: number;
    convergedFraction: number;
  };
}

/** What every suite is given. */
export interface SuiteContext {
  options: BenchOptions;
  /** CUDA is asked for and usable. */
  cuda: boolean;
  log(line: string): void;
  /** The exp ceiling (exp/s) of a backend and dtype: given, or measured once per run. */
  expCeiling(backend: Backend, dtype: DType): number;
  /** The CPU backends to time ('cpu', and 'cpu (1 thread)' when the run asks for it and has more than one thread). */
  cpuBackends: Backend[];
  /** The CPU's thread count for the 'cpu' rows (the addon's at the start of the run). */
  cpuThreads: number;
  /** The measured CPU ceilings per CPU backend. */
  cpuCeilings: Map<Backend, CpuCeilings>;
}

/** The bandwidth ceiling (GB/s) of the backend a row ran on: given (--cpu-gbs), else measured on this machine. */
export function bandwidthCeiling(context: SuiteContext, backend: Backend): number {
  if (!onCpu(backend)) return context.options.ceilings.gpuGbPerS;
  return context.options.ceilings.cpuGbPerS ?? context.cpuCeilings.get(backend)?.copyGbPerS ?? Number.NaN;
}

/** Runs body with the CPU backend on the thread count of `backend`, then restores the run's count. */
export function withCpuThreads<R>(context: SuiteContext, backend: Backend, body: () => R): R {
  setThreads(backend === 'cpu (1 thread)' ? 1 : context.cpuThreads);
  try {
    return body();
  } finally {
    setThreads(context.cpuThreads);
  }
}

/** How one op runs on each backend; `hostArrays` absent where the op has no host-array form in the bench. */
export interface BackendBodies {
  cpu: () => unknown;
  device?: () => unknown;
  hostArrays?: () => unknown;
}

/** A timing per backend that has a body (CUDA ones only when `context.cuda`). */
export function timeOnBackends(
  context: SuiteContext,
  bodies: BackendBodies,
  timer: (body: () => unknown, sync: boolean) => Measured,
): Array<{ backend: Backend; measured: Measured }> {
  const timed = context.cpuBackends.map((backend) => ({ backend, measured: withCpuThreads(context, backend, () => timer(bodies.cpu, false)) }));
  if (context.cuda && bodies.device) timed.push({ backend: 'cuda (device-resident)', measured: timer(bodies.device, true) });
  if (context.cuda && bodies.hostArrays) timed.push({ backend: 'cuda (host arrays)', measured: timer(bodies.hostArrays, true) });
  return timed;
}

/** The fields of a row that the measurement decides, given the bytes the op must move and its items. */
export function throughputOf(
  context: SuiteContext,
  backend: Backend,
  measured: Measured,
  bytes: number,
  items: number,
): Pick<Row, 'backend' | 'medianMs' | 'reps' | 'gbPerS' | 'items' | 'itemsPerS' | 'rooflineFraction'> {
  const gbPerS = bytes / (measured.ms * 1e6);
  return {
    backend,
    medianMs: measured.ms,
    reps: measured.reps,
    gbPerS,
    items,
    itemsPerS: items / (measured.ms / 1e3),
    rooflineFraction: gbPerS / bandwidthCeiling(context, backend),
  };
}

/** The entries of `all` named in `wanted`, in `all`'s order. */
export function selected<T extends { name: string }>(all: readonly T[], wanted: readonly string[]): T[] {
  return all.filter((o) => wanted.includes(o.name));
}

/**
 * One run of an op on host arrays through CUDA: build the structure with `{ device: 'cuda' }` (copying the
 * potentials in), run, copy the result back, free the device copies.
 */
export function hostRoundTrip<S extends { dispose(): void }>(make: () => S, run: (structure: S) => unknown): unknown {
  const structure = make();
  try {
    return resultToHost(run(structure));
  } finally {
    structure.dispose();
  }
}

/** Timing at a fixed number of runs, as {@link timeOnBackends} takes it. */
export function fixedReps(reps: number): (body: () => unknown, sync: boolean) => Measured {
  return (body, sync) => ({ ms: time(reps, body, sync), reps });
}

/** The methods the structure suites (trees, paths) time, over any structure on TreeStructure. */
export interface TimedStructure {
  logPartition(): AnyTensor;
  marginals(): AnyTensor;
  marginalsBackward(grad: AnyTensor): AnyTensor;
  entropy(): AnyTensor;
  argmaxDecoded(): unknown;
  sampleDecoded(k: number, options: { seed: number }): unknown;
  dispose(): void;
}

/** One timed op of a structure suite. */
export interface StructureOp {
  name: string;
  /** Passes over the chart or lattice (see each suite's module doc). */
  passes: number;
  /** Elements moved given the element count of the potentials (= of the parts) and B. */
  traffic: (parts: number, B: number) => number;
  run: (s: TimedStructure) => unknown;
}

/** A fixed gradient over the parts (the marginals), cached per structure; `structureGrads.get(s)` to release it. */
export const structureGrads = new WeakMap<TimedStructure, AnyTensor>();
export function gradOf(s: TimedStructure): AnyTensor {
  let g = structureGrads.get(s);
  if (!g) {
    g = s.marginals();
    structureGrads.set(s, g);
  }
  return g;
}
