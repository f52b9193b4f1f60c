/**
 * The path structures of issue 19: SemiMarkovCRF (edges `[B, N-1, K, C, C]`, torch-struct's SemiMarkov) and
 * AlignmentCRF (scores `[B, N, M, 3]`, global alignment), every sequence of full length, CPU (all threads and one)
 * and CUDA (device-resident potentials, and host arrays with the copies included) when a GPU is usable. Sizes: the
 * semi-Markov CRF at (B, N, K, C) = (32, 25, 4, 10); alignments at (B, N, M) = (32, 25, 25) and (8, 1000, 1000).
 *
 * Both run one generic forward-backward over a lattice (cpp/include/latent_struct/lattice_sweeps.h): alpha(v) is a
 * logsumexp over the in-edges of node v, beta(u) over the out-edges of u, and a marginal one exp per part. The work
 * is the lattice's edges, so the rows count **exp terms**: the edges that carry a part, once per pass. Counting:
 *
 * - SemiMarkov, a sequence of N positions: the edge (n, k, c, c') runs from (n, c') to (n + k, c) for 1 ≤ k < K and
 *   n + k ≤ N − 1, i.e. C²·Σ_{n=0..N−2} min(K−1, N−1−n) ≈ N·(K−1)·C² edges (the `[:, :, 0]` block is never used).
 * - Alignment, global, n × m: op 0 into the n(m−1) cells with j ≥ 1, op 2 into the (n−1)m with i ≥ 1, op 1 into
 *   the (n−1)(m−1) with both, plus the source's entry into (0, 0): 3nm − 2n − 2m + 2 ≈ 3 per cell.
 * - Passes per op: logPartition 1 (forward); marginals 3 (forward, backward, one exp per part); 'logPartition +
 *   marginals' the two calls, 4 (marginals does its own forward); marginalsBackward 5 (forward, backward, the two
 *   tangent sweeps, the output); entropy 2 (forward, the entropy sweep); argmax 1 (the max-plus forward: no exp,
 *   so its "exp fraction" only compares it with the others); sample(1) 1 (forward; the walk back is O(path)).
 *
 * What the kernels evaluate is a little more than the count: each node's logsumexp runs over its full in-degree,
 * absent edges included ((K−1)·C terms per semi-Markov node, 4 per alignment cell: the three ops and the source),
 * and every term twice (a max pass, then an exp pass). The count above is the algorithm's work, not the kernel's.
 *
 * Bytes (GB/s and the roofline column) are the compulsory ones, as in the other suites: the potentials read once
 * (the whole tensor, the unused `[:, :, 0]` block included) and the outputs written once (log Z: B values;
 * marginals, argmax and sample parts: the whole parts tensor). The chart (alpha and beta over N·C nodes per
 * sequence, n·m cells per pair) is not counted: cache-resident for the semi-Markov sizes and the 25 × 25
 * alignments, but 4 MB per array per pair at 1000 × 1000, comparable to the 12 MB of scores.
 *
 * The exp fraction divides exp terms/s by the backend's exp ceiling (`SuiteContext.expCeiling`: on the CPU the
 * library's vector exp on cache-resident data, measured at the start of the run per thread count).
 *
 * Options (bench/options.ts): `--semimarkov-sizes BxNxKxC,...`, `--semimarkov-ops`, `--alignment-sizes BxNxM,...`,
 * `--alignment-ops`; timing as the tree suites (`--tree-budget-ms`, `--tree-min-reps`, `--tree-reps`): costs span
 * three orders of magnitude between the 25 × 25 and the 1000 × 1000 alignments.
 */
import { AlignmentCRF, AnyTensor, SemiMarkovCRF } from '../lib';
import { Row, SuiteContext, bytesPerElement, filledTensor, hostRoundTrip, release, selected, throughputOf, timeOnBackends, timeWithin, TimedStructure, StructureOp, structureGrads, gradOf } from './harness';


/** The ops of `PATH_OPS` (bench/options.ts); the full preset times 'logPartition', 'logPartition + marginals' and 'argmax'. */
const OPS: StructureOp[] = [
  { name: 'logPartition', passes: 1, traffic: (p, B) => p + B, run: (s) => s.logPartition() },
  { name: 'logPartition + marginals', passes: 4, traffic: (p, B) => 2 * p + B, run: (s) => ({ logZ: s.logPartition(), marginals: s.marginals() }) },
  { name: 'marginals', passes: 3, traffic: (p) => 2 * p, run: (s) => s.marginals() },
  { name: 'marginalsBackward', passes: 5, traffic: (p) => 3 * p, run: (s) => s.marginalsBackward(gradOf(s)) },
  { name: 'entropy', passes: 2, traffic: (p, B) => p + B, run: (s) => s.entropy() },
  { name: 'argmax', passes: 1, traffic: (p) => 2 * p, run: (s) => s.argmaxDecoded() },
  { name: 'sample(1)', passes: 1, traffic: (p) => 2 * p, run: (s) => s.sampleDecoded(1, { seed: 1 }) },
];


/** Edges of a semi-Markov lattice of one sequence of N positions that carry a part: C²·Σ_{n=0..N−2} min(K−1, N−1−n). */
export function semiMarkovEdges(N: number, K: number, C: number): number {
  let spans = 0;
  for (let n = 0; n <= N - 2; n++) spans += Math.min(K - 1, N - 1 - n);
  return C * C * spans;
}

/** Edges of a global alignment lattice of one n × m pair that carry a part: 3nm − 2n − 2m + 2. */
export function alignmentEdges(n: number, m: number): number {
  return 3 * n * m - 2 * n - 2 * m + 2;
}

interface Variant {
  family: 'semimarkov' | 'alignment';
  suite: string;
  shape: number[];
  size: string;
  /** Sequences (pairs) B and positions N. */
  B: number;
  N: number;
  /** Lattice edges with a part, summed over the batch. */
  edges: number;
  make: (p: AnyTensor, device?: 'cuda') => TimedStructure;
}

function runVariant(context: SuiteContext, variant: Variant, ops: StructureOp[], rows: Row[]): void {
  const { options } = context;
  const { budgetMs, minReps, maxReps } = options.treeTiming;
  const { B, N } = variant;
  const size = variant.shape.reduce((a, b) => a * b, 1);
  for (const dtype of options.dtypes) {
    const host = filledTensor(variant.shape, dtype, 1);
    const device = context.cuda ? host.toDevice() : undefined;
    const cpuStructure = variant.make(host);
    const gpuStructure = device ? variant.make(device) : undefined;
    for (const op of ops) {
      const bytes = op.traffic(size, B) * bytesPerElement(dtype);
      const bodies = {
        cpu: () => op.run(cpuStructure),
        device: gpuStructure && (() => op.run(gpuStructure)),
        // The gradient of marginalsBackward lives with one structure, so it has no host-array form here.
        hostArrays: op.name === 'marginalsBackward' ? undefined : () => hostRoundTrip(() => variant.make(host, 'cuda'), op.run),
      };
      const timer = (body: () => unknown, sync: boolean) => timeWithin(budgetMs, minReps, maxReps, body, sync);
      for (const { backend, measured } of timeOnBackends(context, bodies, timer)) {
        const seconds = measured.ms / 1e3;
        const expTermsPerS = (op.passes * variant.edges) / seconds;
        rows.push({
          family: variant.family,
          suite: variant.suite,
          op: op.name,
          size: variant.size,
          elements: size,
          dtype,
          itemUnit: 'tokens',
          ...throughputOf(context, backend, measured, bytes, B * N),
          lattice: {
            sequencesPerS: B / seconds,
            tokensPerS: (B * N) / seconds,
            expTermsPerCall: op.passes * variant.edges,
            expTermsPerS,
            expFraction: expTermsPerS / context.expCeiling(backend, dtype),
          },
        });
      }
    }
    release(structureGrads.get(cpuStructure));
    cpuStructure.dispose();
    if (gpuStructure) {
      release(structureGrads.get(gpuStructure));
      gpuStructure.dispose();
    }
    if (device) release(device);
  }
}

/** SemiMarkovCRF: edges `[B, N-1, K, C, C]` at `options.semimarkov.sizes` (B, N, K, C); tokens = B·N positions. */
export function semiMarkovSuite(context: SuiteContext): Row[] {
  const rows: Row[] = [];
  const ops = selected(OPS, context.options.semimarkov.ops);
  for (const [B, N, K, C] of context.options.semimarkov.sizes) {
    runVariant(
      context,
      {
        family: 'semimarkov',
        suite: 'semimarkov',
        shape: [B, N - 1, K, C, C],
        size: `${B} × ${N} × ${K} × ${C}`,
        B,
        N,
        edges: B * semiMarkovEdges(N, K, C),
        make: (p, device) => new SemiMarkovCRF(p, { device }),
      },
      ops,
      rows,
    );
  }
  return rows;
}

/** AlignmentCRF (global): scores `[B, N, M, 3]` at `options.alignment.sizes` (B, N, M); tokens = B·N source items. */
export function alignmentSuite(context: SuiteContext): Row[] {
  const rows: Row[] = [];
  const ops = selected(OPS, context.options.alignment.ops);
  for (const [B, N, M] of context.options.alignment.sizes) {
    runVariant(
      context,
      {
        family: 'alignment',
        suite: 'alignment',
        shape: [B, N, M, 3],
        size: `${B} × ${N} × ${M}`,
        B,
        N,
        edges: B * alignmentEdges(N, M),
        make: (p, device) => new AlignmentCRF(p, { device }),
      },
      ops,
      rows,
    );
  }
  return rows;
}
