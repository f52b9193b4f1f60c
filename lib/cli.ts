#!/usr/bin/env node
/**
 * The `latent-struct` command: `latent-struct demo [options]` (in this repository `npm start`, `npm run demo -- …`
 * or `node dist/lib/cli.js demo …`) trains through every structure with every estimator family and prints the
 * comparison; `latent-struct info` prints the backends; `--version` the package's version.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendInfo } from './index';
import { defaultWorkers, runDemoParallel, workersAvailable } from './demo/parallel';
import { DEMO_ESTIMATORS, DEMO_SIZES, DemoOptions, DemoPlan, DemoSize, formatReport, planDemo } from './demo/run';
import { STRUCTURES, StructureName } from './demo/tasks';

const USAGE = `Usage: latent-struct <command> [options]
       latent-struct --version

In this repository: npm start (the demo), npm run demo -- [options], node dist/lib/cli.js <command> [options].

Commands:
  demo    train a model through a hidden discrete structure, once per estimator and structure, and compare
  info    print the backends this process can use (CPU threads, CUDA device)

Options of demo:
  --size tiny|small|medium|large   data and training sizes (default small: under 3 minutes on 2 CPU cores)
  --epochs N                       epochs (default: the size's)
  --backend auto|cpu|cuda          where the structures run (default auto: CUDA when usable)
  --seed N                         seed of data, weights and noise (default 1)
  --repeats R                      runs per row, on new data and weights, averaged (default 3)
  --structures A,B                 of ${STRUCTURES.join(', ')}
  --estimators A,B                 of ${DEMO_ESTIMATORS.map((e) => e.name).join(', ')}
                                   (default: all; some need Categorical)
  --lr X                           Adam's learning rate (default 0.05)
  --workers N                      worker threads training runs side by side (default: one per core, here ${defaultWorkers()});
                                   the table is the same for any N, only the timings differ
  --json FILE                      also write the report as JSON
  --no-progress                    no progress (default: a bar on a terminal's stderr, else a line every 5 s)

Pairs of an estimator and a structure it does not apply to are skipped and listed under the table with the
reason; when no pair at all can train, the demo trains nothing and exits with 1.
`;

/** This package's version, from its package.json (two levels up from dist/lib/cli.js, one from lib/cli.ts). */
export function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 4; dir = path.dirname(dir), i++) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'latent-struct' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** Thrown for a bad command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

/** `--name value` pairs and bare flags of argv. */
function parseFlags(args: string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split('=', 2);
    if (inline !== undefined) flags.set(name, inline);
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) flags.set(name, args[++i]);
    else flags.set(name, true);
  }
  return flags;
}

function text(flags: Map<string, string | true>, name: string): string | undefined {
  const value = flags.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

function integer(flags: Map<string, string | true>, name: string): number | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
  return n;
}

/** The demo's options from its flags. */
export function demoOptions(args: string[]): DemoOptions & { workers?: number; json?: string; progress: boolean } {
  const flags = parseFlags(args);
  const known = new Set(['size', 'epochs', 'backend', 'seed', 'repeats', 'structures', 'estimators', 'lr', 'workers', 'json', 'no-progress']);
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown option --${name}`);
  const sizeName = text(flags, 'size') ?? 'small';
  if (!(sizeName in DEMO_SIZES)) throw new UsageError(`--size must be one of ${Object.keys(DEMO_SIZES).join(', ')}, got '${sizeName}'`);
  const backend = text(flags, 'backend') ?? 'auto';
  if (!['auto', 'cpu', 'cuda'].includes(backend)) throw new UsageError(`--backend must be auto, cpu or cuda, got '${backend}'`);
  const lr = text(flags, 'lr');
  const learningRate = lr === undefined ? undefined : Number(lr);
  if (learningRate !== undefined && !(learningRate > 0 && Number.isFinite(learningRate))) throw new UsageError(`--lr must be a positive number, got '${lr}'`);
  const epochs = integer(flags, 'epochs');
  if (epochs === 0) throw new UsageError('--epochs must be at least 1');
  if (integer(flags, 'repeats') === 0) throw new UsageError('--repeats must be at least 1');
  if (integer(flags, 'workers') === 0) throw new UsageError('--workers must be at least 1');
  return {
    size: DEMO_SIZES[sizeName as keyof typeof DEMO_SIZES] as DemoSize,
    epochs,
    backend: backend as 'auto' | 'cpu' | 'cuda',
    seed: integer(flags, 'seed'),
    repeats: integer(flags, 'repeats'),
    structures: text(flags, 'structures')?.split(',') as StructureName[] | undefined,
    estimators: text(flags, 'estimators')?.split(','),
    learningRate,
    workers: integer(flags, 'workers'),
    json: text(flags, 'json'),
    progress: !flags.has('no-progress'),
  };
}

type Progress = (done: number, total: number, label: string) => void;

/** A one-line progress bar on a terminal, redrawn at most 10 times a second. */
function progressBar(stream: NodeJS.WriteStream): Progress {
  let last = 0;
  return (done, total, label) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const width = 28;
    const filled = Math.round((width * done) / total);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}% ${label}`;
    stream.write(`\r${line.slice(0, (stream.columns ?? 100) - 1).padEnd((stream.columns ?? 100) - 1)}`);
    if (done === total) stream.write('\n');
  };
}

/** Plain progress lines for a pipe or a file (no carriage returns): the first step, then every `everyMs`, and the end. */
export function progressLines(write: (line: string) => void, everyMs = 5000, now: () => number = Date.now): Progress {
  const started = now();
  let last = -Infinity;
  return (done, total, label) => {
    const t = now();
    if (done < total && t - last < everyMs) return;
    last = t;
    const pct = ((100 * done) / total).toFixed(0);
    write(`[latent-struct] ${pct}% (${done}/${total} steps, ${((t - started) / 1e3).toFixed(0)} s)${done < total ? ` ${label}` : ' training done'}\n`);
  };
}

/** The backend line: which backend runs, and why CUDA does not (or that it is the emulated device). */
export function backendLine(plan: Pick<DemoPlan, 'backend'>, requested: string, workers: number): string {
  const info = backendInfo();
  const cuda = info.cuda;
  const threads = `${info.cpu.threads} CPU thread${info.cpu.threads === 1 ? '' : 's'} per op, ${workers} worker thread${workers === 1 ? '' : 's'}`;
  if (plan.backend === 'cuda') {
    const device = cuda.device ? `${cuda.device.name}, compute ${cuda.device.computeCapability}` : 'a CUDA device';
    return cuda.emulated
      ? `backend cuda on the emulated CUDA device (the CUDA sources compiled for the CPU: correct but slow; ${threads})`
      : `backend cuda (${device}; ${threads})`;
  }
  const why = requested === 'cpu' && cuda.available ? '--backend cpu was given' : (cuda.reason ?? 'not available');
  return `backend cpu (${threads}); CUDA not used: ${why}${cuda.emulated ? ' (this is the emulated CUDA build)' : ''}`;
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-v' || command === 'version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (command === 'info') {
      console.log(JSON.stringify(backendInfo(), null, 2));
      return 0;
    }
    if (command !== 'demo') throw new UsageError(`unknown command '${command}'`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const options = demoOptions(rest);
    const plan = planDemo(options);
    const units = plan.repeats * plan.runs.reduce((a, r) => a + 1 + r.estimators.length, 0);
    const workers = workersAvailable() ? Math.min(options.workers ?? defaultWorkers(), units) : 1;
    const trained = plan.runs.reduce((a, r) => a + r.estimators.length, 0);
    const say = (line: string) => process.stderr.write(`[latent-struct] ${line}\n`);
    say(backendLine(plan, options.backend ?? 'auto', workers));
    say(
      `training ${trained} structure × estimator pair${trained === 1 ? '' : 's'} × ${plan.repeats} repeat${plan.repeats === 1 ? '' : 's'}` +
        (plan.skipped.length > 0 ? `; skipping ${plan.skipped.length} pair${plan.skipped.length === 1 ? '' : 's'} that cannot run (listed under the table)` : ''),
    );
    const onProgress = !options.progress ? undefined : process.stderr.isTTY ? progressBar(process.stderr) : progressLines((line) => process.stderr.write(line));
    const report = await runDemoParallel({ ...options, workers, onProgress });
    console.log(formatReport(report));
    if (options.json) fs.writeFileSync(options.json, JSON.stringify(report, null, 2));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`latent-struct: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    const coded = error as { code?: unknown; message?: unknown };
    process.stderr.write(`latent-struct: ${String(coded.message ?? error)}${typeof coded.code === 'string' ? ` (${coded.code})` : ''}\n`);
    return 1;
  }
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
