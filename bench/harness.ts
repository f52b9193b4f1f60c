/** Shared pieces of the benchmark suites: command-line options, timing (median of runs), result rows. */
import { synchronize } from '../lib';

export function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Whether a bare `--name` flag was given. */
export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

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

/** Median wall time in ms of `reps` runs of body after one warm-up (synchronizing the GPU when `sync`). */
export function time(reps: number, body: () => unknown, sync: boolean): number {
  return timeWithin(0, reps, reps, body, sync).ms;
}

/**
 * Median wall time in ms of as many runs of body as fit in `budgetMs` (timed by the warm-up run), at least
 * `minReps` and at most `maxReps`; synchronizing the GPU when `sync`. For ops whose cost spans orders of
 * magnitude across sizes (cubic tree algorithms), so that small sizes get many runs and large ones few.
 */
export function timeWithin(
  budgetMs: number,
  minReps: number,
  maxReps: number,
  body: () => unknown,
  sync: boolean,
): { ms: number; reps: number } {
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

/** One measured (op, backend, size). */
export interface Row {
  suite: string;
  op: string;
  backend: string;
  /** The size, as printed ("B × K", "B × N × C"). */
  size: string;
  dtype: string;
  medianMs: number;
  /** Bytes the op must move (inputs once, outputs once) per ms → GB/s. */
  gbPerS: number;
  /** Items per second: rows (categorical) or tokens (sequences). */
  itemsPerS: number;
  rooflineFraction: number;
  /** Runs behind the median, when it varies per row. */
  reps?: number;
  /** Tree suites (inside-outside): the figures KERNELS.md asks for. */
  tree?: {
    sentencesPerS: number;
    tokensPerS: number;
    /** Split points visited per second, summed over the op's passes. */
    splitPointsPerS: number;
    /** splitPointsPerS over the exp-throughput ceiling used (one exp per split point). */
    expFraction: number;
  };
}

export interface SuiteOptions {
  reps: number;
  dtypes: string[];
  cpuCeiling: number;
  gpuCeiling: number;
  gpu: boolean;
}
