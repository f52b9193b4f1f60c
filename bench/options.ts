/**
 * What a bench run measures: every suite's sizes and ops, timing, ceilings and the output folder, as one plain
 * (JSON-serializable) object, and the command line that builds it. Three presets: the full sizes of issues 3–6,
 * `--quick` (B = 32 only for the tree suites, 200 ms per row) and `--smoke` (tiny sizes, 2 runs, for CI).
 */
import type { DType } from '../lib';

/** The suites, in the order they run. */
export const SUITE_NAMES = ['categorical', 'chain', 'tree', 'dependency', 'nonprojective', 'semimarkov', 'alignment', 'sparsemap', 'steps'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** The structures of the SparseMAP suite. */
export const SPARSEMAP_STRUCTURES = ['chain', 'tree', 'dependency', 'nonprojective'] as const;
export type SparseMapStructure = (typeof SPARSEMAP_STRUCTURES)[number];

/** The structures of the steps suite (bench/steps.ts). */
export const STEP_STRUCTURES = ['chain', 'tree', 'dependency', 'semimarkov', 'alignment'] as const;
export type StepStructure = (typeof STEP_STRUCTURES)[number];
/** The estimators of the steps suite, as `--step-estimators` names them. */
export const STEP_ESTIMATOR_NAMES: readonly string[] = ['marginals', 'sparsemap', 'perturbAndMap', 'reinforce(k=4)'];

export type Preset = 'full' | 'quick' | 'smoke';

/** Runs per row for ops whose cost spans orders of magnitude: as many as fit in `budgetMs`, within [minReps, maxReps]. */
export interface BudgetedTiming {
  budgetMs: number;
  minReps: number;
  maxReps: number;
}

/** The ceilings that throughput is divided by for the roofline columns. */
export interface Ceilings {
  /** Memory bandwidth, GB/s. CPU: null = measured at the start of the run (large memcpys, bytes read + written). */
  cpuGbPerS: number | null;
  gpuGbPerS: number;
  /**
   * Exp throughput, G exp/s; null: measured (CPU: the vector exp on cache-resident data per thread count; GPU: the
   * rate of the library's logsumexp over `expCeilingShape`).
   */
  cpuExpGPerS: number | null;
  gpuExpGPerS: number | null;
  /** FP64 peak, GFLOP/s (nominal), for the Matrix-Tree elimination (double inside on both backends). */
  cpuGflopPerS: number;
  gpuGflopPerS: number;
}

export interface BenchOptions {
  preset: Preset;
  suites: SuiteName[];
  dtypes: DType[];
  /** Runs behind each median (after one warm-up) for the fixed-count suites: categorical, chain, sparsemap. */
  reps: number;
  /** Time CUDA too when a device is usable (false: CPU only). */
  cuda: boolean;
  /** Time the CPU on one thread too ('cpu (1 thread)' rows) when the addon has more than one (--no-one-thread: not). */
  oneThread: boolean;
  ceilings: Ceilings;
  /** [B, K] of the logsumexp batch that measures the exp ceiling. */
  expCeilingShape: [number, number];
  categorical: { sizes: Array<[number, number]>; ops: string[] };
  chain: { sizes: Array<[number, number, number]>; ops: string[] };
  /** (B, N, L): L > 1 for labelled trees `[B, N, N, L]`. */
  tree: { sizes: Array<[number, number, number]>; ops: string[] };
  dependency: { sizes: Array<[number, number]>; ops: string[] };
  nonprojective: { sizes: Array<[number, number]>; ops: string[] };
  /** Root constraints of both dependency suites. */
  roots: Array<'single' | 'multi'>;
  /** (B, N, K, C): SemiMarkovCRF edges `[B, N-1, K, C, C]` (bench/paths.ts). */
  semimarkov: { sizes: Array<[number, number, number, number]>; ops: string[] };
  /** (B, N, M): AlignmentCRF scores `[B, N, M, 3]`, global alignments (bench/paths.ts). */
  alignment: { sizes: Array<[number, number, number]>; ops: string[] };
  /** Timing of the tree, dependency, nonprojective, semimarkov and alignment suites. */
  treeTiming: BudgetedTiming;
  sparsemap: {
    /** (B, N) for every structure. */
    sizes: Array<[number, number]>;
    /** Labels C of the chain (edge potentials `[B, N−1, C, C]`). */
    chainLabels: number;
    structures: SparseMapStructure[];
    ops: string[];
  };
  /**
   * Full estimator steps (bench/steps.ts): structures × estimators, one size per structure — chain (B, N, C),
   * tree and dependency (B, N), semimarkov (B, N, K, C), alignment (B, N, M). Timed as the tree suites.
   */
  steps: {
    structures: StepStructure[];
    estimators: string[];
    chain: [number, number, number];
    tree: [number, number];
    dependency: [number, number];
    semimarkov: [number, number, number, number];
    alignment: [number, number, number];
  };
  /** Folder of bench.json, bench.md and throughput.svg. */
  outDir: string;
  /** An extra copy of bench.json (the older `--json FILE`), or null. */
  jsonPath: string | null;
}

export const CATEGORICAL_OPS: readonly string[] = ['logsumexp', 'softmax', 'softmaxBackward', 'sparsemax', 'entmax15', 'entmaxBisect(1.3)', 'argmax', 'gumbelSoftmax', 'gumbelMax(S=1)'];
export const STRUCTURE_OPS: readonly string[] = ['logPartition', 'marginals', 'marginalsBackward', 'entropy', 'argmax', 'sample(1)'];
export const SPARSEMAP_OPS: readonly string[] = ['sparsemap', 'sparsemapBackward'];
/** The ops of the path suites (SemiMarkovCRF, AlignmentCRF); 'logPartition + marginals' is the two calls in a row. */
export const PATH_OPS: readonly string[] = ['logPartition', 'logPartition + marginals', 'marginals', 'marginalsBackward', 'entropy', 'argmax', 'sample(1)'];
/** What the full and quick presets time of them (the smoke preset: all). */
const PATH_DEFAULT_OPS = ['logPartition', 'logPartition + marginals', 'argmax'];
/** Matrix-Tree samples are exact but O(n⁴) (≈ 45 s per run at 256 × 128 on 2 cores), so the full preset leaves them out. */
const NONPROJECTIVE_FULL_OPS = STRUCTURE_OPS.filter((op) => op !== 'sample(1)');

function bySize(B: number[], N: number[]): Array<[number, number]> {
  return N.flatMap((n) => B.map((b) => [b, n] as [number, number]));
}

/**
 * The options of a preset: `full` the sizes of issues 3–6 (chains (32,25,20), (256,128,32), (1024,64,16); trees
 * and projective arcs N = 25, 64, 128 at B = 32, 128; non-projective at B = 32, 256; SparseMAP at B = 64, N = 20,
 * chain C = 10) and issue 19 (SemiMarkov (32,25,4,10); Alignment (32,25,25) and (8,1000,1000)), `quick` the same at
 * B = 32 for the tree suites and without the 1000 × 1000 alignments, `smoke` tiny sizes that finish in seconds.
 */
export function presetOptions(preset: Preset): BenchOptions {
  const smoke = preset === 'smoke';
  const quick = preset === 'quick';
  const treeSizes = smoke ? bySize([2, 4], [6, 10]) : quick ? bySize([32], [25, 64, 128]) : bySize([32, 128], [25, 64, 128]);
  return {
    preset,
    suites: [...SUITE_NAMES],
    dtypes: smoke ? ['float32', 'float64'] : ['float32'],
    reps: smoke ? 2 : 15,
    cuda: true,
    oneThread: true,
    ceilings: { cpuGbPerS: null, gpuGbPerS: 3000, cpuExpGPerS: null, gpuExpGPerS: null, cpuGflopPerS: 80, gpuGflopPerS: 30000 },
    expCeilingShape: smoke ? [8, 16384] : [64, 262144],
    categorical: {
      sizes: smoke ? [[4, 64], [16, 256]] : [[32, 1000], [1024, 128], [128, 32768], [8, 100000]],
      ops: [...CATEGORICAL_OPS],
    },
    chain: {
      sizes: smoke ? [[2, 6, 3], [4, 10, 4]] : [[32, 25, 20], [256, 128, 32], [1024, 64, 16]],
      ops: [...STRUCTURE_OPS],
    },
    tree: { sizes: [...treeSizes.map(([B, N]) => [B, N, 1] as [number, number, number]), ...(smoke ? [[2, 6, 3] as [number, number, number]] : [])], ops: [...STRUCTURE_OPS] },
    dependency: { sizes: treeSizes, ops: [...STRUCTURE_OPS] },
    nonprojective: {
      sizes: smoke || quick ? treeSizes : bySize([32, 256], [25, 64, 128]),
      ops: smoke ? [...STRUCTURE_OPS] : [...NONPROJECTIVE_FULL_OPS],
    },
    semimarkov: {
      sizes: smoke ? [[2, 6, 3, 3], [4, 10, 4, 4]] : [[32, 25, 4, 10]],
      ops: smoke ? [...PATH_OPS] : [...PATH_DEFAULT_OPS],
    },
    alignment: {
      sizes: smoke ? [[2, 6, 6], [4, 10, 8]] : quick ? [[32, 25, 25]] : [[32, 25, 25], [8, 1000, 1000]],
      ops: smoke ? [...PATH_OPS] : [...PATH_DEFAULT_OPS],
    },
    roots: smoke ? ['single', 'multi'] : ['single'],
    treeTiming: smoke ? { budgetMs: 0, minReps: 2, maxReps: 2 } : quick ? { budgetMs: 200, minReps: 2, maxReps: 15 } : { budgetMs: 1000, minReps: 3, maxReps: 15 },
    sparsemap: {
      sizes: smoke ? [[4, 6], [8, 8]] : [[64, 20]],
      chainLabels: smoke ? 3 : 10,
      structures: [...SPARSEMAP_STRUCTURES],
      ops: [...SPARSEMAP_OPS],
    },
    steps: {
      structures: [...STEP_STRUCTURES],
      estimators: [...STEP_ESTIMATOR_NAMES],
      chain: smoke ? [2, 6, 3] : [32, 25, 20],
      tree: smoke ? [2, 6] : [32, 25],
      dependency: smoke ? [2, 6] : [32, 25],
      semimarkov: smoke ? [2, 6, 3, 3] : [32, 25, 4, 10],
      alignment: smoke ? [2, 6, 6] : [32, 25, 25],
    },
    outDir: 'bench/results',
    jsonPath: null,
  };
}

/** Flags that take a value, and bare flags. */
const VALUE_FLAGS = [
  'suite', 'dtypes', 'reps', 'out', 'json',
  'sizes', 'ops', 'chain-sizes', 'chain-ops',
  'tree-sizes', 'tree-ops', 'dependency-sizes', 'dependency-ops', 'nonprojective-sizes', 'nonprojective-ops', 'dependency-roots',
  'semimarkov-sizes', 'semimarkov-ops', 'alignment-sizes', 'alignment-ops',
  'tree-reps', 'tree-budget-ms', 'tree-min-reps',
  'sparsemap-sizes', 'sparsemap-labels', 'sparsemap-structures', 'sparsemap-ops',
  'step-structures', 'step-estimators',
  'cpu-gbs', 'gpu-gbs', 'cpu-exp-gs', 'gpu-exp-gs', 'cpu-gflops', 'gpu-gflops', 'exp-ceiling-size',
] as const;
const BARE_FLAGS = ['smoke', 'quick', 'no-cuda', 'no-one-thread'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** The `--name value` pairs and bare `--name` flags of argv; unknown flags and missing values are errors. */
function readFlags(argv: readonly string[]): { values: Map<ValueFlag, string>; bare: Set<string> } {
  const values = new Map<ValueFlag, string>();
  const bare = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : '';
    if ((BARE_FLAGS as readonly string[]).includes(name)) {
      bare.add(name);
    } else if ((VALUE_FLAGS as readonly string[]).includes(name)) {
      if (i + 1 >= argv.length) throw new Error(`bench: --${name} needs a value`);
      values.set(name as ValueFlag, argv[++i]);
    } else {
      throw new Error(`bench: unknown argument ${argv[i]} (flags: ${[...VALUE_FLAGS, ...BARE_FLAGS].map((f) => `--${f}`).join(' ')})`);
    }
  }
  return { values, bare };
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function positive(text: string, flag: string): number {
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`bench: --${flag} must be a positive number, got ${text}`);
  return value;
}

function count(text: string, flag: string): number {
  const value = positive(text, flag);
  if (!Number.isInteger(value)) throw new Error(`bench: --${flag} must be a positive integer, got ${text}`);
  return value;
}

/** Sizes `AxB[xC],...` with between `min` and `max` positive integer dimensions each. */
function dims(text: string, flag: string, min: number, max: number): number[][] {
  return list(text).map((size) => {
    const parts = size.split('x').map((d) => count(d, flag));
    if (parts.length < min || parts.length > max) throw new Error(`bench: --${flag} size ${size} must have ${min === max ? min : `${min}-${max}`} dimensions`);
    return parts;
  });
}

function oneOf<T extends string>(values: string[], allowed: readonly T[], flag: string): T[] {
  for (const v of values) if (!(allowed as readonly string[]).includes(v)) throw new Error(`bench: --${flag} ${v} is not one of ${allowed.join(', ')}`);
  return values as T[];
}

/**
 * Bench options from command-line flags (argv without the node and script paths): the preset (`--smoke`,
 * `--quick`, else full) overridden flag by flag. As before the refactor, `--dependency-sizes` and
 * `--nonprojective-sizes` default to `--tree-sizes` when that is given, and `--dependency-ops` /
 * `--nonprojective-ops` to `--tree-ops`. Throws on unknown flags and malformed values.
 */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values, bare } = readFlags(argv);
  const options = presetOptions(bare.has('smoke') ? 'smoke' : bare.has('quick') ? 'quick' : 'full');
  const get = (flag: ValueFlag): string | undefined => values.get(flag);
  const set = <T>(flag: ValueFlag, apply: (text: string) => T, assign: (value: T) => void): void => {
    const text = get(flag);
    if (text !== undefined) assign(apply(text));
  };
  if (bare.has('no-cuda')) options.cuda = false;
  if (bare.has('no-one-thread')) options.oneThread = false;
  set('suite', (t) => oneOf(list(t), SUITE_NAMES, 'suite'), (v) => (options.suites = v));
  set('dtypes', (t) => oneOf(list(t), ['float32', 'float64'] as const, 'dtypes'), (v) => (options.dtypes = v));
  set('reps', (t) => count(t, 'reps'), (v) => (options.reps = v));
  set('out', (t) => t, (v) => (options.outDir = v));
  set('json', (t) => t, (v) => (options.jsonPath = v));
  set('sizes', (t) => dims(t, 'sizes', 2, 2) as Array<[number, number]>, (v) => (options.categorical.sizes = v));
  set('ops', (t) => oneOf(list(t), CATEGORICAL_OPS, 'ops'), (v) => (options.categorical.ops = v));
  set('chain-sizes', (t) => dims(t, 'chain-sizes', 3, 3) as Array<[number, number, number]>, (v) => (options.chain.sizes = v));
  set('chain-ops', (t) => oneOf(list(t), STRUCTURE_OPS, 'chain-ops'), (v) => (options.chain.ops = v));
  set('tree-sizes', (t) => dims(t, 'tree-sizes', 2, 3), (v) => {
    options.tree.sizes = v.map(([B, N, L = 1]) => [B, N, L]);
    options.dependency.sizes = v.map(([B, N]) => [B, N]);
    options.nonprojective.sizes = v.map(([B, N]) => [B, N]);
  });
  set('tree-ops', (t) => oneOf(list(t), STRUCTURE_OPS, 'tree-ops'), (v) => {
    options.tree.ops = v;
    options.dependency.ops = v;
    options.nonprojective.ops = v;
  });
  set('dependency-sizes', (t) => dims(t, 'dependency-sizes', 2, 2) as Array<[number, number]>, (v) => (options.dependency.sizes = v));
  set('nonprojective-sizes', (t) => dims(t, 'nonprojective-sizes', 2, 2) as Array<[number, number]>, (v) => (options.nonprojective.sizes = v));
  set('dependency-ops', (t) => oneOf(list(t), STRUCTURE_OPS, 'dependency-ops'), (v) => (options.dependency.ops = v));
  set('nonprojective-ops', (t) => oneOf(list(t), STRUCTURE_OPS, 'nonprojective-ops'), (v) => (options.nonprojective.ops = v));
  set('dependency-roots', (t) => oneOf(list(t), ['single', 'multi'] as const, 'dependency-roots'), (v) => (options.roots = v));
  set('semimarkov-sizes', (t) => dims(t, 'semimarkov-sizes', 4, 4) as Array<[number, number, number, number]>, (v) => (options.semimarkov.sizes = v));
  set('semimarkov-ops', (t) => oneOf(list(t), PATH_OPS, 'semimarkov-ops'), (v) => (options.semimarkov.ops = v));
  set('alignment-sizes', (t) => dims(t, 'alignment-sizes', 3, 3) as Array<[number, number, number]>, (v) => (options.alignment.sizes = v));
  set('alignment-ops', (t) => oneOf(list(t), PATH_OPS, 'alignment-ops'), (v) => (options.alignment.ops = v));
  set('tree-budget-ms', (t) => Number(t), (v) => {
    if (!(v >= 0)) throw new Error(`bench: --tree-budget-ms must be ≥ 0, got ${get('tree-budget-ms')}`);
    options.treeTiming.budgetMs = v;
  });
  set('tree-min-reps', (t) => count(t, 'tree-min-reps'), (v) => (options.treeTiming.minReps = v));
  // The most runs of a tree row is the fixed-count reps, as before; --tree-reps fixes both bounds.
  options.treeTiming.maxReps = Math.max(options.treeTiming.minReps, options.reps);
  set('tree-reps', (t) => count(t, 'tree-reps'), (v) => (options.treeTiming = { budgetMs: 0, minReps: v, maxReps: v }));
  set('sparsemap-sizes', (t) => dims(t, 'sparsemap-sizes', 2, 2) as Array<[number, number]>, (v) => (options.sparsemap.sizes = v));
  set('sparsemap-labels', (t) => count(t, 'sparsemap-labels'), (v) => (options.sparsemap.chainLabels = v));
  set('sparsemap-structures', (t) => oneOf(list(t), SPARSEMAP_STRUCTURES, 'sparsemap-structures'), (v) => (options.sparsemap.structures = v));
  set('sparsemap-ops', (t) => oneOf(list(t), SPARSEMAP_OPS, 'sparsemap-ops'), (v) => (options.sparsemap.ops = v));
  set('step-structures', (t) => oneOf(list(t), STEP_STRUCTURES, 'step-structures'), (v) => (options.steps.structures = v));
  set('step-estimators', (t) => oneOf(list(t), STEP_ESTIMATOR_NAMES, 'step-estimators'), (v) => (options.steps.estimators = v));
  set('cpu-gbs', (t) => positive(t, 'cpu-gbs'), (v) => (options.ceilings.cpuGbPerS = v));
  set('gpu-gbs', (t) => positive(t, 'gpu-gbs'), (v) => (options.ceilings.gpuGbPerS = v));
  set('cpu-exp-gs', (t) => positive(t, 'cpu-exp-gs'), (v) => (options.ceilings.cpuExpGPerS = v));
  set('gpu-exp-gs', (t) => positive(t, 'gpu-exp-gs'), (v) => (options.ceilings.gpuExpGPerS = v));
  set('cpu-gflops', (t) => positive(t, 'cpu-gflops'), (v) => (options.ceilings.cpuGflopPerS = v));
  set('gpu-gflops', (t) => positive(t, 'gpu-gflops'), (v) => (options.ceilings.gpuGflopPerS = v));
  set('exp-ceiling-size', (t) => dims(t, 'exp-ceiling-size', 2, 2)[0] as [number, number], (v) => (options.expCeilingShape = v));
  return options;
}
