/** Shared pieces of the benchmark suites: command-line options, timing (median of runs), result rows. */
import { synchronize } from '../lib';

export function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
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
  release(body());
  if (sync) synchronize();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const start = process.hrtime.bigint();
    const result = body();
    if (sync) synchronize();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    release(result);
  }
  return median(samples);
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
}

export interface SuiteOptions {
  reps: number;
  dtypes: string[];
  cpuCeiling: number;
  gpuCeiling: number;
  gpu: boolean;
}
