/**
 * The library from worker_threads (issue 9), run by concurrency.test.ts in a child process so that a crash fails
 * that test with this script's output. The main thread computes reference results with sync calls; four workers
 * load the addon themselves and compute the same with sync and async calls while the main thread runs async calls
 * too; every result must be bitwise equal. Then a worker is terminated while its async ops run, and the main thread
 * must go on. Prints `WORKERS {json}`; exits 1 on a mismatch.
 */
import * as path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { AlignmentCRF, DependencyCRF, HMM, LinearChainCRF, NonProjectiveDependencyCRF, SemiMarkovCRF, Tensor, TreeCRF, softmax, softmaxAsync } from '../../lib';
import { randomTensor, rng } from '../helpers';

/** The computations compared: name → sync and async forms over fixed inputs (the same in every thread). */
function computations(): Record<string, { sync: () => Float64Array; async: () => Promise<Float64Array> }> {
  const random = rng(20240601);
  const arcs = randomTensor([8, 24, 24], random, 3);
  const spans = randomTensor([8, 20, 20], random, 3);
  const edges = randomTensor([8, 15, 6, 6], random, 3);
  const rows = randomTensor([64, 50], random, 3);
  const segments = randomTensor([8, 15, 5, 3, 3], random, 3);
  const moves = randomTensor([8, 12, 14, 3], random, 3);
  const hmmParams = { transition: randomTensor([5, 5], random, 3), emission: randomTensor([7, 5], random, 3), init: randomTensor([5], random, 3) };
  const data = (t: unknown): Float64Array => (t as Tensor).data as Float64Array;
  const chain = new LinearChainCRF(edges);
  const tree = new TreeCRF(spans);
  const projective = new DependencyCRF(arcs);
  const nonprojective = new NonProjectiveDependencyCRF(arcs, { singleRoot: false });
  const semiMarkov = new SemiMarkovCRF(segments, { lengths: [16, 1, 2, 9, 16, 5, 12, 3] });
  const alignment = new AlignmentCRF(moves, { targetLengths: [14, 1, 3, 9, 14, 7, 2, 11] });
  const local = new AlignmentCRF(moves, { local: true });
  const hmm = new HMM(hmmParams, Array.from({ length: 8 }, (_, b) => Array.from({ length: 16 }, (__, n) => (b * 5 + n * 3) % 7)));
  return {
    'chain marginals': { sync: () => data(chain.marginals()), async: async () => data(await chain.marginalsAsync()) },
    'chain samples': { sync: () => data(chain.sample(4, { seed: 9 })), async: async () => data((await chain.sampleAsync(4, { seed: 9 })).parts) },
    'tree marginals': { sync: () => data(tree.marginals()), async: async () => data(await tree.marginalsAsync()) },
    'tree entropy': { sync: () => data(tree.entropy()), async: async () => data(await tree.entropyAsync()) },
    'dependency marginals': { sync: () => data(projective.marginals()), async: async () => data(await projective.marginalsAsync()) },
    'nonprojective log Z': { sync: () => data(nonprojective.logPartition()), async: async () => data(await nonprojective.logPartitionAsync()) },
    'nonprojective sparsemap': {
      sync: () => data(nonprojective.sparsemap({ maxActive: 8 }).marginals),
      async: async () => data((await nonprojective.sparsemapAsync({ maxActive: 8 })).marginals),
    },
    'semi-Markov marginals': { sync: () => data(semiMarkov.marginals()), async: async () => data(await semiMarkov.marginalsAsync()) },
    'semi-Markov samples': { sync: () => data(semiMarkov.sample(3, { seed: 11 })), async: async () => data((await semiMarkov.sampleAsync(3, { seed: 11 })).parts) },
    'alignment marginals': { sync: () => data(alignment.marginals()), async: async () => data(await alignment.marginalsAsync()) },
    'local alignment entropy': { sync: () => data(local.entropy()), async: async () => data(await local.entropyAsync()) },
    'HMM log Z': { sync: () => data(hmm.logPartition()), async: async () => data(await hmm.logPartitionAsync()) },
    softmax: { sync: () => data(softmax(rows)), async: async () => data(await softmaxAsync(rows)) },
  };
}

type Results = Record<string, number[]>;

/** Each computation's sync result, then `rounds` async rounds of all of them at once; all as plain arrays. */
async function computeAll(rounds: number): Promise<{ sync: Results; async: Results[] }> {
  const table = computations();
  const sync: Results = {};
  for (const [name, c] of Object.entries(table)) sync[name] = Array.from(c.sync());
  const asyncRounds: Results[] = [];
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(table);
    const values = await Promise.all(names.map((name) => table[name].async()));
    asyncRounds.push(Object.fromEntries(names.map((name, i) => [name, Array.from(values[i])])));
  }
  return { sync, async: asyncRounds };
}

function spawn(role: 'compute' | 'busy'): Worker {
  const register = path.join(__dirname, '..', 'support', 'register_ts.js');
  return new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(__filename)});`, { eval: true, workerData: { role } });
}

function mismatches(expected: Results, actual: Results, where: string): string[] {
  return Object.keys(expected).flatMap((name) => {
    const e = expected[name];
    const a = actual[name];
    if (!a || a.length !== e.length) return [`${where} ${name}: ${a?.length} values, expected ${e.length}`];
    const i = a.findIndex((v, k) => !Object.is(v, e[k]));
    return i < 0 ? [] : [`${where} ${name}[${i}] = ${a[i]}, expected ${e[i]}`];
  });
}

async function main(): Promise<void> {
  const reference = await computeAll(0);
  const workers = Array.from({ length: 4 }, () => spawn('compute'));
  const fromWorkers = workers.map(
    (w) =>
      new Promise<{ sync: Results; async: Results[] }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  const onMain = await computeAll(3); // concurrently with the workers
  const results = await Promise.all(fromWorkers);
  await Promise.all(workers.map((w) => w.terminate()));
  const problems = [
    ...onMain.async.flatMap((r, i) => mismatches(reference.sync, r, `main thread, async round ${i}`)),
    ...results.flatMap((r, w) => [
      ...mismatches(reference.sync, r.sync, `worker ${w}, sync`),
      ...r.async.flatMap((round, i) => mismatches(reference.sync, round, `worker ${w}, async round ${i}`)),
    ]),
  ];

  // A worker terminated while its async ops run: the process and the main thread's ops go on.
  const busy = spawn('busy');
  await new Promise<void>((resolve) => busy.once('message', () => resolve()));
  await busy.terminate();
  const after = await computeAll(1);
  problems.push(...mismatches(reference.sync, after.async[0], 'main thread after a terminated worker'));

  const comparisons = (3 + 1 + 4 * 4) * Object.keys(reference.sync).length;
  console.log(`WORKERS ${JSON.stringify({ workers: workers.length, comparisons, problems })}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

async function worker(): Promise<void> {
  if ((workerData as { role: string }).role === 'busy') {
    const table = computations();
    const pending = Array.from({ length: 24 }, () => table['nonprojective sparsemap'].async());
    parentPort!.postMessage('started');
    await Promise.all(pending);
    return;
  }
  parentPort!.postMessage(await computeAll(4));
}

if (isMainThread) void main();
else void worker();
