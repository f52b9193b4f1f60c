/**
 * The demo (`npm start`) at its CI size: every structure × estimator trains and reports sane numbers, training beats
 * the untrained model, the tasks' hidden structures are what the structures' MAP makes, and the command line works
 * (in process, and the built `dist/lib/cli.js` that `npm start` runs, built by `pretest`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../lib';
import { main, progressLines } from '../lib/cli';
import { DEMO_ESTIMATORS, DEMO_SIZES, DemoReport, formatReport, runDemo } from '../lib/demo/run';
import { STRUCTURES, makeTask } from '../lib/demo/tasks';

describe('the demo at the tiny size', () => {
  let report: DemoReport;
  beforeAll(() => {
    report = runDemo({ size: DEMO_SIZES.tiny, repeats: 1, backend: 'cpu', seed: 3 });
  });

  test('one untrained row and one row per applicable estimator for every structure', () => {
    for (const structure of STRUCTURES) {
      const rows = report.rows.filter((r) => r.structure === structure);
      const applicable = DEMO_ESTIMATORS.filter((e) => !e.only || e.only.includes(structure));
      expect(rows.map((r) => r.family)).toEqual(['untrained', ...applicable.map((e) => e.family)]);
    }
    expect(new Set(report.rows.filter((r) => r.family !== 'untrained').map((r) => r.family))).toEqual(new Set(['relaxation', 'surrogate', 'probabilistic']));
  });

  test('numbers are sane: finite losses, recovery in [0, 1], positive step times', () => {
    for (const row of report.rows) {
      expect(Number.isFinite(row.testNormalizedMse) && row.testNormalizedMse >= 0).toBe(true);
      expect(row.recovery).toBeGreaterThanOrEqual(0);
      expect(row.recovery).toBeLessThanOrEqual(1);
      expect(row.recoveryRange[0]).toBeLessThanOrEqual(row.recovery);
      expect(row.recoveryRange[1]).toBeGreaterThanOrEqual(row.recovery);
      if (row.family === 'untrained') continue;
      expect(Number.isFinite(row.trainLoss) && row.trainLoss >= 0).toBe(true);
      expect(row.msPerStep).toBeGreaterThan(0);
      expect(row.backend).toBe('cpu');
    }
  });

  test('training helps: on every structure the best estimator beats the untrained model', () => {
    for (const structure of STRUCTURES) {
      const rows = report.rows.filter((r) => r.structure === structure);
      const untrained = rows.find((r) => r.family === 'untrained')!;
      const best = Math.min(...rows.filter((r) => r.family !== 'untrained').map((r) => r.testNormalizedMse));
      expect(best).toBeLessThan(untrained.testNormalizedMse);
    }
  });

  test('the table lists every row', () => {
    const text = formatReport(report);
    expect(text).toMatch(/^latent-struct demo — backend cpu/);
    expect(text.split('\n').filter((l) => new RegExp(`^\\| (${STRUCTURES.join('|')}) \\|`).test(l))).toHaveLength(report.rows.length);
    expect(new Set(report.rows.map((r) => r.structure))).toEqual(new Set(STRUCTURES));
  });
});

describe('the tasks', () => {
  test.each(STRUCTURES)('%s: the truth is the MAP of the teacher, a valid structure; recovery of the truth is 1', (structure) => {
    const task = makeTask(structure, { train: 12, test: 4, length: 5 }, 2);
    expect(task.train).toHaveLength(12);
    expect(task.test).toHaveLength(4);
    const Q = task.partsShape.reduce((a, b) => a * b, 1);
    for (const e of [...task.train, ...task.test]) {
      expect(e.truth).toHaveLength(Q);
      expect(task.features(e)).toHaveLength(Q * task.featureCount);
      const used = e.truth.reduce((a, v) => a + v, 0);
      // A class; n − 1 edges; 2n − 1 spans; n arcs; a segmentation's segments after the first; an alignment's path.
      const expected = {
        Categorical: () => 1,
        LinearChainCRF: () => e.length - 1,
        TreeCRF: () => 2 * e.length - 1,
        DependencyCRF: () => e.length,
        NonProjectiveDependencyCRF: () => e.length,
        SemiMarkovCRF: () => segmentation(e.truth, task.partsShape, e.length),
        AlignmentCRF: () => alignmentPath(e.truth, task.partsShape, e.length, e.targetLength ?? -1),
      }[structure]();
      expect(used).toBe(expected);
      expect(e.target.every(Number.isFinite)).toBe(true);
    }
    expect(task.recovery(task.test.map((e) => e.truth), task.test)).toBe(1);
    // Another instance's structure does not recover this one's (a metric that can fail).
    const shifted = task.test.map((_, b) => task.test[(b + 1) % task.test.length].truth);
    expect(task.recovery(shifted, task.test)).toBeLessThan(1);
  });

  test('the new structures\' tasks use their range: segments of several lengths, alignments of every op and of unequal lengths', () => {
    const segments = makeTask('SemiMarkovCRF', { train: 40, test: 8, length: 8 }, 1);
    const [, K, C] = segments.partsShape;
    const widths = new Set<number>();
    for (const e of segments.train) e.truth.forEach((v, q) => v > 0 && widths.add(Math.floor(q / (C * C)) % K));
    // Segments of 1 to K − 1 = 3 tokens; 3 is rare (about 1% of the segments), so only 1 and 2 are required.
    expect([1, 2].every((k) => widths.has(k)) && [...widths].every((k) => k >= 1 && k < K)).toBe(true);
    const alignments = makeTask('AlignmentCRF', { train: 40, test: 8, length: 8 }, 1);
    const ops = new Set<number>();
    for (const e of alignments.train) e.truth.forEach((v, q) => v > 0 && ops.add(q % 3));
    expect([...ops].sort()).toEqual([0, 1, 2]);
    expect(alignments.train.some((e) => e.targetLength !== e.length)).toBe(true);
  });

  test('the same seed gives the same data', () => {
    const a = makeTask('DependencyCRF', { train: 4, test: 2, length: 5 }, 9);
    const b = makeTask('DependencyCRF', { train: 4, test: 2, length: 5 }, 9);
    expect(Array.from(a.train[3].target)).toEqual(Array.from(b.train[3].target));
    expect(Array.from(a.train[3].truth)).toEqual(Array.from(b.train[3].truth));
  });
});

describe('the command line', () => {
  const builtCli = path.join(__dirname, '..', 'dist', 'lib', 'cli.js'); // built by `npm test`'s pretest (tsc)
  async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
    try {
      return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
    } finally {
      [log, error, stdout, stderr].forEach((spy) => spy.mockRestore());
    }
  }

  test('demo with flags prints the table and writes the JSON report', async () => {
    const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'report.json');
    const { code, out } = await capture(['demo', '--size', 'tiny', '--repeats', '1', '--structures', 'Categorical,TreeCRF', '--estimators', 'sparsemap,reinforce', '--seed', '4', '--json', json, '--no-progress']);
    expect(code).toBe(0);
    expect(out).toMatch(/\| TreeCRF \| probabilistic \| reinforce\(leaveOneOut\) \|/);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as DemoReport;
    expect(saved.rows).toHaveLength(2 * 3);
    expect(saved.seed).toBe(4);
  });

  test.each([
    [['demo', '--size', 'huge'], /--size must be one of/],
    [['demo', '--epochs', '0'], /--epochs must be at least 1/],
    [['demo', '--colour'], /unknown option --colour/],
    [['demo', '--backend', 'tpu'], /--backend must be/],
    [['train'], /unknown command 'train'/],
    [['demo', '--workers', '0'], /--workers must be at least 1/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const { code, err } = await capture(argv);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err).toMatch(/Usage: latent-struct/);
  });

  test('an unknown estimator is an error with its code (exit 1); --backend cuda runs on a GPU, or says why not', async () => {
    expect((await capture(['demo', '--size', 'tiny', '--estimators', 'magic'])).err).toMatch(/unknown estimator 'magic'.*ERR_OUT_OF_RANGE/);
    const cuda = await capture(['demo', '--size', 'tiny', '--repeats', '1', '--structures', 'Categorical', '--estimators', 'marginals', '--backend', 'cuda', '--no-progress']);
    if (backendInfo().cuda.available) {
      expect(cuda.code).toBe(0);
      expect(cuda.out).toMatch(/\| Categorical \| relaxation \| marginals \| .* \| cuda \|/);
    } else {
      expect(cuda.code).toBe(1);
      expect(cuda.err).toMatch(/CUDA cannot run.*ERR_NO_CUDA/);
    }
  });

  test('the built CLI (what `npm start` runs) trains and prints the table', () => {
    const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli.js');
    expect(fs.existsSync(cli)).toBe(true); // built by `npm test`'s pretest (tsc)
    const run = spawnSync(process.execPath, [cli, 'demo', '--size', 'tiny', '--repeats', '1', '--structures', 'LinearChainCRF', '--estimators', 'marginals,spigot', '--no-progress'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\| LinearChainCRF \| surrogate \| spigot\(η=1\) \|/);
  });

  test('--version prints the version of package.json (in process and built)', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const { code, out } = await capture(['--version']);
    expect(code).toBe(0);
    expect(out.trim()).toBe(version);
    const run = spawnSync(process.execPath, [builtCli, '--version'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  test('pairs that cannot run are listed with the reason; when nothing can train, exit 1', async () => {
    const some = await capture(['demo', '--size', 'tiny', '--repeats', '1', '--structures', 'TreeCRF,Categorical', '--estimators', 'entmax15,marginals', '--no-progress']);
    expect(some.code).toBe(0);
    expect(some.out).toMatch(/\| Categorical \| relaxation \| entmax15 \|/);
    expect(some.out).not.toMatch(/\| TreeCRF \| relaxation \| entmax15 \|/);
    expect(some.out).toMatch(/^Skipped: entmax15 on TreeCRF \(entmax15 runs only on Categorical: .+\)$/m);
    expect(some.err).toMatch(/skipping 1 pair that cannot run/);
    const none = await capture(['demo', '--size', 'tiny', '--structures', 'TreeCRF', '--estimators', 'entmax15', '--no-progress']);
    expect(none.code).toBe(1);
    expect(none.out).toBe('');
    expect(none.err).toMatch(/nothing to train: no estimator of \[entmax15\] applies to \[TreeCRF\] \(entmax15 runs only on Categorical.*ERR_OUT_OF_RANGE/);
  });

  test('the default run reports the Categorical-only estimators as skipped on the other structures', () => {
    const report = runDemo({ size: { ...DEMO_SIZES.tiny, train: 16, epochs: 1 }, repeats: 1, backend: 'cpu', structures: ['Categorical', 'LinearChainCRF'] });
    expect(report.skipped.map((p) => `${p.structure}:${p.estimator}`)).toEqual(['LinearChainCRF:entmax15', 'LinearChainCRF:exactMarginalization', 'LinearChainCRF:rebar']);
    expect(report.skipped.every((p) => /runs only on Categorical: ./.test(p.reason))).toBe(true);
  });

  test('the built CLI piped (no TTY): a backend line, plain progress lines, the same table on 1 and 2 worker threads', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-'));
    const args = ['demo', '--size', 'tiny', '--repeats', '2', '--structures', 'Categorical,LinearChainCRF', '--estimators', 'marginals,reinforce,rebar', '--seed', '5'];
    const runs = [1, 2].map((workers) => {
      const json = path.join(dir, `w${workers}.json`);
      const run = spawnSync(process.execPath, [builtCli, ...args, '--workers', String(workers), '--json', json], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      return { run, report: JSON.parse(fs.readFileSync(json, 'utf8')) as DemoReport };
    });
    for (const { run } of runs) {
      const info = backendInfo();
      expect(run.stderr).toMatch(/^\[latent-struct\] backend (cpu|cuda)\b/m);
      if (!info.cuda.available) expect(run.stderr).toContain(`CUDA not used: ${info.cuda.reason}`);
      else if (info.cuda.emulated) expect(run.stderr).toMatch(/^\[latent-struct\] backend cuda on the emulated CUDA device/m);
      else expect(run.stderr).toMatch(/^\[latent-struct\] backend cuda \(/m);
      expect(run.stderr).not.toContain('\r');
      const lines = run.stderr.split('\n').filter((l) => /^\[latent-struct\] \d+% \(\d+\/\d+ steps, \d+ s\)/.test(l));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines[lines.length - 1]).toMatch(/100% .* training done$/);
    }
    const numbers = (r: DemoReport) => r.rows.map(({ msPerStep, ...rest }) => rest);
    expect(numbers(runs[1].report)).toEqual(numbers(runs[0].report));
    expect(runs[1].run.stderr).toMatch(/2 worker threads/);
  });

  test('plain progress lines: the first step, then at most one per interval, and the end', () => {
    const lines: string[] = [];
    let t = 0;
    const progress = progressLines((line) => lines.push(line), 5000, () => t);
    for (let done = 1; done <= 100; done++) {
      t = done * 200;
      progress(done, 100, `step ${done}`);
    }
    expect(lines).toEqual([
      '[latent-struct] 1% (1/100 steps, 0 s) step 1\n',
      '[latent-struct] 26% (26/100 steps, 5 s) step 26\n',
      '[latent-struct] 51% (51/100 steps, 10 s) step 51\n',
      '[latent-struct] 76% (76/100 steps, 15 s) step 76\n',
      '[latent-struct] 100% (100/100 steps, 20 s) training done\n',
    ]);
  });
});

/**
 * Checks that one-hot semi-Markov edges [N−1, K, C, C] are one segmentation of a sequence of `length`: segments
 * chained from position 0 to length − 1, each one's label the next one's previous label; returns how many there are.
 */
function segmentation(z: Float64Array, [, K, C]: number[], length: number): number {
  const parts: { n: number; k: number; c: number; from: number }[] = [];
  z.forEach((v, q) => {
    if (v !== 0) parts.push({ n: Math.floor(q / (K * C * C)), k: Math.floor(q / (C * C)) % K, c: Math.floor(q / C) % C, from: q % C });
  });
  parts.sort((a, b) => a.n - b.n);
  let [end, label] = [0, parts[0].from];
  for (const p of parts) {
    expect({ n: p.n, from: p.from, kInRange: p.k >= 1 && p.k < K }).toEqual({ n: end, from: label, kInRange: true });
    [end, label] = [p.n + p.k, p.c];
  }
  expect(end).toBe(length - 1);
  return parts.length;
}

/** Checks that one-hot moves [N, M, 3] are one global alignment path, (0, 0) to (n − 1, m − 1); returns its cells. */
function alignmentPath(z: Float64Array, [, M]: number[], n: number, m: number): number {
  let [i, j, cells] = [n - 1, m - 1, 0];
  for (;;) {
    const ops = [0, 1, 2].filter((op) => z[(i * M + j) * 3 + op] !== 0);
    expect(ops).toHaveLength(1);
    cells++;
    if (i === 0 && j === 0) {
      expect(ops[0]).toBe(1);
      return cells;
    }
    [i, j] = ops[0] === 0 ? [i, j - 1] : ops[0] === 1 ? [i - 1, j - 1] : [i - 1, j];
    expect(i >= 0 && j >= 0).toBe(true);
  }
}
