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
import { LatentTask, STRUCTURES, StructureName, TaskSizes, makeTask } from './tasks';

/** The estimator families (docs/CONVENTIONS.md). */
export type Family = 'relaxation' | 'surrogate' | 'probabilistic';

/** An estimator the demo can train with. */
export interface DemoEstimator {
  name: string;
  family: Family;
  /** A fresh estimator (stateful ones keep their seed and baseline per run). */
  make(seed: number): Estimator;
  /** Structures it needs (default: all). */
  only?: StructureName[];
  /** Why it runs only on {@link only} (the reason a skipped pair reports). */
  why?: string;
}

/** Every estimator the demo trains with, by family. */
export const DEMO_ESTIMATORS: DemoEstimator[] = [
  { name: 'marginals', family: 'relaxation', make: () => estimators.marginals() },
  { name: 'sparsemap', family: 'relaxation', make: () => estimators.sparsemap() },
  { name: 'perturbedMarginals', family: 'relaxation', make: (seed) => estimators.perturbedMarginals({ temperature: 0.5, seed }) },
  {
    name: 'entmax15',
    family: 'relaxation',
    make: () => estimators.entmax15(),
    only: ['Categorical'],
    why: 'entmax15 maps scores onto the simplex of one categorical; it has no structured form',
  },
  { name: 'spigot', family: 'surrogate', make: () => estimators.spigot({ step: 1 }) },
  { name: 'perturbAndMap', family: 'surrogate', make: (seed) => estimators.perturbAndMap({ backward: 'marginals', seed }) },
  { name: 'straightThrough', family: 'surrogate', make: () => estimators.straightThrough({ backward: 'marginals' }) },
  { name: 'straightThroughIdentity', family: 'surrogate', make: () => estimators.straightThrough({ backward: 'identity' }) },
  { name: 'reinforce', family: 'probabilistic', make: (seed) => estimators.reinforce({ samples: 4, baseline: 'leaveOneOut', seed }) },
  { name: 'sparseMarginalization', family: 'probabilistic', make: () => estimators.sparseMarginalization() },
  {
    name: 'exactMarginalization',
    family: 'probabilistic',
    make: () => estimators.exactMarginalization(),
    only: ['Categorical'],
    why: 'exact marginalization sums the loss over every structure, which only a categorical has few enough of',
  },
  {
    name: 'rebar',
    family: 'probabilistic',
    make: (seed) => estimators.rebar({ temperature: 0.5, seed }),
    only: ['Categorical'],
    why: "REBAR's control variate is a Concrete (Gumbel-softmax) sample of one categorical",
  },
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
  /** The (structure, estimator) pairs asked for that do not run, with the reason (they have no row). */
  skipped: SkippedPair[];
  /** Wall time of the whole run, s. */
  seconds: number;
}

/** A (structure, estimator) pair of the options that the demo does not train, and why. */
export interface SkippedPair {
  structure: StructureName;
  estimator: string;
  reason: string;
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

/** A run's settings, resolved and checked: what {@link runDemo} and the worker threads of ./parallel.ts share. */
export interface DemoPlan {
  size: DemoSize;
  seed: number;
  repeats: number;
  backend: Device;
  learningRate: number;
  /** Per structure, the estimators that train on it (the untrained row comes first regardless). */
  runs: { structure: StructureName; estimators: DemoEstimator[] }[];
  skipped: SkippedPair[];
  /** Training steps of one (structure, estimator, repeat) run. */
  stepsPerRun: number;
  /** Training steps of the whole plan. */
  totalSteps: number;
}

/**
 * Resolves and checks the options of a run.
 *
 * @throws RangeError `ERR_OUT_OF_RANGE` for an unknown structure or estimator, bad sizes, or a selection where no
 *   estimator applies to any structure (nothing would train); `ERR_NO_CUDA` for `backend: 'cuda'` without CUDA
 */
export function planDemo(options: DemoOptions = {}): DemoPlan {
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
  const skipped: SkippedPair[] = [];
  const runs = structures.map((structure) => ({
    structure,
    estimators: chosen.filter((e) => {
      if (!e.only || e.only.includes(structure)) return true;
      skipped.push({ structure, estimator: e.name, reason: `${e.name} runs only on ${e.only.join(', ')}${e.why ? `: ${e.why}` : ''}` });
      return false;
    }),
  }));
  const trained = runs.reduce((a, r) => a + r.estimators.length, 0);
  if (trained === 0) {
    const reasons = [...new Set(skipped.map((p) => p.reason))];
    throw rangeError('ERR_OUT_OF_RANGE', `nothing to train: no estimator of [${chosen.map((e) => e.name).join(', ')}] applies to [${structures.join(', ')}] (${reasons.join('; ')})`);
  }
  const stepsPerRun = size.epochs * Math.ceil(size.train / size.batchSize);
  return { size, seed, repeats, backend, learningRate: options.learningRate ?? 0.05, runs, skipped, stepsPerRun, totalSteps: repeats * trained * stepsPerRun };
}

/** One unit of work: a structure's task of one repeat, trained with one estimator (or `null`: evaluated untrained). */
export interface DemoUnit {
  structure: StructureName;
  /** An estimator name of {@link DEMO_ESTIMATORS}, or `null` for the untrained model. */
  estimator: string | null;
  repeat: number;
}

/** What one unit yields. */
export interface UnitResult {
  /** The estimator instance's name (with its settings), `'—'` untrained. */
  name: string;
  /** Mean objective over the last epoch (NaN untrained). */
  loss: number;
  evaluation: Evaluation;
  /** Wall time of each training step, ms. */
  times: number[];
  /** The task's description. */
  description: string;
}

/** The units of a plan in table order: per structure the untrained model, then each estimator; repeats innermost. */
export function demoUnits(plan: DemoPlan): DemoUnit[] {
  const units: DemoUnit[] = [];
  for (const { structure, estimators: list } of plan.runs)
    for (const estimator of [null, ...list.map((e) => e.name)]) for (let repeat = 0; repeat < plan.repeats; repeat++) units.push({ structure, estimator, repeat });
  return units;
}

/** The tasks of a plan, made on first use; keeps those of one structure (the repeats') at a time. */
export class TaskCache {
  private structure?: StructureName;
  private readonly tasks = new Map<number, LatentTask>();

  constructor(private readonly plan: Pick<DemoPlan, 'size' | 'seed'>) {}

  get(structure: StructureName, repeat: number): LatentTask {
    if (structure !== this.structure) {
      this.tasks.clear();
      this.structure = structure;
    }
    let task = this.tasks.get(repeat);
    if (!task) {
      task = makeTask(structure, this.plan.size, this.plan.seed + repeat);
      this.tasks.set(repeat, task);
    }
    return task;
  }
}

/**
 * Trains (or only evaluates) one unit. Its numbers depend only on the plan and the unit (the seeds are
 * seed + repeat), never on which thread runs it or in what order, so a parallel run gives the same table.
 *
 * @param onStep called after each training step with a label of where the unit is
 */
export function runUnit(
  plan: Pick<DemoPlan, 'size' | 'seed' | 'repeats' | 'backend' | 'learningRate'>,
  unit: DemoUnit,
  tasks: TaskCache,
  onStep?: (label: string) => void,
): UnitResult {
  const { size, seed, backend } = plan;
  const task = tasks.get(unit.structure, unit.repeat);
  const r = unit.repeat;
  if (unit.estimator === null) {
    const model = new LatentRegressionModel(task, seed + r, 0, backend);
    return { name: '—', loss: NaN, evaluation: model.evaluate(task.test, size.batchSize), times: [], description: task.description };
  }
  const estimator = selectEstimators([unit.estimator])[0];
  const model = new LatentRegressionModel(task, seed + r, plan.learningRate, backend);
  const instance = estimator.make(seed + r);
  const times: number[] = [];
  let epochLoss = 0;
  for (let epoch = 0; epoch < size.epochs; epoch++) {
    epochLoss = 0;
    for (let start = 0; start < size.train; start += size.batchSize) {
      const batch = model.batch(task.train.slice(start, start + size.batchSize));
      const t0 = process.hrtime.bigint();
      epochLoss += model.trainStep(instance, batch) * batch.examples.length;
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      onStep?.(`${unit.structure} × ${instance.name} (run ${r + 1}/${plan.repeats}, epoch ${epoch + 1}/${size.epochs})`);
    }
  }
  return { name: instance.name, loss: epochLoss / size.train, evaluation: model.evaluate(task.test, size.batchSize), times, description: task.description };
}

/** The report from every unit's result, in the order of {@link demoUnits}. */
export function assembleReport(plan: DemoPlan, results: UnitResult[], seconds: number): DemoReport {
  const rows: DemoRow[] = [];
  const descriptions: DemoReport['tasks'] = [];
  let i = 0;
  for (const { structure, estimators: list } of plan.runs) {
    descriptions.push({ structure, description: results[i].description });
    for (const estimator of [null, ...list]) {
      const mine = results.slice(i, i + plan.repeats);
      i += plan.repeats;
      rows.push(
        summarize(
          structure,
          estimator ? estimator.family : 'untrained',
          mine[0].name,
          mine.map((u) => u.evaluation),
          estimator ? mine.map((u) => u.loss) : [],
          mine.flatMap((u) => u.times),
          plan.backend,
        ),
      );
    }
  }
  return { backend: plan.backend, size: plan.size, seed: plan.seed, repeats: plan.repeats, tasks: descriptions, rows, skipped: plan.skipped, seconds };
}

/**
 * Trains one model per (structure, estimator) and evaluates it, plus an untrained row per structure, on this
 * thread ({@link runDemoParallel} of ./parallel.ts spreads the same work over worker threads).
 *
 * @returns the table rows in structure order, families in order within each; the pairs skipped, with why
 * @throws RangeError for an unknown structure or estimator, a selection where nothing trains, or
 *   `backend: 'cuda'` where CUDA cannot run
 */
export function runDemo(options: DemoOptions = {}): DemoReport {
  const started = Date.now();
  const plan = planDemo(options);
  const tasks = new TaskCache(plan);
  let done = 0;
  const results = demoUnits(plan).map((unit) => runUnit(plan, unit, tasks, (label) => options.onProgress?.(++done, plan.totalSteps, label)));
  return assembleReport(plan, results, (Date.now() - started) / 1e3);
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

/** The skipped pairs, one line per estimator and reason: `Skipped: entmax15 on TreeCRF, DependencyCRF (why)`. */
export function formatSkipped(skipped: SkippedPair[]): string[] {
  const groups = new Map<string, SkippedPair[]>();
  for (const pair of skipped) {
    const key = `${pair.estimator}\u0000${pair.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), pair]);
  }
  return [...groups.values()].map((pairs) => `Skipped: ${pairs[0].estimator} on ${pairs.map((p) => p.structure).join(', ')} (${pairs[0].reason})`);
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
    ...(report.skipped.length > 0 ? ['', ...formatSkipped(report.skipped)] : []),
    '',
    'NMSE: test mean squared error of the prediction from the MAP structure over the variance of the target (1 = predicting the mean).',
    'recovery: label accuracy up to a renaming of labels (Categorical, LinearChainCRF), fraction of true arcs (dependencies), of true non-trivial spans (TreeCRF),',
    '  of true labelled segments up to a renaming of labels (SemiMarkovCRF) or of the true alignment\'s pairs other than the first and last (AlignmentCRF).',
  ];
  return lines.join('\n');
}
