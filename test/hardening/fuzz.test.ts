/**
 * The hardening fuzz (issue 9) in CI: test/hardening/fuzz/run.ts in a child process, so that a native crash fails
 * this test with the case that caused it. `npm test` runs a seeded subset (--runs 20000: about 68,000 cases);
 * LATENT_STRUCT_LONG=1 runs the long one (--runs 1000000: about 3.4 million), as does `npm run fuzz`;
 * LATENT_STRUCT_FUZZ_RUNS sets the CI count (`npm run test:emulated` runs fewer, each compared with emulated CUDA).
 * LATENT_STRUCT_FUZZ_SEED picks another seed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ChildResult, describeFailure, runTypeScript } from '../support/isolated';

const runner = path.join(__dirname, 'fuzz', 'run.ts');
const long = process.env.LATENT_STRUCT_LONG === '1';
const runs = long ? 1_000_000 : Number(process.env.LATENT_STRUCT_FUZZ_RUNS ?? 20_000);
const seed = process.env.LATENT_STRUCT_FUZZ_SEED ?? '1';

interface Summary {
  cases: number;
  seconds: number;
  properties: { name: string; cases: number; seconds: number; failure?: string }[];
}

/** Runs the fuzz; returns the child's result, its summary (absent after a crash) and the last case it started. */
function fuzz(args: string[], env: Record<string, string> = {}): { result: ChildResult; summary?: Summary; lastCase: string } {
  const progress = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'latent-struct-fuzz-')), 'progress.txt');
  const result = runTypeScript(runner, [...args, '--progress', progress], { env, timeoutMs: long ? 3_600_000 : 600_000 });
  const line = result.stdout.split('\n').find((l) => l.startsWith('FUZZ SUMMARY '));
  const lastCase = fs.existsSync(progress) ? fs.readFileSync(progress, 'utf8').trim() : '(none)';
  fs.rmSync(path.dirname(progress), { recursive: true, force: true });
  return { result, summary: line ? (JSON.parse(line.slice('FUZZ SUMMARY '.length)) as Summary) : undefined, lastCase };
}

test(
  `fuzz of every public function (${long ? 'long' : 'CI'} run, seed ${seed}): no crash, coded errors, invariants hold`,
  () => {
    const { result, summary, lastCase } = fuzz(['--runs', String(runs), '--seed', seed]);
    if (!summary || result.signal || (result.status !== 0 && result.status !== 1)) {
      throw new Error(`${describeFailure(result)}\n--- the case that was running\n${lastCase}`);
    }
    // eslint-disable-next-line no-console
    console.log(`fuzz: ${summary.cases} cases in ${summary.seconds.toFixed(1)} s\n${summary.properties.map((p) => `  ${p.name}: ${p.cases} cases, ${p.seconds.toFixed(1)} s`).join('\n')}`);
    const failures = summary.properties.filter((p) => p.failure).map((p) => `${p.name}:\n${p.failure}`);
    expect(failures).toEqual([]);
    expect(result.status).toBe(0);
  },
  long ? 3_600_000 : 600_000,
);

test('a native crash during the fuzz fails with the case that was running', () => {
  const { result, summary, lastCase } = fuzz(['--runs', '1'], { LATENT_STRUCT_FUZZ_SELF_TEST: 'abort' });
  expect(result.signal).toBe('SIGABRT');
  expect(summary).toBeUndefined();
  expect(lastCase).toMatch(/self test #1/);
});
