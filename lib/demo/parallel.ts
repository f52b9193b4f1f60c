/**
 * The demo on worker threads: the units of a plan (one structure's task of one repeat, trained with one estimator)
 * go to the first free worker; results are put back in table order, and each unit depends only on its seeds, so
 * the table is the same for any number of workers (only the timings differ).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DemoOptions, DemoReport, UnitResult, assembleReport, demoUnits, planDemo, runDemo } from './run';
import type { FromWorker } from './worker';

/** The compiled worker script; absent when this module runs from TypeScript source (ts-jest, ts-node). */
const WORKER_SCRIPT = path.join(__dirname, 'worker.js');

/** The worker threads a run uses by default: one per CPU core. */
export function defaultWorkers(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Whether {@link runDemoParallel} can start workers here (the compiled worker script exists). */
export function workersAvailable(): boolean {
  return fs.existsSync(WORKER_SCRIPT);
}

/**
 * {@link runDemo} on up to `workers` worker threads (default: one per core, at most one per unit). With one worker,
 * or from TypeScript source where there is no compiled worker script, it runs on this thread.
 */
export async function runDemoParallel(options: DemoOptions & { workers?: number } = {}): Promise<DemoReport> {
  const started = Date.now();
  const plan = planDemo(options);
  const units = demoUnits(plan);
  const count = Math.min(options.workers ?? defaultWorkers(), units.length);
  if (count <= 1 || !workersAvailable()) return runDemo(options);
  const { size, seed, repeats, backend, learningRate } = plan;
  const results: UnitResult[] = new Array(units.length);
  let next = 0;
  let finished = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      workers.forEach((w) => void w.terminate());
      reject(error);
    };
    for (let w = 0; w < count; w++) {
      const worker = new Worker(WORKER_SCRIPT, { workerData: { size, seed, repeats, backend, learningRate } });
      workers.push(worker);
      let current = -1;
      const give = () => {
        if (next < units.length) worker.postMessage(units[(current = next++)]);
        else worker.postMessage(null);
      };
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'progress') {
          done += message.steps;
          // The last step's call is the one below, once every unit's result is in.
          if (done < plan.totalSteps) options.onProgress?.(done, plan.totalSteps, message.label);
        } else if (message.type === 'result') {
          results[current] = message.result;
          if (++finished === units.length) {
            options.onProgress?.(plan.totalSteps, plan.totalSteps, 'done');
            resolve();
          }
          give();
        } else {
          const error = new (message.name === 'TypeError' ? TypeError : message.name === 'RangeError' ? RangeError : Error)(message.message);
          if (message.code) (error as Error & { code?: string }).code = message.code;
          fail(error);
        }
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0 && finished < units.length) fail(new Error(`a demo worker thread exited with code ${code}`));
      });
      give();
    }
  });
  return assembleReport(plan, results, (Date.now() - started) / 1e3);
}
