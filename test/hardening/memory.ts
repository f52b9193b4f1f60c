/**
 * Memory soak (issue 9): every public method of every structure and every categorical op, called N times in a
 * row with the same arguments (sync and async forms; with --device, the structures on `{ device: 'cuda' }`),
 * sampling the RSS less the V8 heap (and the GPU memory in use, from nvidia-smi) after a warm-up of N/10 calls, after N/2 calls and
 * at the end, each after a GC. A leak grows both halves alike; a one-time step (a thread's malloc arena, a pool)
 * only the first, so the bound applies to the second half; a site over it runs as many calls again and counts the
 * smaller of the two growths (a leak grows both; a one-time swing of the allocator under load does not). Prints one
 * line per call site and
 * `MEMORY REPORT {json}`; exits 1 when a call site grew the RSS by more than the bound over its second half.
 *
 * Usage: node --expose-gc -r test/support/register_ts.js test/hardening/memory.ts [--calls N] [--bound-mib M]
 *   [--device] [--only NAME]
 */
import { execFileSync } from 'node:child_process';

import fc from 'fast-check';

import { Tensor, backendInfo } from '../../lib';
import { rng } from '../helpers';
import { Kind, instanceArbitrary, kinds } from './fuzz/instances';
import { OpCase, opNames, validArgs } from './fuzz/op_cases';
import { methodsOf, preparedCall } from './fuzz/structure_cases';
import { ops } from '../../lib';
import { native } from '../../lib/native';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const calls = Number(flag('--calls', '100000'));
const boundMiB = Number(flag('--bound-mib', '8'));
const onDevice = argv.includes('--device');
const only = argv.includes('--only') ? flag('--only', '') : undefined;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run node with --expose-gc');

/** A call site: a name and a call to repeat (a Promise for async forms). */
interface Site {
  name: string;
  run: () => unknown;
}

function structureSites(): Site[] {
  const sites: Site[] = [];
  for (const kind of kinds as readonly Kind[]) {
    const [inst] = fc.sample(instanceArbitrary(kind).filter((i) => i.shape[1] >= 2), { seed: 42, numRuns: 1 });
    for (const method of methodsOf(kind)) {
      if (method === 'dispose') continue;
      const run = preparedCall(inst, method, 7, onDevice ? 'cuda' : undefined);
      if (run) sites.push({ name: `${kind} ${method} [${inst.shape.join(', ')}]`, run });
    }
  }
  return sites;
}

function opSites(): Site[] {
  return opNames().map((op) => {
    const c: OpCase = { op, dtype: 'float64', rows: 8, cols: 16, values: [], seed: 3, mutation: null };
    const random = rng(11);
    const scores = new Tensor(Float64Array.from({ length: 128 }, () => 10 * (random() - 0.5)), [8, 16]);
    const args = validArgs(c, scores, random);
    const withDevice = onDevice && op !== 'philox4x32' && op !== 'gumbelNoise' ? [...args, { device: 'cuda' }] : args;
    const fn = ops[op] as unknown as (...a: unknown[]) => unknown;
    return { name: `ops.${op}`, run: () => fn(...withDevice) };
  });
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/** Device memory in use: nvidia-smi's (every process's), else the device's own count (the emulated device's). */
function gpuUsedMiB(): number | undefined {
  if (!backendInfo().cuda.available) return undefined;
  try {
    return Number(execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8' }).split('\n')[0]);
  } catch {
    return Math.round(mib(native.cudaMemoryInUse()));
  }
}

/** Runs a site n times; async results are awaited in batches of 32 in flight. */
async function repeat(site: Site, n: number): Promise<void> {
  const first = site.run();
  if (!(first instanceof Promise)) {
    for (let i = 1; i < n; i++) site.run();
    return;
  }
  await first;
  for (let done = 1; done < n; ) {
    const batch = Math.min(32, n - done);
    await Promise.all(Array.from({ length: batch }, () => site.run()));
    done += batch;
  }
}

interface SiteReport {
  name: string;
  calls: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** RSS growth over the second half of the calls. */
  growthMiB: number;
  gpuGrowthMiB?: number;
  seconds: number;
}

/**
 * The RSS less the V8 heap's committed size, after a GC: native memory (ours, the allocator's, array buffers').
 * The V8 heap alone swings by ~10 MiB as its young generation resizes, which would hide a slow native leak.
 */
function rssAfterGc(): number {
  gc!();
  const usage = process.memoryUsage();
  return usage.rss - usage.heapTotal;
}

async function main(): Promise<void> {
  if (onDevice && !backendInfo().cuda.available) throw new Error(`--device needs a GPU: ${backendInfo().cuda.reason}`);
  const sites = [...opSites(), ...structureSites()].filter((s) => !only || s.name.includes(only));
  const reports: SiteReport[] = [];
  const start = process.memoryUsage().rss;
  const began = Date.now();
  for (const site of sites) {
    const t0 = Date.now();
    await repeat(site, Math.max(1, Math.floor(calls / 10))); // warm-up: pools, caches, JIT
    const before = rssAfterGc();
    await repeat(site, Math.floor(calls / 2));
    const middle = rssAfterGc();
    const gpuBefore = gpuUsedMiB();
    await repeat(site, calls - Math.floor(calls / 2));
    let after = rssAfterGc();
    let growth = after - middle;
    if (mib(growth) > boundMiB) {
      // Confirm with as many calls again: a leak grows again by about as much, while a one-time swing of the
      // allocator's arenas (seen under load, e.g. +10.8 MiB once for entmax15) does not. The smaller growth counts.
      await repeat(site, calls - Math.floor(calls / 2));
      const again = rssAfterGc();
      growth = Math.min(growth, again - after);
      after = again;
    }
    const gpuAfter = gpuUsedMiB();
    const report: SiteReport = {
      name: site.name,
      calls,
      rssBeforeMiB: mib(before),
      rssAfterMiB: mib(after),
      growthMiB: mib(growth),
      gpuGrowthMiB: gpuBefore === undefined || gpuAfter === undefined ? undefined : gpuAfter - gpuBefore,
      seconds: (Date.now() - t0) / 1000,
    };
    reports.push(report);
    console.log(`${report.growthMiB > boundMiB ? 'OVER' : 'ok  '} ${site.name}: RSS − V8 heap ${report.rssBeforeMiB.toFixed(1)} -> ${report.rssAfterMiB.toFixed(1)} MiB (second half ${report.growthMiB >= 0 ? '+' : ''}${report.growthMiB.toFixed(2)})${report.gpuGrowthMiB === undefined ? '' : `, GPU ${report.gpuGrowthMiB >= 0 ? '+' : ''}${report.gpuGrowthMiB} MiB`} in ${report.seconds.toFixed(1)} s`);
  }
  gc!();
  const summary = {
    calls,
    boundMiB,
    device: onDevice,
    sites: reports.length,
    rssStartMiB: mib(start),
    rssEndMiB: mib(process.memoryUsage().rss),
    worstGrowthMiB: Math.max(...reports.map((r) => r.growthMiB)),
    worstSite: reports.reduce((a, b) => (b.growthMiB > a.growthMiB ? b : a)).name,
    seconds: (Date.now() - began) / 1000,
    over: reports.filter((r) => r.growthMiB > boundMiB).map((r) => r.name),
  };
  console.log(`MEMORY REPORT ${JSON.stringify(summary)}`);
  process.exitCode = summary.over.length > 0 ? 1 : 0;
}

void main();
