/**
 * Concurrency (issue 9): Promise forms called concurrently from many async tasks give the sync results bit for bit;
 * so do worker_threads loading the addon themselves (workers.ts, in a child process); and the event loop stays
 * responsive while a long async op runs (measured: the longest gap between 1 ms timer ticks).
 */
import * as path from 'node:path';

import { DependencyCRF, LinearChainCRF, NonProjectiveDependencyCRF, Tensor, TreeCRF } from '../../lib';
import { randomTensor, rng } from '../helpers';
import { describeFailure, runTypeScript } from '../support/isolated';

const data = (t: unknown): number[] => Array.from((t as Tensor).data);

test('64 async tasks at once give the results of sequential sync calls', async () => {
  const random = rng(7);
  const chain = new LinearChainCRF(randomTensor([4, 11, 5, 5], random, 2), { lengths: [12, 3, 7, 12] });
  const tree = new TreeCRF(randomTensor([4, 14, 14], random, 2), { lengths: [14, 2, 9, 1] });
  const projective = new DependencyCRF(randomTensor([4, 16, 16], random, 2));
  const nonprojective = new NonProjectiveDependencyCRF(randomTensor([4, 16, 16], random, 2));
  const calls: [string, () => number[], () => Promise<number[]>][] = [
    ['chain marginals', () => data(chain.marginals()), async () => data(await chain.marginalsAsync())],
    ['chain samples', () => data(chain.sample(3, { seed: 5 })), async () => data((await chain.sampleAsync(3, { seed: 5 })).parts)],
    ['tree log Z', () => data(tree.logPartition()), async () => data(await tree.logPartitionAsync())],
    ['tree argmax', () => data(tree.argmax()), async () => data((await tree.argmaxAsync()).parts)],
    ['projective entropy', () => data(projective.entropy()), async () => data(await projective.entropyAsync())],
    ['projective sparsemap', () => data(projective.sparsemap().marginals), async () => data((await projective.sparsemapAsync()).marginals)],
    ['nonprojective marginals', () => data(nonprojective.marginals()), async () => data(await nonprojective.marginalsAsync())],
    ['nonprojective perturbAndMap', () => data(nonprojective.perturbAndMap({ seed: 3 })), async () => data((await nonprojective.perturbAndMapAsync({ seed: 3 })).parts)],
  ];
  const expected = calls.map(([, sync]) => sync());
  const tasks = Array.from({ length: 64 }, (_, i) => i % calls.length);
  const results = await Promise.all(tasks.map(async (k) => calls[k][2]()));
  results.forEach((r, i) => expect({ call: calls[tasks[i]][0], r }).toEqual({ call: calls[tasks[i]][0], r: expected[tasks[i]] }));
});

test('worker_threads compute what the main thread computes, and a terminated worker harms nothing', () => {
  const result = runTypeScript(path.join(__dirname, 'workers.ts'));
  if (result.status !== 0) throw new Error(describeFailure(result));
  const line = result.stdout.split('\n').find((l) => l.startsWith('WORKERS '));
  const report = JSON.parse(line!.slice('WORKERS '.length)) as { comparisons: number; problems: string[] };
  expect(report.problems).toEqual([]);
  expect(report.comparisons).toBeGreaterThan(100);
});

/** Runs op while a 1 ms interval ticks; returns the op's time and the longest gap between ticks (ms). */
async function longestGap(op: () => Promise<unknown>): Promise<{ opMs: number; gapMs: number; ticks: number }> {
  let last = performance.now();
  let gap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    ticks++;
  }, 1);
  const start = performance.now();
  await op();
  const opMs = performance.now() - start;
  clearInterval(timer);
  return { opMs, gapMs: Math.max(gap, performance.now() - last), ticks };
}

test('the event loop stays responsive during a long async op', async () => {
  // A batch large enough that one call takes about 200 ms on this machine, however fast or loaded it is: the time
  // of 16 sentences, then that batch repeated.
  const small = randomTensor([16, 200, 200], rng(3), 2);
  const start = performance.now();
  new NonProjectiveDependencyCRF(small).marginals();
  const copies = Math.min(32, Math.max(1, Math.ceil(200 / (performance.now() - start))));
  const data = new Float64Array(copies * small.size);
  for (let c = 0; c < copies; c++) data.set(small.data, c * small.size);
  const crf = new NonProjectiveDependencyCRF(new Tensor(data, [16 * copies, 200, 200]));
  const asyncRun = await longestGap(() => crf.marginalsAsync());
  const syncRun = await longestGap(async () => crf.marginals());
  // eslint-disable-next-line no-console
  console.log(
    `event loop: async marginals ${asyncRun.opMs.toFixed(0)} ms with the longest timer gap ${asyncRun.gapMs.toFixed(1)} ms ` +
      `(${asyncRun.ticks} ticks); the sync call blocks it for ${syncRun.gapMs.toFixed(0)} ms`,
  );
  expect(asyncRun.opMs).toBeGreaterThan(100);
  expect(asyncRun.gapMs).toBeLessThan(Math.max(50, asyncRun.opMs / 5));
  expect(asyncRun.ticks).toBeGreaterThan(asyncRun.opMs / 20);
});
