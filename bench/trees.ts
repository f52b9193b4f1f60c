/**
 * The TreeCRF (CKY) and DependencyCRF (Eisner) suites: every building block at the sizes of issue 4
 * (N = 25, 64, 128 at B = 32 and 128, every sentence of full length), CPU and CUDA (device-resident
 * potentials, and host arrays with the copies included).
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
 * rate of the library's own logsumexp over a large [64, 262144] batch (one exp per element, streaming):
 * an achievable ceiling on the CPU; on the GPU a memory-bound one for float32 (a lower bound of the
 * SFU rate), so the fraction is an upper estimate there. GB/s counts the compulsory bytes, as elsewhere.
 *
 * Options: `--tree-sizes BxN[xL],...` (L > 1: labelled trees), `--dependency-sizes BxN,...` (default: the
 * tree sizes, unlabelled), `--tree-ops` / `--dependency-ops` (default: the tree ops),
 * `--dependency-roots single,multi`, `--tree-reps R` (fixed runs per row) or `--tree-budget-ms T`
 * (default 1000: as many runs as fit in T ms, at least `--tree-min-reps` (3), at most `--reps`),
 * `--quick` (B = 32 only, 200 ms per row, at least 2 runs).
 */
import { AnyTensor, DependencyCRF, NonProjectiveDependencyCRF, Tensor, TreeCRF, logsumexp } from '../lib';
import { resultToHost } from '../lib/ops/placement';
import { Row, SuiteOptions, argument, flag, release, time, timeWithin } from './harness';

/** The methods timed, over either structure. */
interface Structure {
  logPartition(): AnyTensor;
  marginals(): AnyTensor;
  marginalsBackward(grad: AnyTensor): AnyTensor;
  entropy(): AnyTensor;
  argmaxDecoded(): unknown;
  sampleDecoded(k: number, options: { seed: number }): unknown;
  dispose(): void;
}

interface TreeOp {
  name: string;
  /** Inside-outside passes over the chart (see the module doc). */
  passes: number;
  /** Elements moved given the element count of the potentials (= of the parts) and B. */
  traffic: (parts: number, B: number) => number;
  run: (crf: Structure) => unknown;
}

const OPS: TreeOp[] = [
  { name: 'logPartition', passes: 1, traffic: (p, B) => p + B, run: (crf) => crf.logPartition() },
  { name: 'marginals', passes: 2, traffic: (p) => 2 * p, run: (crf) => crf.marginals() },
  { name: 'marginalsBackward', passes: 4, traffic: (p) => 3 * p, run: (crf) => crf.marginalsBackward(gradOf(crf)) },
  { name: 'entropy', passes: 2, traffic: (p, B) => p + B, run: (crf) => crf.entropy() },
  { name: 'argmax', passes: 1, traffic: (p) => 2 * p, run: (crf) => crf.argmaxDecoded() },
  { name: 'sample(1)', passes: 1, traffic: (p) => 2 * p, run: (crf) => crf.sampleDecoded(1, { seed: 1 }) },
];

/** A fixed gradient over the parts (the marginals), cached per structure. */
const grads = new WeakMap<Structure, AnyTensor>();
function gradOf(crf: Structure): AnyTensor {
  let g = grads.get(crf);
  if (!g) {
    g = crf.marginals();
    grads.set(crf, g);
  }
  return g;
}

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
function passesOf(kind: Kind, op: TreeOp, n: number): number {
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

function filled(size: number, dtype: string, seed: number): Tensor['data'] {
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin((i + seed) * 12.9898) * 2;
  return data;
}

/** Measured exp ceilings (exp/s), per backend and dtype. */
const ceilings = new Map<string, number>();
function expCeiling(backend: 'cpu' | 'cuda', dtype: string): number {
  const given = Number(argument(backend === 'cpu' ? 'cpu-exp-gs' : 'gpu-exp-gs', 'NaN'));
  if (Number.isFinite(given) && given > 0) return given * 1e9;
  const key = `${backend} ${dtype}`;
  let rate = ceilings.get(key);
  if (rate === undefined) {
    const [B, K] = [64, 262144];
    const host = new Tensor(filled(B * K, dtype, 7), [B, K]);
    const x = backend === 'cpu' ? host : host.toDevice();
    const ms = time(5, () => logsumexp(x), backend === 'cuda');
    if (x !== host) release(x);
    rate = (B * K) / (ms / 1e3);
    ceilings.set(key, rate);
    console.log(`# exp ceiling ${key}: ${(rate / 1e9).toFixed(3)} G exp/s (logsumexp over ${B} × ${K})`);
  }
  return rate;
}

function parseSizes(text: string): number[][] {
  return text
    .split(',')
    .filter((s) => s.length > 0)
    .map((s) => s.split('x').map(Number));
}

interface Variant {
  suite: string;
  kind: Kind;
  labels: number;
  make: (p: AnyTensor, device?: 'cuda') => Structure;
}

function runVariant(variant: Variant, B: number, N: number, ops: TreeOp[], options: SuiteOptions, rows: Row[]): void {
  const quick = flag('quick');
  const fixed = Number(argument('tree-reps', 'NaN'));
  const budget = Number(argument('tree-budget-ms', quick ? '200' : '1000'));
  const minReps = Number.isInteger(fixed) && fixed > 0 ? fixed : Number(argument('tree-min-reps', quick ? '2' : '3'));
  const maxReps = Number.isInteger(fixed) && fixed > 0 ? fixed : Math.max(minReps, options.reps);
  const L = variant.labels;
  const shape = L > 1 ? [B, N, N, L] : [B, N, N];
  const size = shape.reduce((a, b) => a * b, 1);
  const points = B * splitPoints(variant.kind, N);
  for (const dtype of options.dtypes) {
    const element = dtype === 'float64' ? 8 : 4;
    const host = new Tensor(filled(size, dtype, 1), shape);
    const device = options.gpu ? host.toDevice() : undefined;
    const cpuCrf = variant.make(host);
    const gpuCrf = device ? variant.make(device) : undefined;
    for (const op of ops) {
      const bytes = op.traffic(size, B) * element;
      const record = (backend: string, place: 'cpu' | 'cuda', measured: { ms: number; reps: number }, ceiling: number) => {
        const seconds = measured.ms / 1e3;
        const gbPerS = bytes / (measured.ms * 1e6);
        const splitPointsPerS = (passesOf(variant.kind, op, N) * points) / seconds;
        rows.push({
          suite: variant.suite,
          op: op.name,
          backend,
          size: L > 1 ? `${B} × ${N} × ${L}` : `${B} × ${N}`,
          dtype,
          medianMs: measured.ms,
          gbPerS,
          itemsPerS: (B * N) / seconds,
          rooflineFraction: gbPerS / ceiling,
          reps: measured.reps,
          tree: {
            sentencesPerS: B / seconds,
            tokensPerS: (B * N) / seconds,
            splitPointsPerS,
            expFraction: splitPointsPerS / expCeiling(place, dtype),
          },
        });
      };
      record('cpu', 'cpu', timeWithin(budget, minReps, maxReps, () => op.run(cpuCrf), false), options.cpuCeiling);
      if (gpuCrf) {
        record('cuda (device-resident)', 'cuda', timeWithin(budget, minReps, maxReps, () => op.run(gpuCrf), true), options.gpuCeiling);
        if (op.name !== 'marginalsBackward') {
          const roundTrip = () => {
            const crf = variant.make(host, 'cuda');
            const result = resultToHost(op.run(crf));
            crf.dispose();
            return result;
          };
          record('cuda (host arrays)', 'cuda', timeWithin(budget, minReps, maxReps, roundTrip, true), options.gpuCeiling);
        }
      }
    }
    release(grads.get(cpuCrf));
    cpuCrf.dispose();
    if (gpuCrf) {
      release(grads.get(gpuCrf));
      gpuCrf.dispose();
    }
    if (device) release(device);
  }
}

function defaultSizes(): string {
  return flag('quick') ? '32x25,32x64,32x128' : '32x25,128x25,32x64,128x64,32x128,128x128';
}

function opsFrom(option: string): TreeOp[] {
  const wanted = argument(option, argument('tree-ops', OPS.map((o) => o.name).join(','))).split(',');
  return OPS.filter((o) => wanted.includes(o.name));
}

/** TreeCRF (CKY): unlabelled `[B, N, N]` spans, or labelled `[B, N, N, L]` for sizes BxNxL. */
export function treeSuite(options: SuiteOptions): Row[] {
  const rows: Row[] = [];
  const ops = opsFrom('tree-ops');
  for (const [B, N, L = 1] of parseSizes(argument('tree-sizes', defaultSizes()))) {
    const variant: Variant = {
      suite: L > 1 ? 'tree (labelled)' : 'tree',
      kind: 'tree',
      labels: L,
      make: (p, device) => new TreeCRF(p, { device }),
    };
    runVariant(variant, B, N, ops, options, rows);
  }
  return rows;
}

/** The dependency suites over `[B, N, N]` arcs, single root by default (`--dependency-roots single,multi`). */
function arcSuite(kind: 'dependency' | 'nonprojective', options: SuiteOptions): Row[] {
  const rows: Row[] = [];
  const ops = opsFrom(`${kind}-ops`);
  const roots = argument('dependency-roots', 'single').split(',');
  const sizes = parseSizes(argument(`${kind}-sizes`, argument('tree-sizes', defaultSizes())));
  for (const root of roots) {
    const singleRoot = root !== 'multi';
    for (const [B, N] of sizes) {
      const variant: Variant = {
        suite: singleRoot ? kind : `${kind} (any roots)`,
        kind,
        labels: 1,
        make: (p, device) =>
          kind === 'dependency' ? new DependencyCRF(p, { device, singleRoot }) : new NonProjectiveDependencyCRF(p, { device, singleRoot }),
      };
      runVariant(variant, B, N, ops, options, rows);
    }
  }
  return rows;
}

/** DependencyCRF (projective, Eisner): `[B, N, N]` arcs. */
export function dependencySuite(options: SuiteOptions): Row[] {
  return arcSuite('dependency', options);
}

/**
 * NonProjectiveDependencyCRF (Matrix-Tree): `[B, N, N]` arcs; sizes `--nonprojective-sizes` (default: the tree
 * sizes), ops `--nonprojective-ops`.
 */
export function nonProjectiveSuite(options: SuiteOptions): Row[] {
  return arcSuite('nonprojective', options);
}
