/**
 * The SparseMAP suite (issue 6): `sparsemap()` and `sparsemapBackward()` of LinearChainCRF (edge potentials
 * `[B, N−1, C, C]`, Viterbi as the oracle), TreeCRF (CKY), DependencyCRF (Eisner) and NonProjectiveDependencyCRF
 * (Chu-Liu-Edmonds), single root, every sentence of full length, CPU and CUDA (device-resident; host arrays for the
 * forward). Default size B = 64, N = 20, C = 10.
 *
 * The solver is an active-set method whose cost is its iterations × (one MAP oracle + a small Gram update), so
 * each row reports the solution's statistics over the batch beside the time: major iterations (mean and max),
 * support size (mean and max) and the fraction of instances that reached the tolerance; time per instance =
 * median / B. sparsemapBackward is timed at a fixed solution (solved once before timing), with a fixed gradient.
 * GB/s counts the compulsory bytes (scores read, marginals written; backward: gradient read, result written),
 * tiny by design: these kernels are bound by the oracle's latency, not by memory.
 */
import { AnyTensor, DType, DependencyCRF, LinearChainCRF, NonProjectiveDependencyCRF, TreeCRF } from '../lib';
import { SparseMapStructure } from './options';
import { Backend, Row, SuiteContext, bytesPerElement, fixedReps, filledTensor, hostRoundTrip, release, throughputOf, timeOnBackends } from './harness';

/** What the rows report of a solution. */
interface SolutionStats {
  support: Int32Array[][];
  iterations: Int32Array;
  converged: boolean[];
}

/** One solved batch: its statistics, the result to free, and the backward at this solution. */
interface Solved {
  stats: SolutionStats;
  result: unknown;
  backward(grad: AnyTensor): unknown;
}

interface Solver {
  solve(): Solved;
  dispose(): void;
}

interface StructureSpec {
  structure: SparseMapStructure;
  shape: (B: number, N: number, C: number) => number[];
  size: (B: number, N: number, C: number) => string;
  make: (scores: AnyTensor, device?: 'cuda') => Solver;
}

/** A Solver over any structure whose sparsemapBackward takes the gradient and the solution. */
function solverOf<S extends SolutionStats>(
  structure: { dispose(): void },
  solve: () => S,
  backward: (grad: AnyTensor, solution: S) => unknown,
): Solver {
  return {
    solve: () => {
      const solution = solve();
      return { stats: solution, result: solution, backward: (grad) => backward(grad, solution) };
    },
    dispose: () => structure.dispose(),
  };
}

/** TreeCRF and the dependency CRFs: `[B, N, N]` scores, the same sparsemap and sparsemapBackward. */
function treeStructureSpec(
  structure: SparseMapStructure,
  construct: (scores: AnyTensor, device?: 'cuda') => TreeCRF | DependencyCRF | NonProjectiveDependencyCRF,
): StructureSpec {
  return {
    structure,
    shape: (B, N) => [B, N, N],
    size: (B, N) => `${B} × ${N}`,
    make: (scores, device) => {
      const crf = construct(scores, device);
      return solverOf(crf, () => crf.sparsemap(), (grad, solution) => crf.sparsemapBackward(grad, solution));
    },
  };
}

const STRUCTURES: StructureSpec[] = [
  {
    structure: 'chain',
    shape: (B, N, C) => [B, N - 1, C, C],
    size: (B, N, C) => `${B} × ${N} × ${C}`,
    make: (scores, device) => {
      const crf = new LinearChainCRF(scores, { device });
      return solverOf(crf, () => crf.sparsemap(), (grad, solution) => crf.sparsemapBackward(grad, solution));
    },
  },
  treeStructureSpec('tree', (scores, device) => new TreeCRF(scores, { device })),
  treeStructureSpec('dependency', (scores, device) => new DependencyCRF(scores, { device })),
  treeStructureSpec('nonprojective', (scores, device) => new NonProjectiveDependencyCRF(scores, { device })),
];

function statsOf(stats: SolutionStats, ms: number, B: number): NonNullable<Row['sparsemap']> {
  const sizes = stats.support.map((s) => s.length);
  const iterations = Array.from(stats.iterations);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    msPerInstance: ms / B,
    meanIterations: mean(iterations),
    maxIterations: Math.max(...iterations),
    meanSupport: mean(sizes),
    minSupport: Math.min(...sizes),
    maxSupport: Math.max(...sizes),
    convergedFraction: stats.converged.filter((c) => c).length / stats.converged.length,
  };
}

function runStructure(context: SuiteContext, spec: StructureSpec, B: number, N: number, dtype: DType, rows: Row[]): void {
  const { options } = context;
  const C = options.sparsemap.chainLabels;
  const shape = spec.shape(B, N, C);
  const host = filledTensor(shape, dtype, 1);
  const grad = filledTensor(shape, dtype, 5);
  const device = context.cuda ? host.toDevice() : undefined;
  const deviceGrad = context.cuda ? grad.toDevice() : undefined;
  const cpu = spec.make(host);
  const gpu = device ? spec.make(device) : undefined;
  // Solved once untimed: the statistics of each backend's solution, and the solution the backward is timed at.
  const cpuSolved = cpu.solve();
  const gpuSolved = gpu?.solve();
  const statsFor = (backend: Backend): SolutionStats => (backend === 'cpu' || !gpuSolved ? cpuSolved : gpuSolved).stats;
  const elements = shape.reduce((a, b) => a * b, 1);
  const bytes = 2 * elements * bytesPerElement(dtype);
  const bodies = {
    sparsemap: {
      cpu: () => cpu.solve().result,
      device: gpu && (() => gpu.solve().result),
      hostArrays: () => hostRoundTrip(() => spec.make(host, 'cuda'), (solver) => solver.solve().result),
    },
    sparsemapBackward: {
      cpu: () => cpuSolved.backward(grad),
      device: gpuSolved && deviceGrad && (() => gpuSolved.backward(deviceGrad)),
    },
  };
  for (const op of options.sparsemap.ops) {
    if (op !== 'sparsemap' && op !== 'sparsemapBackward') throw new Error(`bench: unknown SparseMAP op ${op}`);
    for (const { backend, measured } of timeOnBackends(context, bodies[op], fixedReps(options.reps))) {
      rows.push({
        family: 'sparsemap',
        suite: `sparsemap (${spec.structure})`,
        op,
        size: spec.size(B, N, C),
        elements,
        dtype,
        itemUnit: 'instances',
        ...throughputOf(context, backend, measured, bytes, B),
        sparsemap: statsOf(statsFor(backend), measured.ms, B),
      });
    }
  }
  release(cpuSolved.result);
  if (gpuSolved) release(gpuSolved.result);
  cpu.dispose();
  gpu?.dispose();
  release(device);
  release(deviceGrad);
}

/** SparseMAP and its backward for every structure of `options.sparsemap.structures` at every size and dtype. */
export function sparsemapSuite(context: SuiteContext): Row[] {
  const rows: Row[] = [];
  const { sparsemap } = context.options;
  for (const dtype of context.options.dtypes) {
    for (const spec of STRUCTURES.filter((s) => sparsemap.structures.includes(s.structure))) {
      for (const [B, N] of sparsemap.sizes) runStructure(context, spec, B, N, dtype, rows);
    }
  }
  return rows;
}
