/**
 * Benchmark harness: times ops on the CPU backend and, when a GPU is usable, on CUDA (host arrays, i.e.
 * copies included, and device-resident), reporting the median of repeated runs, throughput and the
 * fraction of a memory-bandwidth ceiling. Usage:
 *
 *   npm run bench -- [--suite categorical,chain,tree,dependency,nonprojective] [--sizes 32x1000,1024x128]
 *                    [--chain-sizes 32x25x20] [--tree-sizes 32x25,128x64] [--dependency-sizes 32x25] [--nonprojective-sizes 32x25]
 *                    [--reps 15] [--ops softmax,sparsemax] [--chain-ops marginals] [--tree-ops entropy]
 *                    [--dependency-ops argmax] [--dependency-roots single,multi] [--tree-reps 5]
 *                    [--tree-budget-ms 1000] [--quick] [--dtypes float32,float64] [--json out.json]
 *                    [--cpu-gbs 20] [--gpu-gbs 3000] [--cpu-exp-gs 0.2] [--gpu-exp-gs 1000]
 *
 * Bytes moved per op = inputs read once + outputs written once (the roofline minimum, DESIGN/KERNELS.md).
 * The tree suites (bench/trees.ts) are compute-bound: they report sentences/s, tokens/s and split points/s
 * against an exp-throughput ceiling instead, in a table of their own.
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
} from '../lib';
import { Row, SuiteOptions, argument, release, time } from './harness';
import { chainSuite } from './linear_chain';
import { dependencySuite, nonProjectiveSuite, treeSuite } from './trees';

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

/** The categorical ops over [B, K] rows. */
function categoricalSuite(options: SuiteOptions): Row[] {
  const sizes = argument('sizes', '32x1000,1024x128,128x32768,8x100000')
    .split(',')
    .map((s) => s.split('x').map(Number) as [number, number]);
  const wanted = argument('ops', OPS.map((o) => o.name).join(',')).split(',');
  const rows: Row[] = [];
  for (const dtype of options.dtypes) {
    for (const [B, K] of sizes) {
      const size = B * K;
      const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = Math.sin(i * 12.9898) * 3;
      const host = new Tensor(data, [B, K]);
      const device = options.gpu ? host.toDevice() : undefined;
      for (const op of OPS.filter((o) => wanted.includes(o.name))) {
        const bytes = op.traffic(B, K) * (dtype === 'float64' ? 8 : 4);
        const record = (backend: string, ms: number, ceiling: number) => {
          const gbPerS = bytes / (ms * 1e6);
          rows.push({ suite: 'categorical', op: op.name, backend, size: `${B} × ${K}`, dtype, medianMs: ms, gbPerS, itemsPerS: B / (ms / 1e3), rooflineFraction: gbPerS / ceiling });
        };
        record('cpu', time(options.reps, () => op.run(host), false), options.cpuCeiling);
        if (device) {
          record('cuda (device-resident)', time(options.reps, () => op.run(device), true), options.gpuCeiling);
          record('cuda (host arrays)', time(options.reps, () => release(op.run(host.toDevice())), true), options.gpuCeiling);
        }
      }
      device?.dispose();
    }
  }
  return rows;
}

function main(): void {
  const info = backendInfo();
  const options: SuiteOptions = {
    reps: Number(argument('reps', '15')),
    dtypes: argument('dtypes', 'float32').split(','),
    cpuCeiling: Number(argument('cpu-gbs', '20')),
    gpuCeiling: Number(argument('gpu-gbs', '3000')),
    gpu: info.cuda.available,
  };
  const suites = argument('suite', 'categorical,chain,tree,dependency,nonprojective').split(',');
  console.log(`# latent-struct bench — CPU threads ${info.cpu.threads}; CUDA: ${options.gpu ? `${info.cuda.device?.name} (cc ${info.cuda.device?.computeCapability})` : info.cuda.reason}`);
  console.log(`# median of ${options.reps} runs (tree suites: the runs column); GB/s counts inputs read once + outputs written once; ceilings CPU ${options.cpuCeiling} GB/s, GPU ${options.gpuCeiling} GB/s`);
  const rows: Row[] = [];
  if (suites.includes('categorical')) rows.push(...categoricalSuite(options));
  if (suites.includes('chain')) rows.push(...chainSuite(options));
  if (suites.includes('tree')) rows.push(...treeSuite(options));
  if (suites.includes('dependency')) rows.push(...dependencySuite(options));
  if (suites.includes('nonprojective')) rows.push(...nonProjectiveSuite(options));
  const flat = rows.filter((r) => !r.tree);
  if (flat.length > 0) {
    console.log('\n| suite | op | backend | size | dtype | median ms | GB/s | items/s | roofline |');
    console.log('| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |');
    for (const r of flat) {
      console.log(`| ${r.suite} | ${r.op} | ${r.backend} | ${r.size} | ${r.dtype} | ${r.medianMs.toFixed(3)} | ${r.gbPerS.toFixed(2)} | ${r.itemsPerS.toExponential(2)} | ${(100 * r.rooflineFraction).toFixed(1)}% |`);
    }
  }
  const trees = rows.filter((r) => r.tree);
  if (trees.length > 0) {
    console.log('\n| suite | op | backend | B × N | dtype | runs | median ms | sentences/s | tokens/s | split points/s | exp fraction | GB/s |');
    console.log('| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of trees) {
      const t = r.tree!;
      console.log(
        `| ${r.suite} | ${r.op} | ${r.backend} | ${r.size} | ${r.dtype} | ${r.reps ?? options.reps} | ${r.medianMs.toFixed(3)} | ${t.sentencesPerS.toExponential(2)} | ${t.tokensPerS.toExponential(2)} | ${t.splitPointsPerS.toExponential(2)} | ${(100 * t.expFraction).toFixed(1)}% | ${r.gbPerS.toFixed(3)} |`,
      );
    }
  }
  const json = argument('json', '');
  if (json) fs.writeFileSync(json, JSON.stringify({ info, reps: options.reps, rows }, null, 2));
}

main();
