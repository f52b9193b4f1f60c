/**
 * Benchmark harness: times ops on the CPU backend and, when a GPU is usable, on CUDA (host arrays, i.e.
 * copies included, and device-resident), reporting the median of repeated runs, throughput and the
 * fraction of a memory-bandwidth ceiling. Usage:
 *
 *   npm run bench -- [--sizes 32x1000,1024x128] [--reps 15] [--ops softmax,sparsemax] [--json out.json]
 *                    [--cpu-gbs 20] [--gpu-gbs 3000]
 *
 * Bytes moved per op = inputs read once + outputs written once (the roofline minimum, DESIGN/KERNELS.md).
 */
import * as fs from 'node:fs';

import {
  AnyTensor,
  Tensor,
  argmax,
  backendInfo,
  entmax15,
  entmaxBisect,
  gumbelMax,
  gumbelSoftmax,
  logsumexp,
  softmax,
  softmaxBackward,
  sparsemax,
  synchronize,
} from '../lib';

interface Op {
  name: string;
  /** Elements read and written per input element (for the bytes count). */
  traffic: (B: number, K: number) => number;
  run: (x: AnyTensor) => unknown;
}

const OPS: Op[] = [
  { name: 'logsumexp', traffic: (B, K) => B * K + B, run: (x) => logsumexp(x) },
  { name: 'softmax', traffic: (B, K) => 2 * B * K, run: (x) => softmax(x) },
  { name: 'softmaxBackward', traffic: (B, K) => 3 * B * K, run: (x) => softmaxBackward(x, x) },
  { name: 'sparsemax', traffic: (B, K) => 2 * B * K, run: (x) => sparsemax(x) },
  { name: 'entmax15', traffic: (B, K) => 2 * B * K, run: (x) => entmax15(x) },
  { name: 'entmaxBisect(1.3)', traffic: (B, K) => 2 * B * K, run: (x) => entmaxBisect(x, 1.3) },
  { name: 'argmax', traffic: (B, K) => 2 * B * K, run: (x) => argmax(x) },
  { name: 'gumbelSoftmax', traffic: (B, K) => 2 * B * K, run: (x) => gumbelSoftmax(x, { temperature: 0.5, seed: 1 }) },
  { name: 'gumbelMax(S=1)', traffic: (B, K) => 2 * B * K, run: (x) => gumbelMax(x, { seed: 1 }) },
];

function argument(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function release(result: unknown): void {
  if (result && typeof result === 'object') {
    if ('dispose' in result && typeof (result as { dispose: unknown }).dispose === 'function') (result as { dispose(): void }).dispose();
    else Object.values(result).forEach(release);
  }
}

function time(reps: number, body: () => unknown, sync: boolean): number {
  release(body()); // warm-up
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

interface Row {
  op: string;
  backend: string;
  B: number;
  K: number;
  dtype: string;
  medianMs: number;
  gbPerS: number;
  rowsPerS: number;
  rooflineFraction: number;
}

function main(): void {
  const sizes = argument('sizes', '32x1000,1024x128,128x32768,8x100000')
    .split(',')
    .map((s) => s.split('x').map(Number) as [number, number]);
  const reps = Number(argument('reps', '15'));
  const wanted = argument('ops', OPS.map((o) => o.name).join(',')).split(',');
  const dtypes = argument('dtypes', 'float32').split(',');
  const cpuCeiling = Number(argument('cpu-gbs', '20'));
  const gpuCeiling = Number(argument('gpu-gbs', '3000'));
  const info = backendInfo();
  const gpu = info.cuda.available;
  console.log(`# latent-struct bench — CPU threads ${info.cpu.threads}; CUDA: ${gpu ? `${info.cuda.device?.name} (cc ${info.cuda.device?.computeCapability})` : info.cuda.reason}`);
  console.log(`# median of ${reps} runs; GB/s counts inputs read once + outputs written once; ceilings CPU ${cpuCeiling} GB/s, GPU ${gpuCeiling} GB/s`);
  const rows: Row[] = [];
  for (const dtype of dtypes) {
    for (const [B, K] of sizes) {
      const size = B * K;
      const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.sin(i * 12.9898) * 3;
      const host = new Tensor(data, [B, K]);
      const device = gpu ? host.toDevice() : undefined;
      for (const op of OPS.filter((o) => wanted.includes(o.name))) {
        const bytes = op.traffic(B, K) * (dtype === 'float64' ? 8 : 4);
        const record = (backend: string, ms: number, ceiling: number) => {
          const gbPerS = bytes / (ms * 1e6);
          rows.push({ op: op.name, backend, B, K, dtype, medianMs: ms, gbPerS, rowsPerS: B / (ms / 1e3), rooflineFraction: gbPerS / ceiling });
        };
        record('cpu', time(reps, () => op.run(host), false), cpuCeiling);
        if (device) {
          record('cuda (device-resident)', time(reps, () => op.run(device), true), gpuCeiling);
          record('cuda (host arrays)', time(reps, () => release(op.run(host.toDevice())), true), gpuCeiling);
        }
      }
      device?.dispose();
    }
  }
  console.log('\n| op | backend | B × K | dtype | median ms | GB/s | rows/s | roofline |');
  console.log('| --- | --- | --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.op} | ${r.backend} | ${r.B} × ${r.K} | ${r.dtype} | ${r.medianMs.toFixed(3)} | ${r.gbPerS.toFixed(2)} | ${r.rowsPerS.toExponential(2)} | ${(100 * r.rooflineFraction).toFixed(1)}% |`);
  }
  const json = argument('json', '');
  if (json) fs.writeFileSync(json, JSON.stringify({ info, reps, rows }, null, 2));
}

main();
