/**
 * The bench as a function: run the suites of a {@link BenchOptions}, then write `bench.json`, `bench.md` and
 * `throughput.svg` to `options.outDir`. The command line (bench/run.ts) only parses argv into options; tests
 * call {@link runBench} in-process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DType, backendInfo } from '../lib';
import { categoricalSuite } from './categorical';
import { Backend, CpuCeilings, Row, SuiteContext, withCpuThreads } from './harness';
import { native } from '../lib/native';
import { chainSuite } from './linear_chain';
import { BenchOptions, SuiteName } from './options';
import { logLogPlotSvg } from './plot';
import { MachineInfo, Speedup, markdownReport, speedupsOf, throughputPanels } from './report';
import { alignmentSuite, semiMarkovSuite } from './paths';
import { sparsemapSuite } from './sparsemap';
import { stepsSuite } from './steps';
import { dependencySuite, measureExpCeiling, nonProjectiveSuite, treeSuite } from './trees';

const SUITES: Record<SuiteName, (context: SuiteContext) => Row[]> = {
  categorical: categoricalSuite,
  chain: chainSuite,
  tree: treeSuite,
  dependency: dependencySuite,
  nonprojective: nonProjectiveSuite,
  semimarkov: semiMarkovSuite,
  alignment: alignmentSuite,
  sparsemap: sparsemapSuite,
  steps: stepsSuite,
};

/** The contents of bench.json. */
export interface BenchJson {
  machine: MachineInfo;
  options: BenchOptions;
  /** The CPU ceilings measured at the start of the run, per thread count. */
  cpuCeilings: CpuCeilings[];
  rows: Row[];
  speedups: Speedup[];
}

/**
 * A finished run: bench.json's contents, the Markdown (as in bench.md) and where the files went.
 * `files`: absolute paths of `{ json, markdown, svg }`.
 */
export interface BenchReport extends BenchJson {
  markdown: string;
  svg: string;
  files: { json: string; markdown: string; svg: string };
  /** Wall time of the suites, per suite, in seconds. */
  suiteSeconds: Partial<Record<SuiteName, number>>;
}

export interface BenchHooks {
  /** Progress lines (the measured exp ceilings, each suite's row count and time); default: none. */
  log?: (line: string) => void;
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    backends: backendInfo(),
    node: process.versions.node,
    platform: `${os.platform()} ${os.arch()}`,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    cpus: cpus.length,
    date: new Date().toISOString(),
  };
}

/**
 * The CPU's ceilings on the addon's current thread count, measured here: bytes read + written per second by memcpys
 * of 256 MiB per thread (8 MiB for the smoke preset) and the vector exp's rate on 8192 cache-resident values per
 * thread, float32 and float64; the best of three tries each (the machine may be shared).
 */
export function measureCpuCeilings(smoke: boolean): CpuCeilings {
  const best = (measure: () => number): number => Math.max(measure(), measure(), measure());
  const copyBytes = smoke ? 8 << 20 : 256 << 20;
  const expRepeats = smoke ? 20 : 500;
  return {
    threads: native.backendInfo().cpu.threads,
    copyGbPerS: best(() => native.measureCopyBandwidth(copyBytes, smoke ? 1 : 3)) / 1e9,
    expGPerS: {
      float32: best(() => native.measureExpRate('float32', 8192, expRepeats)) / 1e9,
      float64: best(() => native.measureExpRate('float64', 8192, expRepeats)) / 1e9,
    },
  };
}

/**
 * Runs `options.suites` in order (CUDA rows only when `options.cuda` and a device is usable: no CUDA number is
 * ever made up), then writes to `options.outDir` (created if needed):
 * - `bench.json`: `{ machine, options, rows, speedups }` (also to `options.jsonPath` when set);
 * - `bench.md`: the Markdown tables of {@link markdownReport};
 * - `throughput.svg`: throughput (log) against the size of a call (log), a panel per suite (bench/report.ts).
 * Returns the same data with the Markdown, the SVG and the files' absolute paths.
 */
export function runBench(options: BenchOptions, hooks: BenchHooks = {}): BenchReport {
  const log = hooks.log ?? ((): void => undefined);
  const machine = machineInfo();
  const expCeilings = new Map<string, number>();
  // The emulated CUDA device (npm run test:emulated's build) runs on the CPU: its timings say nothing about a GPU.
  const cuda = machine.backends.cuda;
  const cpuThreads = machine.backends.cpu.threads;
  const cpuBackends: Backend[] = options.oneThread && cpuThreads > 1 ? ['cpu (1 thread)', 'cpu'] : ['cpu'];
  const base = { options, cuda: options.cuda && cuda.available && cuda.emulated !== true, log, cpuBackends, cpuThreads, cpuCeilings: new Map<Backend, CpuCeilings>() };
  const context: SuiteContext = { ...base, expCeiling: (backend: Backend, dtype: DType) => measureExpCeiling(base, expCeilings, backend, dtype) };
  for (const backend of cpuBackends) {
    const ceilings = withCpuThreads(context, backend, () => measureCpuCeilings(options.preset === 'smoke'));
    context.cpuCeilings.set(backend, ceilings);
    log(`# ${backend} ceilings: copy ${ceilings.copyGbPerS.toFixed(1)} GB/s, exp ${ceilings.expGPerS.float32.toFixed(2)} (float32) / ${ceilings.expGPerS.float64.toFixed(2)} (float64) G exp/s`);
  }
  const rows: Row[] = [];
  const suiteSeconds: Partial<Record<SuiteName, number>> = {};
  for (const suite of options.suites) {
    const start = process.hrtime.bigint();
    const produced = SUITES[suite](context);
    suiteSeconds[suite] = Number(process.hrtime.bigint() - start) / 1e9;
    log(`# ${suite}: ${produced.length} rows in ${suiteSeconds[suite]!.toFixed(2)} s`);
    rows.push(...produced);
  }
  const speedups = speedupsOf(rows);
  const json: BenchJson = { machine, options, cpuCeilings: [...context.cpuCeilings.values()], rows, speedups };
  const markdown = markdownReport(machine, options, json.cpuCeilings, rows, speedups);
  const svg = logLogPlotSvg(throughputPanels(rows), {
    title: `latent-struct throughput — ${machine.cpuModel}, CUDA ${context.cuda ? machine.backends.cuda.device?.name ?? 'device' : 'not measured'}`,
    xLabel: 'size per call',
    yLabel: 'items/s',
  });
  const outDir = path.resolve(options.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const files = { json: path.join(outDir, 'bench.json'), markdown: path.join(outDir, 'bench.md'), svg: path.join(outDir, 'throughput.svg') };
  const text = JSON.stringify(json, null, 2) + '\n';
  fs.writeFileSync(files.json, text);
  if (options.jsonPath) fs.writeFileSync(options.jsonPath, text);
  fs.writeFileSync(files.markdown, markdown);
  fs.writeFileSync(files.svg, svg);
  return { ...json, markdown, svg, files, suiteSeconds };
}
