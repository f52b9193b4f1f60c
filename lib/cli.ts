#!/usr/bin/env node
/**
 * The `latent-struct` command: `latent-struct demo [options]` (also `npm start`) trains through every structure with
 * every estimator family and prints the comparison; `latent-struct info` prints the backends.
 */
import * as fs from 'node:fs';
import { backendInfo } from './index';
import { DEMO_ESTIMATORS, DEMO_SIZES, DemoOptions, DemoSize, formatReport, runDemo } from './demo/run';
import { STRUCTURES, StructureName } from './demo/tasks';

const USAGE = `Usage: latent-struct <command> [options]

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
  --json FILE                      also write the report as JSON
  --no-progress                    no progress bar
`;

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
export function demoOptions(args: string[]): DemoOptions & { json?: string; progress: boolean } {
  const flags = parseFlags(args);
  const known = new Set(['size', 'epochs', 'backend', 'seed', 'repeats', 'structures', 'estimators', 'lr', 'json', 'no-progress']);
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
  return {
    size: DEMO_SIZES[sizeName as keyof typeof DEMO_SIZES] as DemoSize,
    epochs,
    backend: backend as 'auto' | 'cpu' | 'cuda',
    seed: integer(flags, 'seed'),
    repeats: integer(flags, 'repeats'),
    structures: text(flags, 'structures')?.split(',') as StructureName[] | undefined,
    estimators: text(flags, 'estimators')?.split(','),
    learningRate,
    json: text(flags, 'json'),
    progress: !flags.has('no-progress'),
  };
}

/** A one-line progress bar on a terminal's stderr, redrawn at most 10 times a second. */
function progressBar(stream: NodeJS.WriteStream): ((done: number, total: number, label: string) => void) | undefined {
  if (!stream.isTTY) return undefined;
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

/** Runs the command line; returns the exit code. */
export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === 'info') {
      console.log(JSON.stringify(backendInfo(), null, 2));
      return 0;
    }
    if (command !== 'demo') throw new UsageError(`unknown command '${command}'`);
    const options = demoOptions(rest);
    if (!options.progress) console.error('[latent-struct] training; this takes a while at the default size');
    const report = runDemo({ ...options, onProgress: options.progress ? progressBar(process.stderr) : undefined });
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

if (require.main === module) process.exitCode = main(process.argv.slice(2));
