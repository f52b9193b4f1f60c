/**
 * Thread control of the CPU backend: setThreads / backendInfo().cpu.threads / LATENT_STRUCT_THREADS, results that do
 * not depend on the thread count, and coded errors for bad counts.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { DependencyCRF, LinearChainCRF, TreeCRF, backendInfo, setThreads } from '../lib';
import { errorCode, randomTensor, rng } from './helpers';

const initial = backendInfo().cpu.threads;
afterAll(() => setThreads(initial));

test('setThreads sets backendInfo().cpu.threads, and results are the same bit for bit at any count', () => {
  const chain = randomTensor([16, 12, 5, 5], rng(1));
  const spans = randomTensor([16, 10, 10], rng(2));
  const arcs = randomTensor([16, 9, 9], rng(3));
  const compute = (): number[][] => [
    Array.from(new LinearChainCRF(chain).marginals().data),
    Array.from(new TreeCRF(spans).marginals().data),
    Array.from(new DependencyCRF(arcs).marginals().data),
  ];
  const results = [1, 3, 2].map((n) => {
    setThreads(n);
    expect(backendInfo().cpu.threads).toBe(n);
    return compute();
  });
  expect(results[1]).toEqual(results[0]);
  expect(results[2]).toEqual(results[0]);
});

test('bad thread counts are coded errors and change nothing', () => {
  setThreads(2);
  for (const bad of [0, -1, 1.5, 1025, Number.NaN, Infinity]) expect(errorCode(() => setThreads(bad))).toBe('RangeError:ERR_OUT_OF_RANGE');
  for (const bad of ['2', null, undefined, {}]) expect(errorCode(() => setThreads(bad as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  expect(backendInfo().cpu.threads).toBe(2);
});

test('LATENT_STRUCT_THREADS sets the starting count; a bad value is ignored', () => {
  const threadsIn = (value: string): number => {
    const script = "process.stdout.write(String(require('./lib').backendInfo().cpu.threads))";
    const result = spawnSync(process.execPath, ['-r', './test/support/register_ts.js', '-e', script], {
      cwd: path.resolve(__dirname, '..'),
      encoding: 'utf8',
      env: { ...process.env, LATENT_STRUCT_THREADS: value },
    });
    expect(result.stderr).toBe('');
    return Number(result.stdout);
  };
  expect(threadsIn('3')).toBe(3);
  expect(threadsIn('1')).toBe(1);
  expect(threadsIn('zero')).toBeGreaterThanOrEqual(1);
});
