/**
 * A worker thread of ./parallel.ts: takes units of a demo plan one at a time from its parent, trains each with
 * {@link runUnit} and posts the result back, with progress at a unit's first step, every 100 ms and at its end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DemoPlan, DemoUnit, TaskCache, runUnit } from './run';

/** What the parent sends: a unit to run, or `null` to stop. */
export type ToWorker = DemoUnit | null;
/** What a worker posts back. */
export type FromWorker =
  | { type: 'progress'; steps: number; label: string }
  | { type: 'result'; result: import('./run').UnitResult }
  | { type: 'error'; message: string; code?: string; name?: string };

const plan = workerData as Pick<DemoPlan, 'size' | 'seed' | 'repeats' | 'backend' | 'learningRate'>;
const tasks = new TaskCache(plan);
const port = parentPort!;

port.on('message', (unit: ToWorker) => {
  if (unit === null) {
    port.close();
    return;
  }
  let steps = 0;
  let last = -Infinity;
  let latest = '';
  try {
    const result = runUnit(plan, unit, tasks, (label) => {
      steps++;
      latest = label;
      const now = Date.now();
      if (now - last >= 100) {
        port.postMessage({ type: 'progress', steps, label } satisfies FromWorker);
        steps = 0;
        last = now;
      }
    });
    if (steps > 0) port.postMessage({ type: 'progress', steps, label: latest } satisfies FromWorker);
    port.postMessage({ type: 'result', result } satisfies FromWorker);
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown; name?: unknown };
    port.postMessage({
      type: 'error',
      message: String(e.message ?? error),
      code: typeof e.code === 'string' ? e.code : undefined,
      name: typeof e.name === 'string' ? e.name : undefined,
    } satisfies FromWorker);
  }
});
