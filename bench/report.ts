/**
 * What a bench run writes: the Markdown tables (one per kind of kernel, and the CUDA/CPU speedups), the
 * speedup pairs themselves, and the throughput plot's panels.
 */
import type { BackendInfo } from '../lib';
import { BenchOptions } from './options';
import { Backend, CpuCeilings, Row } from './harness';
import { PlotPanel, PlotSeries } from './plot';

/** The machine a run measured. */
export interface MachineInfo {
  backends: BackendInfo;
  node: string;
  platform: string;
  cpuModel: string;
  /** Logical CPUs the OS reports (the addon's thread pool is `backends.cpu.threads`). */
  cpus: number;
  /** ISO time the run started. */
  date: string;
}

/** CPU and CUDA times of one (suite, op, size, dtype); null where CUDA did not run. */
export interface Speedup {
  suite: string;
  op: string;
  size: string;
  dtype: string;
  cpuMs: number;
  cudaDeviceMs: number | null;
  cudaHostMs: number | null;
  /** cpuMs / cudaDeviceMs. */
  deviceSpeedup: number | null;
  /** cpuMs / cudaHostMs. */
  hostSpeedup: number | null;
}

const keyOf = (r: Pick<Row, 'suite' | 'op' | 'size' | 'dtype'>): string => `${r.suite}\u0000${r.op}\u0000${r.size}\u0000${r.dtype}`;

/** One entry per (suite, op, size, dtype) that has a CPU row, in the rows' order; CUDA times beside it where measured. */
export function speedupsOf(rows: readonly Row[]): Speedup[] {
  const byKey = new Map<string, Map<Backend, Row>>();
  for (const r of rows) {
    const key = keyOf(r);
    if (!byKey.has(key)) byKey.set(key, new Map());
    byKey.get(key)!.set(r.backend, r);
  }
  const speedups: Speedup[] = [];
  for (const backends of byKey.values()) {
    const cpu = backends.get('cpu');
    if (!cpu) continue;
    const deviceMs = backends.get('cuda (device-resident)')?.medianMs ?? null;
    const hostMs = backends.get('cuda (host arrays)')?.medianMs ?? null;
    speedups.push({
      suite: cpu.suite,
      op: cpu.op,
      size: cpu.size,
      dtype: cpu.dtype,
      cpuMs: cpu.medianMs,
      cudaDeviceMs: deviceMs,
      cudaHostMs: hostMs,
      deviceSpeedup: deviceMs === null ? null : cpu.medianMs / deviceMs,
      hostSpeedup: hostMs === null ? null : cpu.medianMs / hostMs,
    });
  }
  return speedups;
}

interface Column<T> {
  title: string;
  /** Right-aligned (numbers). */
  numeric?: boolean;
  cell: (item: T) => string;
}

/** A Markdown table, as lines. */
export function markdownTable<T>(columns: readonly Column<T>[], items: readonly T[]): string[] {
  return [
    `| ${columns.map((c) => c.title).join(' | ')} |`,
    `| ${columns.map((c) => (c.numeric ? '---:' : '---')).join(' | ')} |`,
    ...items.map((item) => `| ${columns.map((c) => c.cell(item)).join(' | ')} |`),
  ];
}

const DASH = '—';
const ms = (v: number): string => v.toFixed(3);
const rate = (v: number): string => v.toExponential(2);
/** A percentage with one decimal, or two significant digits below 0.1%. */
export function percent(fraction: number): string {
  const p = 100 * fraction;
  return `${p >= 0.1 || p === 0 ? p.toFixed(1) : p.toPrecision(2)}%`;
}
const orDash = (v: number | null, format: (v: number) => string): string => (v === null ? DASH : format(v));

const identity: Array<Column<Row>> = [
  { title: 'suite', cell: (r) => r.suite },
  { title: 'op', cell: (r) => r.op },
  { title: 'backend', cell: (r) => r.backend },
  { title: 'size', cell: (r) => r.size },
  { title: 'dtype', cell: (r) => r.dtype },
  { title: 'runs', numeric: true, cell: (r) => String(r.reps) },
  { title: 'median ms', numeric: true, cell: (r) => ms(r.medianMs) },
];
const bandwidth: Array<Column<Row>> = [
  { title: 'GB/s', numeric: true, cell: (r) => r.gbPerS.toFixed(3) },
  { title: 'roofline', numeric: true, cell: (r) => percent(r.rooflineFraction) },
];

const bytesOrDash = (v: number | null | undefined): string => (v === null || v === undefined ? DASH : String(Math.round(v)));

const TABLES: Array<{ heading: string; note: string; families: readonly string[]; columns: Array<Column<Row>> }> = [
  {
    heading: 'Categorical and LinearChainCRF',
    note: 'rows/s (categorical) or tokens/s = B·N / time (chains); roofline = GB/s over the bandwidth ceiling.',
    families: ['categorical', 'chain'],
    columns: [...identity, { title: 'throughput', numeric: true, cell: (r) => `${rate(r.itemsPerS)} ${r.itemUnit}/s` }, ...bandwidth],
  },
  {
    heading: 'TreeCRF (CKY) and DependencyCRF (Eisner)',
    note: 'split points summed over the op\'s passes; exp fraction = split points/s over the exp ceiling.',
    families: ['tree', 'dependency'],
    columns: [
      ...identity,
      { title: 'sentences/s', numeric: true, cell: (r) => rate(r.tree!.sentencesPerS) },
      { title: 'tokens/s', numeric: true, cell: (r) => rate(r.tree!.tokensPerS) },
      { title: 'split points/s', numeric: true, cell: (r) => rate(r.tree!.splitPointsPerS) },
      { title: 'exp fraction', numeric: true, cell: (r) => percent(r.tree!.expFraction) },
      ...bandwidth,
    ],
  },
  {
    heading: 'NonProjectiveDependencyCRF (Matrix-Tree)',
    note: 'entry updates summed over the eliminations and reverse passes; GFLOP/s = 2 × entry updates/s, against the FP64 ceiling (argmax is Chu-Liu-Edmonds: no elimination).',
    families: ['nonprojective'],
    columns: [
      ...identity,
      { title: 'trees/s', numeric: true, cell: (r) => rate(r.tree!.sentencesPerS) },
      { title: 'tokens/s', numeric: true, cell: (r) => rate(r.tree!.tokensPerS) },
      { title: 'entry updates/s', numeric: true, cell: (r) => (r.flops ? rate(r.tree!.splitPointsPerS) : DASH) },
      { title: 'GFLOP/s', numeric: true, cell: (r) => (r.flops ? r.flops.gflopPerS.toFixed(2) : DASH) },
      { title: 'FLOP fraction', numeric: true, cell: (r) => (r.flops ? percent(r.flops.flopFraction) : DASH) },
      ...bandwidth,
    ],
  },
  {
    heading: 'SemiMarkovCRF and AlignmentCRF (lattice forward-backward)',
    note:
      'exp terms = lattice edges with a part (SemiMarkov C²·Σ_n min(K−1, N−1−n) per sequence, Alignment 3nm − 2n − 2m + 2 per pair) summed over the op\'s passes ' +
      '(logPartition 1, marginals 3, logPartition + marginals 4, marginalsBackward 5, entropy 2, argmax and sample(1) 1); exp fraction = exp terms/s over the exp ceiling (argmax: max-plus, no exp). ' +
      'Tokens = B·N (positions; source items of an alignment). GB/s: potentials read once + outputs written once, the chart not counted.',
    families: ['semimarkov', 'alignment'],
    columns: [
      ...identity,
      { title: 'sequences/s', numeric: true, cell: (r) => rate(r.lattice!.sequencesPerS) },
      { title: 'tokens/s', numeric: true, cell: (r) => rate(r.lattice!.tokensPerS) },
      { title: 'exp terms/s', numeric: true, cell: (r) => rate(r.lattice!.expTermsPerS) },
      { title: 'exp fraction', numeric: true, cell: (r) => percent(r.lattice!.expFraction) },
      ...bandwidth,
    ],
  },
  {
    heading: 'SparseMAP',
    note: 'iterations = major iterations (oracle calls after the first) per instance; support = structures with non-zero weight; converged = share of instances within the tolerance.',
    families: ['sparsemap'],
    columns: [
      ...identity,
      { title: 'ms / instance', numeric: true, cell: (r) => r.sparsemap!.msPerInstance.toFixed(4) },
      { title: 'instances/s', numeric: true, cell: (r) => rate(r.itemsPerS) },
      { title: 'iterations mean (max)', numeric: true, cell: (r) => `${r.sparsemap!.meanIterations.toFixed(1)} (${r.sparsemap!.maxIterations})` },
      { title: 'support mean (min–max)', numeric: true, cell: (r) => `${r.sparsemap!.meanSupport.toFixed(1)} (${r.sparsemap!.minSupport}–${r.sparsemap!.maxSupport})` },
      { title: 'converged', numeric: true, cell: (r) => percent(r.sparsemap!.convergedFraction) },
      ...bandwidth,
    ],
  },
  {
    heading: 'Estimator steps (structure + estimator + toy decoder)',
    note:
      'One `estimator.step(structure, decoder)` per run, the structure built from the step\'s scores inside it; the toy decoder is linear (L = ⟨w, z⟩, ∂L/∂z = w). ' +
      'Backends: CPU; CUDA with host arrays (`{ device: \'cuda\' }`, copies in and out included) and device-resident (DeviceTensor scores). ' +
      'Bytes/step: the library\'s host ↔ device copies over one step (`cudaTransfers()`), and apart the decoder\'s own (its B losses, a per-instance dot where z lives); — on the CPU. ' +
      'GB/s: the scores read once + the gradient written once (a floor).',
    families: ['steps'],
    columns: [
      ...identity,
      { title: 'steps/s', numeric: true, cell: (r) => (r.step ? r.step.stepsPerS.toFixed(1) : DASH) },
      { title: 'instances/s', numeric: true, cell: (r) => rate(r.itemsPerS) },
      { title: 'to device B/step', numeric: true, cell: (r) => bytesOrDash(r.step?.toDeviceBytesPerStep) },
      { title: 'to host B/step', numeric: true, cell: (r) => bytesOrDash(r.step?.toHostBytesPerStep) },
      { title: 'decoder B/step', numeric: true, cell: (r) => bytesOrDash(r.step?.decoderBytesPerStep) },
      ...bandwidth,
    ],
  },
];

const SPEEDUP_COLUMNS: Array<Column<Speedup>> = [
  { title: 'suite', cell: (s) => s.suite },
  { title: 'op', cell: (s) => s.op },
  { title: 'size', cell: (s) => s.size },
  { title: 'dtype', cell: (s) => s.dtype },
  { title: 'CPU ms', numeric: true, cell: (s) => ms(s.cpuMs) },
  { title: 'CUDA device-resident ms', numeric: true, cell: (s) => orDash(s.cudaDeviceMs, ms) },
  { title: 'speedup (device-resident)', numeric: true, cell: (s) => orDash(s.deviceSpeedup, (v) => `${v.toFixed(2)}×`) },
  { title: 'CUDA host arrays ms', numeric: true, cell: (s) => orDash(s.cudaHostMs, ms) },
  { title: 'speedup (host arrays)', numeric: true, cell: (s) => orDash(s.hostSpeedup, (v) => `${v.toFixed(2)}×`) },
];

function cudaLine(backends: BackendInfo): string {
  const cuda = backends.cuda;
  if (cuda.available && cuda.emulated) return 'the emulated device only (a CPU build for tests; not timed)';
  return cuda.available && cuda.device ? `${cuda.device.name} (cc ${cuda.device.computeCapability})` : `not available (${cuda.reason ?? 'unknown reason'})`;
}

/** The bench's Markdown: a header naming the machine and settings, a table per kind of kernel that ran, the speedups. */
export function markdownReport(
  machine: MachineInfo,
  options: BenchOptions,
  cpuCeilings: readonly CpuCeilings[],
  rows: readonly Row[],
  speedups: readonly Speedup[],
): string {
  const c = options.ceilings;
  const lines = [
    `# latent-struct bench — ${machine.date}`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.cpus} CPUs (addon threads ${machine.backends.cpu.threads}), ${machine.platform}, Node ${machine.node}; CUDA: ${cudaLine(machine.backends)}.`,
    `Preset ${options.preset}; median of ${options.reps} runs after a warm-up (tree suites: as many as fit in ${options.treeTiming.budgetMs} ms, ${options.treeTiming.minReps}–${options.treeTiming.maxReps}; the runs column). ` +
      `GB/s counts inputs read once + outputs written once; ceilings: bandwidth CPU ${c.cpuGbPerS ?? 'measured'} GB/s, GPU ${c.gpuGbPerS} GB/s (nominal); ` +
      `exp CPU ${c.cpuExpGPerS ?? 'measured'}, GPU ${c.gpuExpGPerS ?? 'measured'} G exp/s; FP64 CPU ${c.cpuGflopPerS}, GPU ${c.gpuGflopPerS} GFLOP/s (nominal).`,
    ...cpuCeilings.map(
      (m) =>
        `Measured on this machine at ${m.threads} thread${m.threads === 1 ? '' : 's'} (the ceilings of its CPU rows): copy ${m.copyGbPerS.toFixed(1)} GB/s (read + written), ` +
        `vector exp ${m.expGPerS.float32.toFixed(2)} G/s float32, ${m.expGPerS.float64.toFixed(2)} G/s float64.`,
    ),
  ];
  for (const table of TABLES) {
    const selected = rows.filter((r) => table.families.includes(r.family));
    if (selected.length === 0) continue;
    lines.push('', `## ${table.heading}`, '', table.note, '', ...markdownTable(table.columns, selected));
  }
  if (speedups.length > 0) {
    lines.push('', '## CUDA / CPU speedup', '', 'speedup = CPU ms / CUDA ms; host arrays include the copies in and out. — : not measured.');
    if (!machine.backends.cuda.available || machine.backends.cuda.emulated || !options.cuda) lines.push('', `No CUDA numbers in this run: CUDA ${options.cuda ? cudaLine(machine.backends) : 'turned off (--no-cuda)'}.`);
    lines.push('', ...markdownTable(SPEEDUP_COLUMNS, speedups));
  }
  return lines.join('\n') + '\n';
}

/** How a suite's rows are plotted: the axes, and whether series split by batch size (sweeps over N at fixed B). */
function plotAxes(r: Row): { x: number; y: number; xLabel: string; yLabel: string; byBatch: boolean } {
  const seconds = r.medianMs / 1e3;
  switch (r.family) {
    case 'categorical':
      // Rows/s spans the orders of magnitude of K; elements/s compares the sizes.
      return { x: r.elements, y: r.elements / seconds, xLabel: 'elements per call (B·K)', yLabel: 'elements/s', byBatch: false };
    case 'steps':
      return { x: r.elements, y: 1 / seconds, xLabel: 'scores per step', yLabel: 'steps/s', byBatch: false };
    case 'sparsemap':
      return { x: r.elements, y: r.itemsPerS, xLabel: 'scores per call', yLabel: 'instances/s', byBatch: false };
    case 'chain':
    case 'semimarkov':
    case 'alignment':
      return { x: r.items, y: r.itemsPerS, xLabel: 'tokens per call (B·N)', yLabel: 'tokens/s', byBatch: false };
    default:
      return { x: r.items, y: r.itemsPerS, xLabel: 'tokens per call (B·N)', yLabel: 'tokens/s', byBatch: true };
  }
}

/**
 * The plot's panels: one per suite (the SparseMAP structures share one), a series per (op, backend, dtype) and,
 * for the tree suites, per batch size B (marker shapes), so that each line is a sweep over N. Colours name the op,
 * dashes the backend (and dtype when several ran). Axes per suite: see {@link plotAxes}.
 */
export function throughputPanels(rows: readonly Row[]): PlotPanel[] {
  const severalDtypes = new Set(rows.map((r) => r.dtype)).size > 1;
  const panels = new Map<string, { panel: PlotPanel; series: Map<string, PlotSeries> }>();
  for (const r of rows) {
    const axes = plotAxes(r);
    const title = r.family === 'sparsemap' || r.family === 'steps' ? r.family : r.suite;
    if (!panels.has(title)) panels.set(title, { panel: { title, xLabel: axes.xLabel, yLabel: axes.yLabel, series: [] }, series: new Map() });
    const entry = panels.get(title)!;
    const color = r.family === 'sparsemap' || r.family === 'steps' ? `${r.suite.replace(/^\w+ \((.*)\)$/, '$1')} ${r.op}` : r.op;
    const dash = severalDtypes ? `${r.backend} · ${r.dtype}` : r.backend;
    const marker = axes.byBatch ? `B = ${r.size.split(' × ')[0]}` : undefined;
    const key = `${color}\u0000${dash}\u0000${marker}`;
    let series = entry.series.get(key);
    if (!series) {
      series = { color, dash, marker, points: [] };
      entry.series.set(key, series);
      entry.panel.series.push(series);
    }
    series.points.push({ x: axes.x, y: axes.y });
  }
  return [...panels.values()].map((p) => p.panel);
}
