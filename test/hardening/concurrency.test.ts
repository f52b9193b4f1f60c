/**
 * Concurrency (issue 9): Promise forms called concurrently from many async tasks give the sync results bit for bit;
 * so do worker_threads loading the addon themselves (workers.ts, in a child process); and the event loop keeps
 * turning while a long async op runs (counted, not timed: the turns of a setImmediate chain before the Promise
 * settles, which the sync form of the same op, run as the control, leaves at exactly 0).
 */
import * as path from 'node:path';

import { AlignmentCRF, DependencyCRF, HMM, LinearChainCRF, NonProjectiveDependencyCRF, SemiMarkovCRF, SentCFG, Tensor, TreeCRF } from '../../lib';
import { randomTensor, rng } from '../helpers';
import { describeFailure, runTypeScript } from '../support/isolated';

const data = (t: unknown): number[] => Array.from((t as Tensor).data);

test('64 async tasks at once give the results of sequential sync calls', async () => {
  const random = rng(7);
  const chain = new LinearChainCRF(randomTensor([4, 11, 5, 5], random, 2), { lengths: [12, 3, 7, 12] });
  const tree = new TreeCRF(randomTensor([4, 14, 14], random, 2), { lengths: [14, 2, 9, 1] });
  const projective = new DependencyCRF(randomTensor([4, 16, 16], random, 2));
  const nonprojective = new NonProjectiveDependencyCRF(randomTensor([4, 16, 16], random, 2));
  const semiMarkov = new SemiMarkovCRF(randomTensor([4, 13, 4, 3, 3], random, 2), { lengths: [14, 1, 6, 9] });
  const alignment = new AlignmentCRF(randomTensor([4, 9, 12, 3], random, 2), { lengths: [9, 1, 4, 7], targetLengths: [12, 5, 1, 8] });
  const local = new AlignmentCRF(randomTensor([4, 9, 12, 3], random, 2), { local: true });
  const hmm = new HMM(
    { transition: randomTensor([4, 4], random, 2), emission: randomTensor([6, 4], random, 2), init: randomTensor([4], random, 2) },
    Array.from({ length: 4 }, (_, b) => Array.from({ length: 10 }, (__, n) => (b * 7 + n * 3) % 6)),
    { lengths: [10, 2, 7, 1] },
  );
  const cfg = new SentCFG(
    { terms: randomTensor([4, 7, 3], random, 2), rules: randomTensor([4, 2, 5, 5], random, 2), roots: randomTensor([4, 2], random, 2) },
    { lengths: [7, 2, 5, 3] },
  );
  const calls: [string, () => number[], () => Promise<number[]>][] = [
    ['chain marginals', () => data(chain.marginals()), async () => data(await chain.marginalsAsync())],
    ['chain samples', () => data(chain.sample(3, { seed: 5 })), async () => data((await chain.sampleAsync(3, { seed: 5 })).parts)],
    ['tree log Z', () => data(tree.logPartition()), async () => data(await tree.logPartitionAsync())],
    ['tree argmax', () => data(tree.argmax()), async () => data((await tree.argmaxAsync()).parts)],
    ['projective entropy', () => data(projective.entropy()), async () => data(await projective.entropyAsync())],
    ['projective sparsemap', () => data(projective.sparsemap().marginals), async () => data((await projective.sparsemapAsync()).marginals)],
    ['nonprojective marginals', () => data(nonprojective.marginals()), async () => data(await nonprojective.marginalsAsync())],
    ['nonprojective perturbAndMap', () => data(nonprojective.perturbAndMap({ seed: 3 })), async () => data((await nonprojective.perturbAndMapAsync({ seed: 3 })).parts)],
    ['semi-Markov marginals', () => data(semiMarkov.marginals()), async () => data(await semiMarkov.marginalsAsync())],
    ['semi-Markov samples', () => data(semiMarkov.sample(3, { seed: 4 })), async () => data((await semiMarkov.sampleAsync(3, { seed: 4 })).parts)],
    ['alignment entropy', () => data(alignment.entropy()), async () => data(await alignment.entropyAsync())],
    ['alignment sparsemap', () => data(alignment.sparsemap().marginals), async () => data((await alignment.sparsemapAsync()).marginals)],
    ['local alignment argmax', () => data(local.argmax()), async () => data((await local.argmaxAsync()).parts)],
    ['HMM marginals', () => data(hmm.marginals().unary), async () => data((await hmm.marginalsAsync()).unary)],
    ['SentCFG marginals', () => data(cfg.marginals()), async () => data(await cfg.marginalsAsync())],
    ['SentCFG samples', () => data(cfg.sample(3, { seed: 6 })), async () => data((await cfg.sampleAsync(3, { seed: 6 })).parts)],
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

/**
 * Runs op and counts the turns of the event loop while its Promise is pending: a setImmediate chain that goes
 * round once per turn until the Promise settles. No clock is read, so a loaded machine (the OS scheduler starving
 * the main thread for a while) lowers the count but cannot take it to 0 while the op computes on another thread:
 * the main thread is runnable all along and gets its share of the CPU. An op that computes on the main thread
 * leaves no turn: its Promise has settled before the first immediate can run.
 */
async function turnsWhilePending<T>(op: () => Promise<T>): Promise<{ result: T; turns: number; ms: number }> {
  let settled = false;
  let turns = 0;
  const start = performance.now();
  const pending = op();
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  const turn = (): void => {
    if (settled) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  const result = await pending;
  return { result, turns, ms: performance.now() - start };
}

test('the event loop keeps turning during a long async op (and the sync form, the control, stops it)', async () => {
  // A fixed batch, not sized by a timing: 48 sentences of 200 tokens (three copies of 16 random ones, which are slow
  // to draw), about 85 ms for one call on a quiet 2-core machine and longer when loaded; the count below needs no
  // particular length.
  const small = randomTensor([16, 200, 200], rng(3), 2);
  const scores = new Float64Array(3 * small.size);
  for (let c = 0; c < 3; c++) scores.set(small.data, c * small.size);
  const crf = new NonProjectiveDependencyCRF(new Tensor(scores, [48, 200, 200]));
  const syncRun = await turnsWhilePending(async () => crf.marginals());
  const asyncRun = await turnsWhilePending(() => crf.marginalsAsync());
  // Reported, not asserted: the times depend on the machine and its load (`npm run bench` has the op's figures).
  // eslint-disable-next-line no-console
  console.log(
    `event loop: ${asyncRun.turns} turns during async marginals (${asyncRun.ms.toFixed(0)} ms), ` +
      `${syncRun.turns} during the sync call (${syncRun.ms.toFixed(0)} ms)`,
  );
  // The control: the measure fails an op that computes on the main thread.
  expect(syncRun.turns).toBe(0);
  // The async op left the loop free while it computed: many turns, where the control has none. Thousands on a
  // quiet machine (a turn costs microseconds); 100 is far below what any fair share of a core gives the main thread
  // during tens of ms of work on another thread, however loaded the machine.
  expect(asyncRun.turns).toBeGreaterThanOrEqual(100);
  // And it computed what the sync call computes, bit for bit.
  const got = (asyncRun.result as Tensor).data;
  const want = (syncRun.result as Tensor).data;
  expect(got.length).toBe(want.length);
  let firstDifference = -1;
  for (let i = 0; i < got.length && firstDifference < 0; i++) if (!Object.is(got[i], want[i])) firstDifference = i;
  expect(firstDifference).toBe(-1);
});
