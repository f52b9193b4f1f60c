/**
 * `npm run bench`: times every kernel on the CPU backend and, when a GPU is usable, on CUDA (host arrays, i.e.
 * copies included, and device-resident), reporting the median of repeated runs, throughput, roofline fractions
 * and CUDA/CPU speedups. Writes bench.json, bench.md and throughput.svg to `--out` (default bench/results/) and
 * prints the Markdown. Usage:
 *
 *   npm run bench -- [--smoke | --quick] [--suite categorical,chain,tree,dependency,nonprojective,semimarkov,alignment,sparsemap]
 *                    [--out DIR] [--json FILE] [--reps 15] [--dtypes float32,float64] [--no-cuda]
 *                    [--sizes 32x1000,1024x128] [--ops softmax,sparsemax]
 *                    [--chain-sizes 32x25x20] [--chain-ops marginals]
 *                    [--tree-sizes 32x25,128x64[xL]] [--tree-ops entropy] [--dependency-sizes 32x25] [--dependency-ops argmax]
 *                    [--nonprojective-sizes 32x25,256x25] [--nonprojective-ops logPartition] [--dependency-roots single,multi]
 *                    [--semimarkov-sizes 32x25x4x10] [--semimarkov-ops logPartition,argmax]
 *                    [--alignment-sizes 32x25x25,8x1000x1000] [--alignment-ops 'logPartition + marginals']
 *                    [--tree-reps 5 | --tree-budget-ms 1000 --tree-min-reps 3]
 *                    [--sparsemap-sizes 64x20] [--sparsemap-labels 10] [--sparsemap-structures chain,tree,dependency,nonprojective]
 *                    [--sparsemap-ops sparsemap,sparsemapBackward]
 *                    [--cpu-gbs 20] [--gpu-gbs 3000] [--cpu-exp-gs 0.2] [--gpu-exp-gs 1000] [--cpu-gflops 80] [--gpu-gflops 30000]
 *                    [--exp-ceiling-size 64x262144]
 *
 * Bytes moved per op = inputs read once + outputs written once (the roofline minimum, KERNELS.md). The tree
 * suites (bench/trees.ts) are compute-bound: they report sentences/s, tokens/s and split points/s against an
 * exp-throughput ceiling, the Matrix-Tree rows GFLOP/s against an FP64 ceiling; the path suites (bench/paths.ts:
 * SemiMarkovCRF, AlignmentCRF) lattice exp terms/s against the same exp ceiling; SparseMAP rows (bench/sparsemap.ts)
 * iterations, support sizes and time per instance. Presets and every flag: bench/options.ts.
 */
import { runBench } from './bench';
import { parseBenchArgs } from './options';

function main(): void {
  const options = parseBenchArgs(process.argv.slice(2));
  const report = runBench(options, { log: (line) => console.log(line) });
  console.log(`\n${report.markdown}`);
  console.log(`# wrote ${report.files.json}, ${report.files.markdown}, ${report.files.svg}`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
