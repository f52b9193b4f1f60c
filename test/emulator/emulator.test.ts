/**
 * The emulated CUDA device (cuda/emulator/) reports what a GPU would show only as a hang, a fault or garbage, and
 * runs correct kernels exactly. Small kernels (test/emulator/kernels.cu, never part of cuda/) are compiled with the
 * emulator's runtime into a test program with the host compiler; each case runs in its own process.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { compile } from '../support/cxx';

const root = path.resolve(__dirname, '..', '..');
const sources = [path.join(__dirname, 'kernels.cu'), path.join(root, 'cuda', 'emulator', 'runtime.cc')];
const header = path.join(root, 'cuda', 'emulator', 'cuda_runtime.h');

/** The test program, compiled once per version of its sources (cached in the temp folder). */
function program(): string {
  const hash = createHash('sha256');
  for (const file of [...sources, header]) hash.update(fs.readFileSync(file));
  const binary = path.join(os.tmpdir(), `latent-struct-emulator-kernels-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(binary)) return binary;
  const partial = `${binary}.${process.pid}`;
  compile(['-std=c++17', '-O1', '-U_FORTIFY_SOURCE', `-I${path.dirname(header)}`, '-x', 'c++', sources[0], '-x', 'none',
    sources[1], '-o', partial, '-lpthread']);
  fs.renameSync(partial, binary);
  return binary;
}

let binary = '';
beforeAll(() => {
  binary = program();
}, 300_000);

/** What the program printed for one case (it exits 0 unless it crashed). */
function run(name: string, env: Record<string, string> = {}): string {
  const result = spawnSync(binary, [name], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return result.stdout;
}

describe('the emulated CUDA device reports broken kernels', () => {
  test('a __syncthreads() that only some threads reach', () => {
    expect(run('divergent-barrier')).toMatch(/cudaErrorLaunchFailure.*exited while others wait at __syncthreads/);
  });

  test('a shuffle over lanes that have exited', () => {
    expect(run('shuffle-after-exit')).toMatch(/cudaErrorLaunchFailure.*__shfl_down_sync exited while the other lanes wait/);
  });

  test('lanes of one warp at different collectives', () => {
    expect(run('split-collectives')).toMatch(/cudaErrorLaunchFailure.*meet at different collectives/);
  });

  test('a read one element past the end of an allocation, and the device works after it', () => {
    const out = run('read-past-end');
    expect(out).toMatch(/cudaErrorIllegalAddress.*0 bytes past the end of an allocation of 400 bytes \(thread \(99,0,0\)\)/);
    expect(out).toMatch(/after: 0 wrong/);
  });

  test('a read before the start of an allocation (guard page before it)', () => {
    const out = run('read-before-start', { LATENT_STRUCT_EMULATED_GUARD: 'before' });
    expect(out).toMatch(/cudaErrorIllegalAddress.*4 bytes before an allocation of 400 bytes \(thread \(0,0,0\)\)/);
    expect(out).toMatch(/after: 0 wrong/);
  });

  test('a read of pool memory nobody wrote gives NaN', () => {
    expect(run('unwritten-memory')).toMatch(/unwritten-memory: cudaSuccess\nsum: NaN/);
  });

  test('a host pointer passed to a kernel, as a parameter or inside a struct parameter', () => {
    expect(run('host-pointer')).toMatch(/cudaErrorInvalidDevicePointer.*parameter 0 is or holds the pointer .* outside every device allocation/);
    expect(run('struct-host-pointer')).toMatch(/cudaErrorInvalidDevicePointer.*kernel copy_inputs: parameter 0 is or holds the pointer/);
  });

  test('several devices (LATENT_STRUCT_EMULATED_DEVICES): memory and streams of another device, bad indices', () => {
    const two = { LATENT_STRUCT_EMULATED_DEVICES: '2' };
    expect(run('other-device-pointer', two)).toMatch(
      /cudaErrorInvalidDevicePointer.*parameter 0 is or holds the pointer .*memory of device 1, but the kernel runs on device 0/,
    );
    expect(run('other-device-stream', two)).toMatch(/cudaErrorInvalidResourceHandle.*stream belongs to device 1 but the current device is 0/);
    expect(run('devices', two)).toMatch(/count 2, set\(count\): cudaErrorInvalidDevice, current 1, used on 1: 1048576, used on 0: \d+/);
  });

  test('launch limits, device memory and copy bounds', () => {
    expect(run('too-many-threads')).toMatch(/cudaErrorInvalidConfiguration.*block \(2048,1,1\)/);
    expect(run('out-of-memory')).toMatch(/cudaErrorMemoryAllocation.*out of memory/);
    expect(run('copy-past-end')).toMatch(/cudaErrorInvalidValue.*runs past that allocation's end/);
  });
});

describe('the emulated CUDA device runs correct kernels exactly', () => {
  test.each(['forward', 'reverse', 'random:7'])('shared memory, shuffles, ballots, uneven warps, two host threads (%s order)', (order) => {
    const out = run('correct', { LATENT_STRUCT_EMULATED_SCHEDULE: order });
    expect(out).toMatch(/correct: 0 wrong/);
    expect(out).toMatch(/uneven-warps: cudaSuccess\nuneven-warps: 128 steps/);
    expect(out).toMatch(/threads: 0 wrong/);
  });
});
