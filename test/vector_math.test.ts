/**
 * The CPU backend's vector exp and log (cpp/cpu/vector_math), on every instruction set this CPU has: a test
 * program built from the addon's own sources measures their error against a more precise reference over the whole
 * range and checks the special values and the row reductions (test/native/vector_math.cc); the addon reports the
 * set it chose and honours LATENT_STRUCT_SIMD.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { backendInfo } from '../lib';
import { compile, compiler, compilerWorks } from './support/cxx';

const root = path.join(__dirname, '..');
const cpu = path.join(root, 'cpp', 'cpu');
const sources = ['vector_math.cc', 'vector_math_baseline.cc', 'vector_math_avx2.cc', 'vector_math_avx512.cc'].map((f) => path.join(cpu, f));

interface SetReport {
  isa: string;
  expFloat: number;
  expFloatAt: number;
  logFloat: number;
  logFloatAt: number;
  expDouble: number;
  expDoubleAt: number;
  logDouble: number;
  logDoubleAt: number;
}
interface Report {
  sets: SetReport[];
  inputs: number;
  failures: string[];
}

const haveCompiler = compilerWorks();
if (!haveCompiler) {
  // eslint-disable-next-line no-console
  console.log(`vector math accuracy tests skipped: no C++ compiler (${compiler})`);
}
const describeNative = haveCompiler ? describe : describe.skip;

describeNative('vector exp and log against the C library', () => {
  let report: Report;

  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-vector-math-'));
    try {
      const binary = path.join(dir, 'vector_math');
      compile(['-std=c++17', '-O2', path.join(__dirname, 'native', 'vector_math.cc'), ...sources, '-o', binary]);
      report = JSON.parse(execFileSync(binary, { encoding: 'utf8' })) as Report;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);

  test('special values are exact and the row reductions match plain loops at every length', () => {
    expect(report.failures).toEqual([]);
    expect(report.inputs).toBeGreaterThan(50_000_000);
  });

  test('every instruction set is within the stated ulp bounds over the whole range', () => {
    const isas = report.sets.map((s) => s.isa);
    expect(isas).toContain('baseline');
    if (process.arch === 'x64') expect(isas.length).toBeGreaterThanOrEqual(1);
    for (const s of report.sets) {
      // Bounds of cpp/cpu/vector_math.h (measured: exp 1.01 / 1.15, log 0.80 / 0.73).
      expect(s.expFloat).toBeLessThanOrEqual(1.5);
      expect(s.expDouble).toBeLessThanOrEqual(1.5);
      expect(s.logFloat).toBeLessThanOrEqual(1);
      expect(s.logDouble).toBeLessThanOrEqual(1);
    }
  });
});

describe('the addon’s choice of instruction set', () => {
  const modes = ['avx512', 'avx2', 'baseline'];

  test('backendInfo().cpu.simd names one of the sets', () => {
    expect(modes).toContain(backendInfo().cpu.simd);
  });

  test('LATENT_STRUCT_SIMD=baseline is honoured, and a set the CPU lacks or an unknown name falls back to the widest', () => {
    const script = "process.stdout.write(require('./dist/lib').backendInfo().cpu.simd)";
    const run = (value: string): string =>
      execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, LATENT_STRUCT_SIMD: value } });
    expect(run('baseline')).toBe('baseline');
    expect(run('no-such-set')).toBe(backendInfo().cpu.simd);
  });
});
