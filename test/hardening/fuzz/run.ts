/**
 * The hardening fuzz (issue 9), meant to run in its own process (see fuzz.test.ts and `npm run fuzz`), so that a
 * native crash is seen as one: before each case it writes the case to the progress file, and at the end it prints
 * `FUZZ SUMMARY {json}` with the cases tried per property and the failures (fast-check's seed and path replay
 * one). Exit status 1 when a property failed.
 *
 * Usage: node -r test/support/register_ts.js test/hardening/fuzz/run.ts [--runs N] [--seed S] [--only NAME]
 *   [--seconds S] [--progress FILE]
 *   --runs     cases per property (default 1 per unit of the property's weight × 100)
 *   --seconds  stop each property after this long (default: no limit)
 */
import * as fs from 'node:fs';

import fc from 'fast-check';

import { describeInstance, instanceArbitrary } from './instances';
import { nativeCaseArbitrary, runNative } from './native_cases';
import { opCaseArbitrary, runOp } from './op_cases';
import { invalidCaseArbitrary, runInvalid, runValid, validCaseArbitrary } from './structure_cases';
import { tensorCaseArbitrary, runTensorCase } from './tensor_cases';

/** One fuzzed property: cases of T, a runner that throws on a failure, and a one-line description of a case. */
interface Property<T> {
  name: string;
  /** Share of the cases (runs = weight × --runs / 100). */
  weight: number;
  arbitrary: fc.Arbitrary<T>;
  run(c: T): Promise<unknown>;
  describe(c: T): string;
}

function property<T>(p: Property<T>): Property<unknown> {
  return p as unknown as Property<unknown>;
}

const properties: Property<unknown>[] = [
  property({
    name: 'structures, valid calls',
    weight: 100,
    arbitrary: validCaseArbitrary(instanceArbitrary()),
    run: runValid,
    describe: (c) => `${c.method} seed ${c.seed} ${describeInstance(c.inst)}`,
  }),
  property({
    name: 'structures, invalid calls',
    weight: 100,
    arbitrary: invalidCaseArbitrary(instanceArbitrary()),
    run: runInvalid,
    describe: (c) => `${c.method} / ${c.mutation} seed ${c.seed} ${describeInstance(c.inst)}`,
  }),
  property({
    name: 'categorical ops',
    weight: 60,
    arbitrary: opCaseArbitrary,
    run: runOp,
    describe: (c) => JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'bigint' ? `${v}n` : v)),
  }),
  property({
    name: 'N-API boundary',
    weight: 60,
    arbitrary: nativeCaseArbitrary,
    run: runNative,
    describe: (c) => c.description,
  }),
  property({
    name: 'tensors',
    weight: 20,
    arbitrary: tensorCaseArbitrary,
    run: runTensorCase,
    describe: (c) => c.description,
  }),
];

interface Options {
  runs: number;
  seed: number;
  only?: string;
  seconds?: number;
  progress?: string;
}

function parseOptions(argv: string[]): Options {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    runs: Number(value('--runs') ?? 100),
    seed: Number(value('--seed') ?? 1),
    only: value('--only'),
    seconds: value('--seconds') === undefined ? undefined : Number(value('--seconds')),
    progress: value('--progress'),
  };
}

interface PropertyReport {
  name: string;
  cases: number;
  seconds: number;
  failure?: string;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (process.env.LATENT_STRUCT_FUZZ_SELF_TEST === 'abort') {
    // fuzz.test.ts checks that a crash in a case is reported with that case.
    if (options.progress) fs.writeFileSync(options.progress, 'self test #1: process.abort()\n');
    process.abort();
  }
  const reports: PropertyReport[] = [];
  const started = Date.now();
  for (const p of properties) {
    if (options.only && !p.name.includes(options.only)) continue;
    let cases = 0;
    const begin = Date.now();
    const check = fc.asyncProperty(p.arbitrary, async (c) => {
      cases++;
      if (options.progress) fs.writeFileSync(options.progress, `${p.name} #${cases}: ${p.describe(c)}\n`);
      await p.run(c);
    });
    const report: PropertyReport = { name: p.name, cases: 0, seconds: 0 };
    try {
      await fc.assert(check, {
        seed: options.seed,
        numRuns: Math.max(1, Math.round((p.weight * options.runs) / 100)),
        interruptAfterTimeLimit: options.seconds === undefined ? undefined : options.seconds * 1000,
        markInterruptAsFailure: false,
        includeErrorInReport: true,
      });
    } catch (error) {
      report.failure = String((error as Error).message).slice(0, 6000);
    }
    report.cases = cases;
    report.seconds = (Date.now() - begin) / 1000;
    reports.push(report);
    console.log(`${report.failure ? 'FAIL' : 'ok  '} ${p.name}: ${cases} cases in ${report.seconds.toFixed(1)} s`);
    if (report.failure) console.log(report.failure);
  }
  const summary = {
    seed: options.seed,
    runs: options.runs,
    cases: reports.reduce((n, r) => n + r.cases, 0),
    seconds: (Date.now() - started) / 1000,
    properties: reports,
  };
  console.log(`FUZZ SUMMARY ${JSON.stringify(summary)}`);
  process.exitCode = reports.some((r) => r.failure) ? 1 : 0;
}

void main();
