/**
 * The float64 log behind the Gumbel noise (cpp/include/latent_struct/reproducible.h), which makes the noise
 * bit-identical on the CPU and CUDA backends: within 1 ulp of the C library's log and of a long-double
 * reference over the whole range (random doubles of every exponent, subnormals, 1 ± tiny, powers of two and
 * their neighbours, the Gumbel's own inputs), exact special values (±0, negatives, ±inf, NaN, 1), and the same
 * bits in every build configuration: plain, with FMA contraction forced on (-mfma -ffp-contract=fast), and
 * through the device branch (__dadd_rn / __dmul_rn, via the emulated CUDA device's header). The addon's
 * gumbelNoise on each backend must equal the test binary's noise bit for bit, and the addon's Gumbel
 * perturbation scale · (x + t·G) must equal the same three float64 operations done in JS (which never fuses).
 *
 * Why a test binary built here rather than a test-only export of the addon: the function is a header shared by
 * both backends, and the property that matters (no configuration of the compiler changes a bit) can only be
 * tested by compiling it in configurations the addon is not built in. It needs a C++ compiler ($CXX, else
 * c++), which building the addon needs anyway; without one the test says so and is skipped.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DeviceTensor, gumbelNoise } from '../lib';
import { perturbNative } from '../lib/structures/common';
import { fromNative } from '../lib/tensor';
import { backends, randomTensor, rng, toFloat32 } from './helpers';
import { compile, compiler, compilerWorks } from './support/cxx';

const root = path.join(__dirname, '..');
const source = path.join(__dirname, 'native', 'reproducible_log.cc');

interface Report {
  count: number;
  maxUlpsFromLibm: number;
  differFromLibm: number;
  maxUlpError: number;
  worstInput: string;
  referenceBits: number;
  hash: string;
  plainMulAddFused: boolean;
  deviceBranch: boolean;
  failure: string | null;
}

function bytesOf(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** FMA contraction flags for this machine, or null when its CPU cannot run FMA code. */
function fmaFlags(): string[] | null {
  if (process.arch === 'arm64') return ['-ffp-contract=fast'];  // FMA is part of the base ISA
  if (process.arch !== 'x64') return null;
  try {
    return /\bfma\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8')) ? ['-mfma', '-ffp-contract=fast'] : null;
  } catch {
    return null;
  }
}

const configurations: [string, string[]][] = [
  ['host', []],
  ...(fmaFlags() ? ([['host with FMA contraction', fmaFlags() as string[]]] as [string, string[]][]) : []),
  [
    'device branch (emulated __dadd_rn/__dmul_rn)',
    ['-U_FORTIFY_SOURCE', '-DLS_TEST_DEVICE_BRANCH', `-I${path.join(root, 'cuda', 'emulator')}`],
  ],
];

const haveCompiler = compilerWorks();
if (!haveCompiler) {
  // eslint-disable-next-line no-console
  console.log(`reproducible log tests skipped: no C++ compiler (${compiler})`);
}
const describeNative = haveCompiler ? describe : describe.skip;

const seed = 77;
const stream = 5;
const count = 100003;

describeNative('repro_log, the log of the Gumbel noise', () => {
  let dir: string;
  const reports = new Map<string, Report>();
  const noise = new Map<string, Float64Array>();

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-repro-log-'));
    configurations.forEach(([name, flags], i) => {
      const binary = path.join(dir, `repro_log_${i}`);
      compile(['-std=c++17', '-O2', ...flags, `-I${path.join(root, 'cpp', 'include')}`, source, '-o', binary]);
      const file = path.join(dir, `noise_${i}.bin`);
      const stdout = execFileSync(binary, [file, String(seed), String(stream), String(count)], { encoding: 'utf8' });
      reports.set(name, JSON.parse(stdout) as Report);
      const bytes = fs.readFileSync(file);
      noise.set(name, new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8));
    });
  }, 300000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each(configurations.map(([name]) => name))('%s: within 1 ulp over the whole range, exact special values', (name) => {
    const report = reports.get(name) as Report;
    expect(report.failure).toBeNull();
    expect(report.count).toBeGreaterThan(5_000_000);
    // At most one ulp from the C library's log (itself within about half an ulp) ...
    expect(report.maxUlpsFromLibm).toBeLessThanOrEqual(1);
    // ... and under one ulp from the exact value (fdlibm's bound; measured 0.851 on x86-64 glibc).
    if (report.referenceBits > 53) expect(report.maxUlpError).toBeLessThan(1);
  });

  test('every configuration gives the same bits, and the FMA one did contract what it could', () => {
    const hashes = new Set([...reports.values()].map((r) => r.hash));
    expect(hashes.size).toBe(1);
    const fma = reports.get('host with FMA contraction');
    if (fma) expect(fma.plainMulAddFused).toBe(true);
    expect(reports.get('host')?.plainMulAddFused).toBe(false);
    expect(reports.get('device branch (emulated __dadd_rn/__dmul_rn)')?.deviceBranch).toBe(true);
  });

  test.each(backends)('the addon draws the same float64 noise on %s', (device) => {
    const expected = noise.get('host') as Float64Array;
    const got = gumbelNoise([count], { seed, stream, dtype: 'float64', device }).toHost().data;
    // Compare bit patterns (toEqual on 100k doubles is slow and would call -0 and +0 equal anyway).
    expect(bytesOf(got).equals(bytesOf(expected))).toBe(true);
  });
});

describe.each(backends)('Gumbel perturbation on %s', (device) => {
  test('scale · (x + t·G) is the three float64 operations, unfused, rounded once', () => {
    const random = rng(16);
    const x64 = randomTensor([37, 29], random, 4);
    const [t, scale] = [0.37, 1 / 0.37];
    const g = gumbelNoise(x64.shape, { seed: 9, stream: 2, dtype: 'float64' }).toHost().data;
    for (const x of [x64, toFloat32(x64)]) {
      const placed = device === 'cuda' ? x.toDevice() : x;
      const result = fromNative(perturbNative(placed, 9, 2, t, scale), x.shape);
      const got = result.toHost().data;
      const round = x.data instanceof Float32Array ? Math.fround : (v: number) => v;
      const expected = Array.from(x.data, (v, i) => round(scale * (v + t * g[i])));
      expect(Array.from(got)).toEqual(expected);
      for (const d of [placed, result]) if (d instanceof DeviceTensor) d.dispose();
    }
  });
});
