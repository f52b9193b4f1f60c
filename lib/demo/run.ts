/**
 * The demo: trains the latent structured regression model (./model.ts) on each task (./tasks.ts) with estimators
 * of the three families, and reports downstream error, recovery of the hidden structure and time per step.
 */
import { rangeError } from '../errors';
import * as estimators from '../estimators';
import type { Estimator } from '../estimators/types';
import { native } from '../native';
import type { Device } from '../tensor';
import { Evaluation, LatentRegressionModel } from './model';
import { STRUCTURES, StructureName, TaskSizes, makeTask } from './tasks';

/** The estimator families of DESIGN.md. */
export type Family = 'relaxation' | 'surrogate' | 'probabilistic';

/** An estimator the demo can train with. */
export interface DemoEstimator {
  name: string;
  family: Family;
  /** A fresh estimator (stateful ones keep their seed and baseline per run). */
  make(seed: number): Estimator;
  /** Structures it needs (default: all). */
  only?: StructureName[];
}

/** Every estimator the demo trains with, by family. */
export const DEMO_ESTIMATORS: DemoEstimator[] = [
  { name: 'marginals', family: 'relaxation', make: () => estimators.marginals() },
  { name: 'sparsemap', family: 'relaxation', make: () => estimators.sparsemap() },
  { name: 'perturbedMarginals', family: 'relaxation', make: (seed) => estimators.perturbedMarginals({ temperature: 0.5, seed }) },
  { name: 'entmax15', family: 'relaxation', make: () => estimators.entmax15(), only: ['Categorical'] },
  { name: 'spigot', family: 'surrogate', make: () => estimators.spigot({ step: 1 }) },
  { name: 'perturbAndMap', family: 'surrogate', make: (seed) => estimators.perturbAndMap({ backward: 'marginals', seed }) },
  { name: 'straightThrough', family: 'surrogate', make: () => estimators.straightThrough({ backward: 'marginals' }) },
  { name: 'straightThroughIdentity', family: 'surrogate', make: () => estimators.straightThrough({ backward: 'identity' }) },
  { name: 'reinforce', family: 'probabilistic', make: (seed) => estimators.reinforce({ samples: 4, baseline: 'leaveOneOut', seed }) },
  { name: 'sparseMarginalization', family: 'probabilistic', make: () => estimators.sparseMarginalization() },
  { name: 'exactMarginalization', family: 'probabilistic', make: () => estimators.exactMarginalization(), only: ['Categorical'] },
  { name: 'rebar', family: 'probabilistic', make: (seed) => estimators.rebar({ temperature: 0.5, seed }), only: ['Categorical'] },
];

/** Sizes of a run: data and training. */
export interface DemoSize extends TaskSizes {
  epochs: number;
  batchSize: number;
}

/** The `--size` presets; `small` is the default (under 3 minutes on 2 CPU cores), `tiny` the CI smoke size. */
export const DEMO_SIZES: Record<'tiny' | 'small' | 'medium' | 'large', DemoSize> = {
  tiny: { train: 64, test: 32, length: 5, epochs: 2, batchSize: 16 },
  small: { train: 1024, test: 256, length: 8, epochs: 20, batchSize: 32 },
  medium: { train: 4096, test: 512, length: 12, epochs: 20, batchSize: 64 },
  large: { train: 8192, test: 1024, length: 16, epochs: 10, batchSize: 128 },
};

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Data and training sizes (default: `DEMO_SIZES.small`). */
  size?: DemoSize;
  /** Overrides the size's epochs. */
  epochs?: number;
  /** `'auto'` (default: CUDA when usable, else the CPU), `'cpu'` or `'cuda'` (an error when CUDA cannot run). */
  backend?: 'auto' | Device;
  /** Seed of data, weights and noise (default 1); repeat r uses seed + r. */
  seed?: number;
  /** Runs per (structure, estimator), each on new data and weights; the table reports their mean (default 3). */
  repeats?: number;
  /** Structures to train through (default: all). */
  structures?: StructureName[];
  /** Estimator names (default: all of {@link DEMO_ESTIMATORS} that fit each structure). */
  estimators?: string[];
  /** Adam's learning rate (default 0.05). */
  learningRate?: number;
  /** Called after every training step (for a progress bar): steps done and to do over the whole run. */
  onProgress?: (done: number, total: number, label: string) => void;
}

/** One row of the demo's table. */
export interface DemoRow {
  structure: StructureName;
  family: Family | 'untrained';
  estimator: string;
  /** Mean estimator objective over the last epoch (NaN for the untrained row), mean over the repeats. */
  trainLoss: number;
  /** Test MSE of the MAP prediction over Var(y), mean over the repeats. */
  testNormalizedMse: number;
  /** Fraction of the hidden structure recovered by the MAP on the test set, mean over the repeats. */
  recovery: number;
  /** The smallest and largest recovery of the repeats. */
  recoveryRange: [number, number];
  /** Median wall time of a training step over every step of the repeats, ms (NaN for the untrained row). */
  msPerStep: number;
  backend: Device;
}

/** What {@link runDemo} returns. */
export interface DemoReport {
  backend: Device;
  size: DemoSize;
  seed: number;
  repeats: number;
  tasks: { structure: StructureName; description: string }[];
  rows: DemoRow[];
  /** Wall time of the whole run, s. */
  seconds: number;
}

/** The backend a run uses. */
export function chooseBackend(requested: 'auto' | Device = 'auto'): Device {
  const cuda = native.backendInfo().cuda;
  if (requested === 'cpu') return 'cpu';
  if (requested === 'cuda' && !cuda.available) throw rangeError('ERR_NO_CUDA', `backend 'cuda' was requested but CUDA cannot run: ${cuda.reason}`);
  if (requested !== 'auto' && requested !== 'cuda') throw rangeError('ERR_OUT_OF_RANGE', `backend must be 'auto', 'cpu' or 'cuda', got ${String(requested)}`);
  return cuda.available ? 'cuda' : 'cpu';
}

/** The estimators of a run, from names (default or `'all'`: every one). */
export function selectEstimators(names?: string[]): DemoEstimator[] {
  if (names === undefined || names.includes('all')) return DEMO_ESTIMATORS;
  return names.map((name) => {
    const found = DEMO_ESTIMATORS.find((e) => e.name === name);
    if (!found) throw rangeError('ERR_OUT_OF_RANGE', `unknown estimator '${name}'; known: ${DEMO_ESTIMATORS.map((e) => e.name).join(', ')}`);
    return found;
  });
}

/**
 * Trains one model per (structure, estimator) and evaluates it, plus an untrained row per structure.
 *
 * @returns the table rows in structure order, families in order within each
 * @throws RangeError for an unknown structure or estimator, or `backend: 'cuda'` where CUDA cannot run
 */
export function runDemo(options: DemoOptions = {}): DemoReport {
  const started = Date.now();
  const size = { ...(options.size ?? DEMO_SIZES.small), ...(options.epochs !== undefined ? { epochs: options.epochs } : {}) };
  if (!(Number.isInteger(size.epochs) && size.epochs >= 1)) throw rangeError('ERR_OUT_OF_RANGE', `epochs must be an integer ≥ 1, got ${size.epochs}`);
  const seed = options.seed ?? 1;
  const repeats = options.repeats ?? 3;
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw rangeError('ERR_OUT_OF_RANGE', `repeats must be an integer ≥ 1, got ${repeats}`);
  const backend = chooseBackend(options.backend);
  const structures = options.structures ?? [...STRUCTURES];
  structures.forEach((s) => {
    if (!STRUCTURES.includes(s)) throw rangeError('ERR_OUT_OF_RANGE', `unknown structure '${s}'; known: ${STRUCTURES.join(', ')}`);
  });
  const chosen = selectEstimators(options.estimators);
  const runsOf = (structure: StructureName) => chosen.filter((e) => !e.only || e.only.includes(structure));
  const stepsPerRun = size.epochs * Math.ceil(size.train / size.batchSize);
  const total = repeats * structures.reduce((a, s) => a + runsOf(s).length, 0) * stepsPerRun;
  let done = 0;

  const rows: DemoRow[] = [];
  const descriptions: DemoReport['tasks'] = [];
  for (const structure of structures) {
    const tasks = Array.from({ length: repeats }, (_, r) => makeTask(structure, size, seed + r));
    descriptions.push({ structure, description: tasks[0].description });
    const untrained = tasks.map((task, r) => new LatentRegressionModel(task, seed + r, 0, backend).evaluate(task.test, size.batchSize));
    rows.push(summarize(structure, 'untrained', '—', untrained, [], [], backend));
    for (const estimator of runsOf(structure)) {
      const evaluations: Evaluation[] = [];
      const losses: number[] = [];
      const times: number[] = [];
      let name = estimator.name;
      tasks.forEach((task, r) => {
        const model = new LatentRegressionModel(task, seed + r, options.learningRate ?? 0.05, backend);
        const instance = estimator.make(seed + r);
        name = instance.name;
        let epochLoss = 0;
        for (let epoch = 0; epoch < size.epochs; epoch++) {
          epochLoss = 0;
          for (let start = 0; start < size.train; start += size.batchSize) {
            const batch = model.batch(task.train.slice(start, start + size.batchSize));
            const t0 = process.hrtime.bigint();
            epochLoss += model.trainStep(instance, batch) * batch.examples.length;
            times.push(Number(process.hrtime.bigint() - t0) / 1e6);
            options.onProgress?.(++done, total, `${structure} × ${name} (run ${r + 1}/${repeats}, epoch ${epoch + 1}/${size.epochs})`);
          }
        }
        losses.push(epochLoss / size.train);
        evaluations.push(model.evaluate(task.test, size.batchSize));
      });
      rows.push(summarize(structure, estimator.family, name, evaluations, losses, times, backend));
    }
  }
  return { backend, size, seed, repeats, tasks: descriptions, rows, seconds: (Date.now() - started) / 1e3 };
}

/** One table row from the repeats' evaluations, last-epoch losses and step times. */
function summarize(
  structure: StructureName,
  family: DemoRow['family'],
  estimator: string,
  evaluations: Evaluation[],
  losses: number[],
  times: number[],
  backend: Device,
): DemoRow {
  const mean = (values: number[]) => (values.length === 0 ? NaN : values.reduce((a, v) => a + v, 0) / values.length);
  const recoveries = evaluations.map((e) => e.recovery);
  return {
    structure,
    family,
    estimator,
    trainLoss: mean(losses),
    testNormalizedMse: mean(evaluations.map((e) => e.normalizedMse)),
    recovery: mean(recoveries),
    recoveryRange: [Math.min(...recoveries), Math.max(...recoveries)],
    msPerStep: times.length === 0 ? NaN : median(times),
    backend,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The report as a Markdown table with the tasks above it. */
export function formatReport(report: DemoReport): string {
  const { size } = report;
  const lines = [
    `latent-struct demo — backend ${report.backend}, seeds ${report.seed}..${report.seed + report.repeats - 1} (the mean of ${report.repeats} runs per row), ` +
      `${size.train} train / ${size.test} test instances, N ≤ ${size.length}, ${size.epochs} epochs of batches of ${size.batchSize}, ${report.seconds.toFixed(1)} s`,
    '',
    'Tasks (the target depends on a hidden structure; "recovery" compares the model\'s MAP with it):',
    ...report.tasks.map((t) => `  ${t.structure}: ${t.description}`),
    '',
    '| structure | family | estimator | train loss | test NMSE (MAP) | recovery (min–max) | ms/step | backend |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...report.rows.map(
      (r) =>
        `| ${r.structure} | ${r.family} | ${r.estimator} | ${Number.isNaN(r.trainLoss) ? '—' : r.trainLoss.toFixed(4)} | ${r.testNormalizedMse.toFixed(3)} | ` +
        `${(100 * r.recovery).toFixed(1)}% (${r.recoveryRange.map((v) => (100 * v).toFixed(0)).join('–')}) | ${Number.isNaN(r.msPerStep) ? '—' : r.msPerStep.toFixed(2)} | ${r.backend} |`,
    ),
    '',
    'NMSE: test mean squared error of the prediction from the MAP structure over the variance of the target (1 = predicting the mean).',
    'recovery: label accuracy up to a renaming of labels (Categorical, LinearChainCRF), fraction of true arcs (dependencies) or of true non-trivial spans (TreeCRF).',
  ];
  return lines.join('\n');
}
