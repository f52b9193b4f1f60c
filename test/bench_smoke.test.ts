/**
 * The bench in CI: `runBench` in smoke mode (tiny sizes, 2 runs, every suite and op) in-process into a temp dir.
 * Checks that smoke mode is small by construction (sizes and run counts, not its wall time: that depends on the
 * machine and its load, and is printed), that every suite and op produced rows with sane numbers (finite positive
 * medians and throughputs, byte counts between the input once and four times, fractions that are the rate over the
 * ceiling, SparseMAP iterations and supports ≥ 1, the path suites' exp terms = lattice edges × passes), that no
 * CUDA number appears without a GPU (and that every one does with it), and that bench.json, bench.md and
 * throughput.svg are written and agree with the returned rows.
 * Also the plotter alone, and the argv parser. No assertion compares a measured time or rate with a bound.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { BenchJson, BenchReport, runBench } from '../bench/bench';
import { Row, bytesPerElement } from '../bench/harness';
import { chainOpsMeasured } from '../bench/linear_chain';
import { PATH_OPS, SPARSEMAP_OPS, SPARSEMAP_STRUCTURES, STEP_ESTIMATOR_NAMES, STEP_STRUCTURES, parseBenchArgs, presetOptions } from '../bench/options';
import { alignmentEdges, semiMarkovEdges } from '../bench/paths';
import { decadeLabel, decadeRange, logLogPlotSvg } from '../bench/plot';
import { backends } from './helpers';
import { backendInfo } from '../lib';

/** A tag-balance check of an SVG document: every opened element closed in order, one root `<svg>`. */
function expectWellFormedSvg(svg: string): void {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  let roots = 0;
  for (const tag of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = tag;
    if (closing) {
      expect(stack.pop()).toBe(name);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  // Every '<' starts a tag the pattern above accepted: no stray markup or unescaped text.
  const tags = [...svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)].length;
  expect((svg.match(/</g) ?? []).length).toBe(tags);
  expect(svg).not.toMatch(/NaN|undefined|Infinity/);
}

const cudaPresent = backends.includes('cuda');

describe('bench --smoke, in-process', () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-struct-bench-'));
  const options = parseBenchArgs(['--smoke', '--out', outDir]);
  let report: BenchReport;
  let seconds = 0;

  beforeAll(() => {
    const start = Date.now();
    report = runBench(options);
    seconds = (Date.now() - start) / 1e3;
  });
  afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

  test('is small by construction: tiny sizes, 2 timed runs per row, no time budget', () => {
    // What keeps the smoke run to seconds, checked on what the run did rather than on its wall time (which a loaded
    // machine stretches; reported here only).
    // eslint-disable-next-line no-console
    console.log(`bench --smoke: ${report.rows.length} rows in ${seconds.toFixed(1)} s`);
    expect(options.reps).toBe(2);
    expect(options.treeTiming).toEqual({ budgetMs: 0, minReps: 2, maxReps: 2 });
    expect(new Set(report.rows.map((r) => r.reps))).toEqual(new Set([2]));
    // The largest smoke input is 16 × 256 scores; sentences have at most 10 tokens (Matrix-Tree samples are O(n⁴)).
    expect(Math.max(...report.rows.map((r) => r.elements))).toBeLessThanOrEqual(16 * 256);
    for (const family of ['tree', 'dependency', 'nonprojective']) {
      for (const r of report.rows.filter((row) => row.family === family)) expect(Number(r.size.split(' × ')[1])).toBeLessThanOrEqual(10);
    }
  });

  test('the CPU ceilings are measured on this machine, and with several threads every CPU row has a 1-thread twin', () => {
    const threads = report.machine.backends.cpu.threads;
    expect(report.cpuCeilings.map((c) => c.threads)).toEqual(threads > 1 ? [1, threads] : [1]);
    for (const c of report.cpuCeilings) {
      for (const value of [c.copyGbPerS, c.expGPerS.float32, c.expGPerS.float64]) expect(Number.isFinite(value) && value > 0).toBe(true);
    }
    expect(report.markdown).toContain('Measured on this machine at 1 thread');
    const cpuRows = report.rows.filter((r) => r.backend === 'cpu');
    const oneThread = report.rows.filter((r) => r.backend === 'cpu (1 thread)');
    expect(oneThread.length).toBe(threads > 1 ? cpuRows.length : 0);
    // The run's thread count is restored after each 1-thread timing.
    expect(backendInfo().cpu.threads).toBe(threads);
  });

  test('every suite produced a CPU row for every op it was asked for', () => {
    const opsOf = (family: string): Set<string> => new Set(report.rows.filter((r) => r.family === family && r.backend === 'cpu').map((r) => r.op));
    expect(options.suites).toEqual(['categorical', 'chain', 'tree', 'dependency', 'nonprojective', 'semimarkov', 'alignment', 'sparsemap', 'steps']);
    expect(opsOf('categorical')).toEqual(new Set(options.categorical.ops));
    expect(opsOf('chain')).toEqual(new Set(chainOpsMeasured(options.chain.ops)));
    expect(opsOf('tree')).toEqual(new Set(options.tree.ops));
    expect(opsOf('dependency')).toEqual(new Set(options.dependency.ops));
    expect(opsOf('nonprojective')).toEqual(new Set(options.nonprojective.ops));
    expect(opsOf('semimarkov')).toEqual(new Set(PATH_OPS));
    expect(opsOf('alignment')).toEqual(new Set(PATH_OPS));
    expect(opsOf('sparsemap')).toEqual(new Set(SPARSEMAP_OPS));
    const suites = new Set(report.rows.map((r) => r.suite));
    for (const structure of SPARSEMAP_STRUCTURES) expect(suites).toContain(`sparsemap (${structure})`);
    for (const structure of STEP_STRUCTURES) {
      expect(new Set(report.rows.filter((r) => r.suite === `steps (${structure})` && r.backend === 'cpu').map((r) => r.op))).toEqual(new Set(STEP_ESTIMATOR_NAMES));
    }
    for (const suite of ['chain (edges)', 'chain (factored)', 'tree (labelled)', 'dependency (any roots)', 'nonprojective (any roots)']) expect(suites).toContain(suite);
    expect(new Set(report.rows.map((r) => r.dtype))).toEqual(new Set(options.dtypes));
  });

  test('every row has sane numbers', () => {
    expect(report.rows.length).toBeGreaterThan(100);
    for (const r of report.rows) {
      const where = `${r.suite} ${r.op} ${r.backend} ${r.size} ${r.dtype}`;
      expect({ where, medianMs: Number.isFinite(r.medianMs) && r.medianMs > 0 }).toEqual({ where, medianMs: true });
      expect({ where, itemsPerS: Number.isFinite(r.itemsPerS) && r.itemsPerS > 0 }).toEqual({ where, itemsPerS: true });
      expect({ where, gbPerS: Number.isFinite(r.gbPerS) && r.gbPerS > 0 }).toEqual({ where, gbPerS: true });
      // The roofline fraction is the measured rate over the backend's nominal ceiling. It is not bounded by 1 here: a
      // tiny cache-resident smoke input on a fast machine (or an H200 over the 3,000 GB/s nominal) can beat a nominal
      // ceiling, and a timing figure is reported, not asserted. What the bench controls is the arithmetic: the bytes
      // it counts (its rate times its median) are the input read once plus outputs, between 1 and 4 times the input.
      const threads = r.backend === 'cpu (1 thread)' ? 1 : report.machine.backends.cpu.threads;
      const measured = report.cpuCeilings.find((c) => c.threads === threads)?.copyGbPerS;
      const ceiling = (r.backend.startsWith('cpu') ? options.ceilings.cpuGbPerS ?? measured : options.ceilings.gpuGbPerS) as number;
      expect({ where, roofline: Math.abs(r.rooflineFraction - r.gbPerS / ceiling) <= 1e-12 * (r.gbPerS / ceiling) }).toEqual({ where, roofline: true });
      const bytesPerInput = (r.gbPerS * r.medianMs * 1e6) / (r.elements * bytesPerElement(r.dtype));
      expect({ where, bytesPerInput: bytesPerInput >= 1 - 1e-9 && bytesPerInput <= 4 }).toEqual({ where, bytesPerInput: true });
      expect(r.reps).toBeGreaterThanOrEqual(1);
      expect(r.elements).toBeGreaterThan(0);
      // Items per call are whole rows, tokens or instances, and agree with the median and the rate.
      expect(Number.isInteger(r.items) && r.items > 0).toBe(true);
      expect(Math.abs(r.itemsPerS * (r.medianMs / 1e3) - r.items)).toBeLessThan(1e-9 * r.items);
    }
  });

  test('tree and path rows count work; Matrix-Tree rows report GFLOP/s; SparseMAP rows iterations and supports', () => {
    const byFamily = (family: string): Row[] => report.rows.filter((r) => r.family === family);
    for (const r of [...byFamily('tree'), ...byFamily('dependency'), ...byFamily('nonprojective')]) {
      expect(r.tree).toBeDefined();
      expect(r.tree!.sentencesPerS).toBeGreaterThan(0);
      expect(r.tree!.tokensPerS).toBeCloseTo(r.itemsPerS, 6);
      expect(Number.isFinite(r.tree!.expFraction)).toBe(true);
    }
    for (const r of byFamily('nonprojective')) {
      if (r.op === 'argmax') {
        expect(r.flops).toBeUndefined();
      } else {
        expect(r.flops!.gflopPerS).toBeGreaterThan(0);
        // Two flops per entry update, over the backend's nominal FP64 ceiling (a rate, so not bounded here).
        expect(r.flops!.gflopPerS).toBeCloseTo((2 * r.tree!.splitPointsPerS) / 1e9, 9);
        // The nominal FP64 peak is the machine's; a 1-thread row gets its share of one thread.
        const cpuThreads = report.machine.backends.cpu.threads;
        const ceiling = r.backend === 'cpu' ? options.ceilings.cpuGflopPerS : r.backend === 'cpu (1 thread)' ? options.ceilings.cpuGflopPerS / cpuThreads : options.ceilings.gpuGflopPerS;
        expect(r.flops!.flopFraction).toBeCloseTo(r.flops!.gflopPerS / ceiling, 12);
      }
    }
    // The path suites: exp terms = the lattice's edges with a part × the op's passes, over the exp ceiling measured
    // for the row's thread count (the smoke preset gives none).
    const passes: Record<string, number> = { logPartition: 1, 'logPartition + marginals': 4, marginals: 3, marginalsBackward: 5, entropy: 2, argmax: 1, 'sample(1)': 1 };
    const paths = [...byFamily('semimarkov'), ...byFamily('alignment')];
    expect(paths.length).toBeGreaterThan(0);
    for (const r of paths) {
      const dims = r.size.split(' × ').map(Number);
      const edges = r.family === 'semimarkov' ? dims[0] * semiMarkovEdges(dims[1], dims[2], dims[3]) : dims[0] * alignmentEdges(dims[1], dims[2]);
      expect(r.lattice).toBeDefined();
      expect(r.lattice!.expTermsPerCall).toBe(passes[r.op] * edges);
      expect(r.lattice!.expTermsPerS).toBeCloseTo(r.lattice!.expTermsPerCall / (r.medianMs / 1e3), 3);
      expect(r.lattice!.tokensPerS).toBeCloseTo(r.itemsPerS, 6);
      expect(r.lattice!.sequencesPerS * (r.medianMs / 1e3)).toBeCloseTo(dims[0], 9);
      if (r.backend.startsWith('cpu')) {
        const threads = r.backend === 'cpu (1 thread)' ? 1 : report.machine.backends.cpu.threads;
        const ceiling = report.cpuCeilings.find((c) => c.threads === threads)!.expGPerS[r.dtype] * 1e9;
        expect(r.lattice!.expFraction).toBeCloseTo(r.lattice!.expTermsPerS / ceiling, 12);
      }
    }
    // A semi-Markov sequence of 4 positions with K = 3 has spans 2 + 2 + 1 from positions 0, 1, 2; a 2 × 2 alignment
    // 6 moves: op 0 into (0, 1) and (1, 1), op 2 into (1, 0) and (1, 1), op 1 into (1, 1), and the start.
    expect(semiMarkovEdges(4, 3, 2)).toBe(4 * 5);
    expect(semiMarkovEdges(1, 4, 3)).toBe(0);
    expect(alignmentEdges(2, 2)).toBe(6);
    expect(alignmentEdges(1, 1)).toBe(1);
    const sparse = byFamily('sparsemap');
    expect(sparse.length).toBeGreaterThan(0);
    for (const r of sparse) {
      const s = r.sparsemap!;
      expect(s.meanIterations).toBeGreaterThanOrEqual(1);
      expect(s.maxIterations).toBeGreaterThanOrEqual(s.meanIterations);
      expect(s.minSupport).toBeGreaterThanOrEqual(1);
      expect(s.meanSupport).toBeGreaterThanOrEqual(s.minSupport);
      expect(s.maxSupport).toBeGreaterThanOrEqual(s.meanSupport);
      expect(s.convergedFraction).toBeGreaterThanOrEqual(0);
      expect(s.convergedFraction).toBeLessThanOrEqual(1);
      expect(s.msPerInstance * Number(r.size.split(' × ')[0])).toBeCloseTo(r.medianMs, 9);
    }
  });

  test('steps rows: steps/s is the inverse of the median; copy counts only on CUDA rows, the host-array form copying the scores in', () => {
    const steps = report.rows.filter((r) => r.family === 'steps');
    const perBackend = STEP_STRUCTURES.length * STEP_ESTIMATOR_NAMES.length * options.dtypes.length;
    const cpuBackends = report.machine.backends.cpu.threads > 1 ? 2 : 1;
    expect(steps.length).toBe(perBackend * (cpuBackends + (cudaPresent ? 2 : 0)));
    for (const r of steps) {
      const where = `${r.suite} ${r.op} ${r.backend} ${r.dtype}`;
      expect(r.step).toBeDefined();
      expect({ where, inverse: Math.abs(r.step!.stepsPerS * r.medianMs - 1e3) < 1e-9 }).toEqual({ where, inverse: true });
      expect(r.itemUnit).toBe('instances');
      expect(r.items).toBe(Number(r.size.split(' × ')[0]));
      const counts = [r.step!.toDeviceBytesPerStep, r.step!.toHostBytesPerStep, r.step!.decoderBytesPerStep];
      if (r.backend.startsWith('cpu')) {
        expect(counts).toEqual([null, null, null]);
      } else {
        for (const c of counts) expect(Number.isInteger(c) && (c as number) >= 0).toBe(true);
        if (r.backend === 'cuda (host arrays)') expect(r.step!.toDeviceBytesPerStep!).toBeGreaterThanOrEqual(r.elements * bytesPerElement(r.dtype));
        else expect(r.step!.decoderBytesPerStep!).toBeGreaterThan(0);
      }
    }
  });

  test('CUDA rows and speedups exist exactly when a GPU does', () => {
    const cpuRows = report.rows.filter((r) => r.backend === 'cpu');
    expect(report.speedups).toHaveLength(cpuRows.length);
    report.speedups.forEach((s, i) => {
      expect([s.suite, s.op, s.size, s.dtype, s.cpuMs]).toEqual([cpuRows[i].suite, cpuRows[i].op, cpuRows[i].size, cpuRows[i].dtype, cpuRows[i].medianMs]);
    });
    if (cudaPresent) {
      for (const s of report.speedups) {
        expect(s.deviceSpeedup).toBeCloseTo(s.cpuMs / s.cudaDeviceMs!, 9);
        const hostForm = s.op !== 'marginalsBackward' && s.op !== 'sparsemapBackward';
        expect(s.cudaHostMs !== null).toBe(hostForm);
      }
    } else {
      expect(report.rows.filter((r) => !r.backend.startsWith('cpu'))).toEqual([]);
      for (const s of report.speedups) expect([s.cudaDeviceMs, s.cudaHostMs, s.deviceSpeedup, s.hostSpeedup]).toEqual([null, null, null, null]);
      expect(report.markdown).toContain('No CUDA numbers in this run');
    }
  });

  test('writes bench.json, bench.md and throughput.svg that agree with the rows', () => {
    for (const file of Object.values(report.files)) expect(fs.existsSync(file)).toBe(true);
    expect(path.dirname(report.files.json)).toBe(path.resolve(outDir));
    const json = JSON.parse(fs.readFileSync(report.files.json, 'utf8')) as BenchJson;
    expect(json.rows).toEqual(report.rows);
    expect(json.speedups).toEqual(report.speedups);
    expect(json.options).toEqual(options);
    expect(json.machine.backends.cpu.threads).toBeGreaterThan(0);
    expect(json.machine.node).toBe(process.versions.node);

    const markdown = fs.readFileSync(report.files.markdown, 'utf8');
    expect(markdown).toBe(report.markdown);
    for (const heading of [
      '## Categorical and LinearChainCRF',
      '## TreeCRF (CKY) and DependencyCRF (Eisner)',
      '## NonProjectiveDependencyCRF (Matrix-Tree)',
      '## SemiMarkovCRF and AlignmentCRF (lattice forward-backward)',
      '## SparseMAP',
      '## Estimator steps (structure + estimator + toy decoder)',
      '## CUDA / CPU speedup',
    ]) {
      expect(markdown).toContain(heading);
    }
    const lines = markdown.split('\n');
    for (const r of report.rows) {
      const prefix = `| ${r.suite} | ${r.op} | ${r.backend} | ${r.size} | ${r.dtype} | ${r.reps} | ${r.medianMs.toFixed(3)} |`;
      expect(lines.filter((l) => l.startsWith(prefix)).length).toBeGreaterThanOrEqual(1);
    }
    if (!cudaPresent) {
      const speedupLines = lines.filter((l) => l.endsWith('| — | — | — | — |'));
      expect(speedupLines).toHaveLength(report.speedups.length);
    }

    const svg = fs.readFileSync(report.files.svg, 'utf8');
    expect(svg).toBe(report.svg);
    expectWellFormedSvg(svg);
    // A line per (suite, op, backend, dtype), and per batch size in the tree suites (sweeps over N); a marker per row.
    const byBatch = (r: Row): string => (['tree', 'dependency', 'nonprojective'].includes(r.family) ? r.size.split(' × ')[0] : '');
    const series = new Set(report.rows.map((r) => `${r.suite}|${r.op}|${r.backend}|${r.dtype}|${byBatch(r)}`));
    expect((svg.match(/<polyline /g) ?? []).length).toBe(series.size);
    expect((svg.match(/class="point"/g) ?? []).length).toBe(report.rows.length);
    for (const title of ['categorical', 'chain (edges)', 'tree', 'dependency', 'nonprojective', 'semimarkov', 'alignment', 'sparsemap', 'steps']) expect(svg).toContain(`>${title}</text>`);
  });
});

describe('plot', () => {
  test('decade ranges and labels', () => {
    expect(decadeRange([3, 4000])).toEqual([0, 4]);
    expect(decadeRange([100])).toEqual([2, 3]);
    expect(decadeRange([0.02, 0.5, -1, NaN])).toEqual([-2, 0]);
    expect(decadeRange([])).toEqual([0, 1]);
    expect(decadeLabel(3)).toBe('10³');
    expect(decadeLabel(-12)).toBe('10⁻¹²');
  });

  test('a series is a polyline through its points in order of x, higher y drawn higher', () => {
    const svg = logLogPlotSvg(
      [
        {
          title: 'a & b',
          series: [
            { color: 'fast', dash: 'cpu', points: [{ x: 1000, y: 1e6 }, { x: 10, y: 1e4 }, { x: 100, y: 1e5 }] },
            { color: 'slow', dash: 'cuda', marker: 'B = 32', points: [{ x: 10, y: 10 }, { x: 1000, y: 0 }] },
          ],
        },
      ],
      { title: 'test <plot>', xLabel: 'x', yLabel: 'y' },
    );
    expectWellFormedSvg(svg);
    expect(svg).toContain('a &amp; b');
    expect(svg).toContain('test &lt;plot&gt;');
    const polylines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
    expect(polylines).toHaveLength(2);
    const [fast, slow] = polylines;
    expect(fast).toHaveLength(3);
    expect(fast[0][0]).toBeLessThan(fast[1][0]);
    expect(fast[1][0]).toBeLessThan(fast[2][0]);
    expect(fast[0][1]).toBeGreaterThan(fast[1][1]);
    expect(fast[1][1]).toBeGreaterThan(fast[2][1]);
    // Equal steps in log x and log y are equal steps in pixels.
    expect(fast[1][0] - fast[0][0]).toBeCloseTo(fast[2][0] - fast[1][0], 1);
    expect(fast[0][1] - fast[1][1]).toBeCloseTo(fast[1][1] - fast[2][1], 1);
    // The point with y = 0 cannot be drawn on a log axis and is left out.
    expect(slow).toHaveLength(1);
    expect(svg).toContain('stroke-dasharray');
    for (const legend of ['>fast<', '>slow<', '>cpu<', '>cuda<', '>B = 32<']) expect(svg).toContain(legend);
    expect((svg.match(/class="point"/g) ?? []).length).toBe(4);
  });
});

describe('parseBenchArgs', () => {
  test('flags override the preset', () => {
    const options = parseBenchArgs(['--smoke', '--reps', '1', '--suite', 'chain,sparsemap', '--tree-sizes', '8x5', '--no-cuda', '--json', 'x.json']);
    expect(options.preset).toBe('smoke');
    expect(options.reps).toBe(1);
    expect(options.suites).toEqual(['chain', 'sparsemap']);
    expect(options.tree.sizes).toEqual([[8, 5, 1]]);
    expect(options.dependency.sizes).toEqual([[8, 5]]);
    expect(options.nonprojective.sizes).toEqual([[8, 5]]);
    expect(options.cuda).toBe(false);
    expect(options.jsonPath).toBe('x.json');
    expect(options.treeTiming.maxReps).toBeGreaterThanOrEqual(options.treeTiming.minReps);
    const paths = parseBenchArgs(['--semimarkov-sizes', '8x12x3x5', '--alignment-sizes', '2x30x40', '--alignment-ops', 'logPartition + marginals,argmax']);
    expect(paths.semimarkov.sizes).toEqual([[8, 12, 3, 5]]);
    expect(paths.alignment.sizes).toEqual([[2, 30, 40]]);
    expect(paths.alignment.ops).toEqual(['logPartition + marginals', 'argmax']);
    const steps = parseBenchArgs(['--step-structures', 'chain,alignment', '--step-estimators', 'marginals,reinforce(k=4)']);
    expect(steps.steps.structures).toEqual(['chain', 'alignment']);
    expect(steps.steps.estimators).toEqual(['marginals', 'reinforce(k=4)']);
  });

  test('the full preset has the sizes of issues 3–6 and 19', () => {
    const full = presetOptions('full');
    expect(parseBenchArgs([])).toEqual(full);
    expect(full.chain.sizes).toEqual([[32, 25, 20], [256, 128, 32], [1024, 64, 16]]);
    expect(full.tree.sizes.map(([B, N]) => `${B}x${N}`).sort()).toEqual(['128x128', '128x25', '128x64', '32x128', '32x25', '32x64']);
    expect(full.nonprojective.sizes.map(([B, N]) => `${B}x${N}`).sort()).toEqual(['256x128', '256x25', '256x64', '32x128', '32x25', '32x64']);
    expect(full.sparsemap).toEqual({ sizes: [[64, 20]], chainLabels: 10, structures: ['chain', 'tree', 'dependency', 'nonprojective'], ops: ['sparsemap', 'sparsemapBackward'] });
    expect(full.semimarkov).toEqual({ sizes: [[32, 25, 4, 10]], ops: ['logPartition', 'logPartition + marginals', 'argmax'] });
    expect(full.alignment).toEqual({ sizes: [[32, 25, 25], [8, 1000, 1000]], ops: ['logPartition', 'logPartition + marginals', 'argmax'] });
    expect(presetOptions('quick').alignment.sizes).toEqual([[32, 25, 25]]);
    expect(full.steps).toEqual({
      structures: ['chain', 'tree', 'dependency', 'semimarkov', 'alignment'],
      estimators: ['marginals', 'sparsemap', 'perturbAndMap', 'reinforce(k=4)'],
      chain: [32, 25, 20],
      tree: [32, 25],
      dependency: [32, 25],
      semimarkov: [32, 25, 4, 10],
      alignment: [32, 25, 25],
    });
    expect(full.outDir).toBe('bench/results');
  });

  test('unknown flags and malformed values are errors', () => {
    expect(() => parseBenchArgs(['--bogus'])).toThrow(/unknown argument --bogus/);
    expect(() => parseBenchArgs(['--suite', 'chains'])).toThrow(/--suite chains is not one of/);
    expect(() => parseBenchArgs(['--reps', '0'])).toThrow(/--reps/);
    expect(() => parseBenchArgs(['--chain-sizes', '32x25'])).toThrow(/3 dimensions/);
    expect(() => parseBenchArgs(['--chain-ops', 'marginal'])).toThrow(/--chain-ops marginal/);
    expect(() => parseBenchArgs(['--semimarkov-sizes', '32x25x4'])).toThrow(/4 dimensions/);
    expect(() => parseBenchArgs(['--alignment-ops', 'logZ'])).toThrow(/--alignment-ops logZ/);
    expect(() => parseBenchArgs(['--step-estimators', 'spigot'])).toThrow(/--step-estimators spigot/);
    expect(() => parseBenchArgs(['--out'])).toThrow(/needs a value/);
  });
});
