/**
 * The TreeCRF (CKY), DependencyCRF (Eisner) and NonProjectiveDependencyCRF (Matrix-Tree) suites: every building
 * block at the sizes of issues 4 and 5 (N = 25, 64, 128 at B = 32 and 128; non-projective at B = 32 and 256; every
 * sentence of full length), CPU and CUDA (device-resident potentials, and host arrays with the copies included).
 *
 * Roofline (KERNELS.md, inside-outside): the work is cubic and the bytes quadratic, so these kernels are
 * compute-bound on exp, one per split point, over N serial widths. Each row reports sentences/s, tokens/s
 * (Σ lengths / s), split points/s and their fraction of an exp-throughput ceiling. Counting:
 *
 * - CKY, a sentence of length n: the split points (i ≤ k < j) of all spans number
 *   Σ_{w=2..n} (n−w+1)(w−1) = C(n+1, 3) = (n+1)·n·(n−1)/6 ≈ n³/6 per pass.
 * - Eisner, a sentence of length n: m = n+1 nodes (the root and the n words), four item kinds
 *   (complete/incomplete × left/right) and w split points per kind for a span of width w, i.e.
 *   Σ_{w=1..m−1} (m−w)·w = C(m+1, 3) per kind: 4·C(n+2, 3) = 4·(n+2)(n+1)·n/6 ≈ 2n³/3 per pass.
 *   (The single-root combination is O(n) and not counted.)
 * - Passes per op: logPartition 1 (inside); marginals 2 (inside, outside); marginalsBackward 4 (inside,
 *   outside, inside-gain, outside-gain); entropy 2 (inside, entropy); argmax 1 (the max-plus inside pass:
 *   no exp, so its "exp fraction" only compares it with the others); sample(1) 1 (inside; the top-down
 *   draw is O(n²)).
 *
 * The exp ceiling per backend and dtype is, unless given (`--cpu-exp-gs`, `--gpu-exp-gs`, in G exp/s), the
 * rate of the library's own logsumexp over a large batch (`--exp-ceiling-size`, default 64 × 262144) (one exp per element, streaming):
 * an achievable ceiling on the CPU; on the GPU a memory-bound one for float32 (a lower bound of the
 * SFU rate), so the fraction is an upper estimate there. GB/s counts the compulsory bytes, as elsewhere.
 *
 * Matrix-Tree rows also report GFLOP/s (2 flops per entry update: a multiply-add on the linear path) against
 * the backend's FP64 ceiling (`--cpu-gflops`, `--gpu-gflops`; nominal).
 *
 * Options (bench/options.ts): `--tree-sizes BxN[xL],...` (L > 1: labelled trees), `--dependency-sizes BxN,...`,
 * `--nonprojective-sizes BxN,...`, `--tree-ops` / `--dependency-ops` / `--nonprojective-ops`,
 * `--dependency-roots single,multi`, `--tree-reps R` (fixed runs per row) or `--tree-budget-ms T` (as many runs
 * as fit in T ms, at least `--tree-min-reps`, at most `--reps`), `--quick` (B = 32 only, 200 ms per row).
 */
import { AnyTensor, DType, DependencyCRF, NonProjectiveDependencyCRF, TreeCRF, logsumexp } from '../lib';
import { Backend, Row, SuiteContext, bytesPerElement, onCpu, filledTensor, hostRoundTrip, release, selected, throughputOf, time, timeOnBackends, timeWithin, TimedStructure, StructureOp, structureGrads, gradOf } from './harness';


const OPS: StructureOp[] = [
  { name: 'logPartition', passes: 1, traffic: (p, B) => p + B, run: (crf) => crf.logPartition() },
  { name: 'marginals', passes: 2, traffic: (p) => 2 * p, run: (crf) => crf.marginals() },
  { name: 'marginalsBackward', passes: 4, traffic: (p) => 3 * p, run: (crf) => crf.marginalsBackward(gradOf(crf)) },
  { name: 'entropy', passes: 2, traffic: (p, B) => p + B, run: (crf) => crf.entropy() },
  { name: 'argmax', passes: 1, traffic: (p) => 2 * p, run: (crf) => crf.argmaxDecoded() },
  { name: 'sample(1)', passes: 1, traffic: (p) => 2 * p, run: (crf) => crf.sampleDecoded(1, { seed: 1 }) },
];


type Kind = 'tree' | 'dependency' | 'nonprojective';

/**
 * Split points per pass of one sentence of length n; for the Matrix-Tree structure, the entries updated by one
 * elimination, Σ_k (n−k−1)² ≈ n³/3 (one log-sum-exp each).
 */
export function splitPoints(kind: Kind, n: number): number {
  if (kind === 'nonprojective') return ((n - 1) * n * (2 * n - 1)) / 6;
  return kind === 'tree' ? ((n + 1) * n * (n - 1)) / 6 : (4 * (n + 2) * (n + 1) * n) / 6;
}

/**
 * Passes over the chart of an op: for the Matrix-Tree structure, the elimination counts 1 and its reverse pass
 * 2 (a row and a column reduction per entry); a sample runs n eliminations and reverse passes.
 */
function passesOf(kind: Kind, op: StructureOp, n: number): number {
  if (kind !== 'nonprojective') return op.passes;
  switch (op.name) {
    case 'logPartition':
      return 1;
    case 'argmax':
      return 0;
    case 'sample(1)':
      return 1 + 3 * n;
    default:
      return 3;
  }
}

interface Variant {
  family: 'tree' | 'dependency' | 'nonprojective';
  suite: string;
  kind: Kind;
  labels: number;
  make: (p: AnyTensor, device?: 'cuda') => TimedStructure;
}

function runVariant(context: SuiteContext, variant: Variant, B: number, N: number, ops: StructureOp[], rows: Row[]): void {
  const { options } = context;
  const { budgetMs, minReps, maxReps } = options.treeTiming;
  const L = variant.labels;
  const shape = L > 1 ? [B, N, N, L] : [B, N, N];
  const size = shape.reduce((a, b) => a * b, 1);
  const points = B * splitPoints(variant.kind, N);
  for (const dtype of options.dtypes) {
    const host = filledTensor(shape, dtype, 1);
    const device = context.cuda ? host.toDevice() : undefined;
    const cpuCrf = variant.make(host);
    const gpuCrf = device ? variant.make(device) : undefined;
    for (const op of ops) {
      const bytes = op.traffic(size, B) * bytesPerElement(dtype);
      const passes = passesOf(variant.kind, op, N);
      const bodies = {
        cpu: () => op.run(cpuCrf),
        device: gpuCrf && (() => op.run(gpuCrf)),
        // The gradient of marginalsBackward lives with one structure, so it has no host-array form here.
        hostArrays: op.name === 'marginalsBackward' ? undefined : () => hostRoundTrip(() => variant.make(host, 'cuda'), op.run),
      };
      const timer = (body: () => unknown, sync: boolean) => timeWithin(budgetMs, minReps, maxReps, body, sync);
      for (const { backend, measured } of timeOnBackends(context, bodies, timer)) {
        const place = onCpu(backend) ? 'cpu' : 'cuda';
        const seconds = measured.ms / 1e3;
        const splitPointsPerS = (passes * points) / seconds;
        const gflopPerS = (2 * splitPointsPerS) / 1e9;
        // The nominal FP64 peak is the machine's (all its threads); a 1-thread row gets one thread's share.
        const flopCeiling =
          backend === 'cpu (1 thread)' ? options.ceilings.cpuGflopPerS / context.cpuThreads : place === 'cpu' ? options.ceilings.cpuGflopPerS : options.ceilings.gpuGflopPerS;
        rows.push({
          family: variant.family,
          suite: variant.suite,
          op: op.name,
          size: L > 1 ? `${B} × ${N} × ${L}` : `${B} × ${N}`,
          elements: size,
          dtype,
          itemUnit: 'tokens',
          ...throughputOf(context, backend, measured, bytes, B * N),
          tree: {
            sentencesPerS: B / seconds,
            tokensPerS: (B * N) / seconds,
            splitPointsPerS,
            expFraction: splitPointsPerS / context.expCeiling(backend, dtype),
          },
          ...(variant.kind === 'nonprojective' && passes > 0 ? { flops: { gflopPerS, flopFraction: gflopPerS / flopCeiling } } : {}),
        });
      }
    }
    release(structureGrads.get(cpuCrf));
    cpuCrf.dispose();
    if (gpuCrf) {
      release(structureGrads.get(gpuCrf));
      gpuCrf.dispose();
    }
    if (device) release(device);
  }
}

/** TreeCRF (CKY): unlabelled `[B, N, N]` spans, or labelled `[B, N, N, L]` for sizes (B, N, L > 1). */
export function treeSuite(context: SuiteContext): Row[] {
  const rows: Row[] = [];
  const ops = selected(OPS, context.options.tree.ops);
  for (const [B, N, L] of context.options.tree.sizes) {
    const variant: Variant = {
      family: 'tree',
      suite: L > 1 ? 'tree (labelled)' : 'tree',
      kind: 'tree',
      labels: L,
      make: (p, device) => new TreeCRF(p, { device }),
    };
    runVariant(context, variant, B, N, ops, rows);
  }
  return rows;
}

/** The dependency suites over `[B, N, N]` arcs, for each root constraint of `options.roots`. */
function arcSuite(context: SuiteContext, kind: 'dependency' | 'nonprojective'): Row[] {
  const rows: Row[] = [];
  const { sizes, ops: wanted } = context.options[kind];
  const ops = selected(OPS, wanted);
  for (const root of context.options.roots) {
    const singleRoot = root !== 'multi';
    for (const [B, N] of sizes) {
      const variant: Variant = {
        family: kind,
        suite: singleRoot ? kind : `${kind} (any roots)`,
        kind,
        labels: 1,
        make: (p, device) =>
          kind === 'dependency' ? new DependencyCRF(p, { device, singleRoot }) : new NonProjectiveDependencyCRF(p, { device, singleRoot }),
      };
      runVariant(context, variant, B, N, ops, rows);
    }
  }
  return rows;
}

/** DependencyCRF (projective, Eisner): `[B, N, N]` arcs at `options.dependency.sizes`. */
export function dependencySuite(context: SuiteContext): Row[] {
  return arcSuite(context, 'dependency');
}

/** NonProjectiveDependencyCRF (Matrix-Tree): `[B, N, N]` arcs at `options.nonprojective.sizes`. */
export function nonProjectiveSuite(context: SuiteContext): Row[] {
  return arcSuite(context, 'nonprojective');
}

/**
 * The exp throughput (exp/s) of a backend and dtype, unless given in the options. CPU: the rate of the library's
 * vector exp on cache-resident data at the backend's thread count, measured at the start of the run
 * (`context.cpuCeilings`). CUDA: the rate of the library's own logsumexp over a large batch
 * (`options.expCeilingShape`, one exp per element, streaming), measured once per `cache`; float32 logsumexp is
 * memory-bound on a GPU (a lower bound of the SFU rate), so the fraction is an upper estimate there.
 */
export function measureExpCeiling(context: Omit<SuiteContext, 'expCeiling'>, cache: Map<string, number>, backend: Backend, dtype: DType): number {
  if (onCpu(backend)) {
    const given = context.options.ceilings.cpuExpGPerS;
    return (given ?? context.cpuCeilings.get(backend)?.expGPerS[dtype] ?? Number.NaN) * 1e9;
  }
  const given = context.options.ceilings.gpuExpGPerS;
  if (given !== null) return given * 1e9;
  const key = `cuda ${dtype}`;
  let rate = cache.get(key);
  if (rate === undefined) {
    const [B, K] = context.options.expCeilingShape;
    const x = filledTensor([B, K], dtype, 7).toDevice();
    const ms = time(5, () => logsumexp(x), true);
    release(x);
    rate = (B * K) / (ms / 1e3);
    cache.set(key, rate);
    context.log(`# exp ceiling ${key}: ${(rate / 1e9).toFixed(3)} G exp/s (logsumexp over ${B} × ${K})`);
  }
  return rate;
}
