/**
 * The native addon (cmake-js or node-gyp build, or a prebuild), loaded with node-gyp-build, and its typed
 * surface. Everything here is internal: the public API wraps it in lib/ops and lib/structures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { typeError } from './errors';

/** A float buffer in host memory. */
export type FloatArray = Float32Array | Float64Array;

/** The native side of a DeviceTensor (GPU memory + dtype + shape). */
export interface NativeDeviceBuffer {
  readonly dtype: 'float32' | 'float64';
  readonly shape: number[];
  readonly disposed: boolean;
  readonly bytes: number;
  /** The index N of the CUDA device (cuda:N) holding the memory. */
  readonly device?: number;
  toHost(): FloatArray;
  dispose(): void;
}

/** What native ops accept as a tensor: a host tensor or a device tensor. */
export type NativeTensorArg =
  | { data: FloatArray; shape: readonly number[] }
  | { handle: NativeDeviceBuffer; shape: readonly number[] };
/** What native float ops return: a typed array for host inputs, a DeviceBuffer for device inputs. */
export type NativeFloat = FloatArray | NativeDeviceBuffer;
/** What native index ops return: indices on the host and their one-hot encoding where the input lives. */
export interface NativeIndexResult {
  index: Int32Array;
  onehot: NativeFloat;
}
/** Either the value (sync call) or a Promise of it (async call). */
export type MaybeAsync<T, A extends boolean> = A extends true ? Promise<T> : T;

/** The CUDA part of backendInfo(). */
export interface CudaInfo {
  /** The addon was compiled with the CUDA backend. */
  compiled: boolean;
  /** A CUDA device is usable now. */
  available: boolean;
  /**
   * The CUDA backend runs on the emulated device: the same CUDA sources compiled for the CPU (the build of
   * `npm run test:emulated`), for tests without a GPU — correct, but slow and with the CPU's rounding.
   */
  emulated?: boolean;
  /** Why CUDA is not available (absent when it is). */
  reason?: string;
  runtimeVersion?: number;
  driverVersion?: number;
  deviceCount?: number;
  /** Device 0 (kept for older callers; `devices[0]` is the same). */
  device?: { name: string; computeCapability: string; totalMemory: number };
  /**
   * Every CUDA device, by index: `{ device: 'cuda:N' }` and `toDevice(N)` address `devices[N]`. Empty when CUDA
   * is not available (CPU-only builds, no driver).
   */
  devices?: CudaDeviceInfo[];
  /** The host ↔ device copies the library made since start-up or {@link resetCudaTransfers} (CUDA builds). */
  transfers?: CudaTransfers;
}

/** One CUDA device of `backendInfo().cuda.devices`. */
export interface CudaDeviceInfo {
  /** N of `cuda:N`. */
  index: number;
  name: string;
  /** `'major.minor'`, e.g. `'9.0'`. */
  computeCapability: string;
  /** Bytes of device memory. */
  totalMemory: number;
}

/** Counts and bytes of the library's host ↔ device copies (every copy it makes goes through one counter). */
export interface CudaTransfers {
  /** Host → device copies: inputs moved with `toDevice()`, host inputs of `{ device: 'cuda' }`, lengths, … */
  toDevice: { count: number; bytes: number };
  /** Device → host copies: `toHost()`, results brought back, and the scalars ops read (e.g. a log Z check). */
  toHost: { count: number; bytes: number };
}

/** Which backends this process can use. */
export interface BackendInfo {
  /** simd: the instruction set of the CPU kernels' vector math: 'avx512', 'avx2' or 'baseline' (SSE2 / NEON). */
  cpu: { available: true; threads: number; simd: 'avx512' | 'avx2' | 'baseline' };
  cuda: CudaInfo;
}

/** Potentials of a batch of linear chains as the addon takes them. */
export type NativeChainPotentials =
  | { edges: NativeTensorArg }
  | { unary: NativeTensorArg; transition: NativeTensorArg };
/** Tensors over the parts of linear chains (which ones depends on the form and the op). */
export interface NativeChainParts {
  edges?: NativeFloat;
  unary?: NativeFloat;
  transition?: NativeFloat;
}
/** Gradients over the parts of linear chains, laid out like NativeChainParts. */
export interface NativeChainGrad {
  edges?: NativeTensorArg;
  unary?: NativeTensorArg;
  transition?: NativeTensorArg;
}

/**
 * The caller's tensors an op writes its results into (its `out`): one tensor for an op's single out-able result, or
 * tensors by result name.
 */
export type NativeOut = NativeTensorArg | { edges?: NativeTensorArg; unary?: NativeTensorArg; transition?: NativeTensorArg };

/** The host result pool's state (cpp/binding/host_pool.h). */
export interface HostPoolStats {
  /** Most bytes the pool lends and keeps idle together (0: off). */
  limit: number;
  idleBytes: number;
  idleBlocks: number;
  /** Bytes and blocks under results not yet collected (and finalized). */
  lentBytes: number;
  lentBlocks: number;
  /** Blocks lent again, blocks freshly allocated, and requests left to V8 (the limit reached). */
  reused: number;
  allocated: number;
  declined: number;
  /** False once the runtime refused external ArrayBuffers (e.g. Electron): results then come from V8. */
  externalBuffers: boolean;
}

/**
 * A batch of structures whose parts are one score tensor, as the addon takes it: CKY span scores, arc scores for
 * Eisner or the Matrix-Tree theorem, SemiMarkov edges or Alignment scores.
 */
export interface NativeTreeSpec {
  structure: 'cky' | 'eisner' | 'matrix_tree' | 'semi_markov' | 'alignment' | 'cfg';
  scores: NativeTensorArg;
  lengths: Int32Array | null;
  singleRoot: boolean;
  /** Alignment: the lengths over M. */
  targetLengths?: Int32Array | null;
  /** Alignment: Smith-Waterman's local paths. */
  local?: boolean;
  /** SentCFG ('cfg'): the sizes behind its packed scores [B, D], D = N·T + NT·(NT + T)² + NT. */
  grammar?: NativeCfgGrammar;
}
/** SentCFG's sizes: N words, NT nonterminals, T preterminals. */
export interface NativeCfgGrammar {
  length: number;
  nonterminals: number;
  preterminals: number;
}
/** A decoded tree (CKY span rows or Eisner heads) and its one-hot parts. */
export interface NativeTreeDecoded {
  decoded: Int32Array;
  parts: NativeFloat;
}

/** SparseMAP settings as the addon takes them (all given). */
export interface NativeSparseMapOptions {
  maxIterations: number;
  tolerance: number;
  maxActive: number;
}

/** SparseMAP of a batch of structures: supports as decoded rows [B, K, decoded size] (-1 past each size). */
export interface NativeSparseMap {
  marginals: NativeFloat;
  support: Int32Array;
  weights: Float64Array;
  sizes: Int32Array;
  iterations: Int32Array;
  converged: Int32Array;
}

export interface NativeAddon {
  backendInfo(): BackendInfo;
  synchronize(): void;
  /** The CPU backend's threads per op; throws coded errors outside [1, 1024] integers. */
  setThreads(threads: number): void;
  /** Device bytes in use (cudaMemGetInfo); throws ERR_NO_CUDA without a device. */
  cudaMemoryInUse(device?: number): number;
  cudaTransfers(): CudaTransfers;
  resetCudaTransfers(): void;
  /** Σ_t coefs[t·B + b] · terms[t][b, ...] in `like`'s shape, dtype and place (float64 sums; zero coefficients skipped). */
  partsCombine(like: NativeTensorArg, terms: NativeTensorArg[], coefs: Float64Array, batch: number): NativeFloat;
  /** Per-instance Σ over x ≠ 0 of x·y, `[B]` on the host. */
  partsDot(x: NativeTensorArg, y: NativeTensorArg, batch: number): Float64Array;
  /** x with −Infinity entries replaced by 0. */
  partsFinite(x: NativeTensorArg): NativeFloat;
  /** x with −Infinity wherever mask is −Infinity. */
  partsMasked(x: NativeTensorArg, mask: NativeTensorArg): NativeFloat;
  /** Row s of stacked parts `[S, ...]`, where they live. */
  partsRow(stacked: NativeTensorArg, s: number): NativeFloat;
  /** Zeros of `shape` in `like`'s dtype and place with 1 at each flat position. */
  partsOneHot(like: NativeTensorArg, positions: Int32Array, shape: readonly number[]): NativeFloat;
  /** `[copies, ...from's shape]`: from repeated, where it lives. */
  partsTile(from: NativeTensorArg, copies: number): NativeFloat;
  /** [rows, Σ widths]: row r the concatenation of every block's row r (blocks viewed as [rows, width]), where they live. */
  partsConcatRows(blocks: NativeTensorArg[], rows: number): NativeFloat;
  /** [rows, width]: columns offset..offset + width − 1 of x viewed as [rows, stride], where x lives. */
  partsSliceRows(x: NativeTensorArg, rows: number, offset: number, width: number): NativeFloat;
  /** Σ over the leading dimension, in float64, where x lives. */
  partsSumRows(x: NativeTensorArg): NativeFloat;
  /** `[Q, P]`: out[j, i] = Σ_r x[r, i, j] for x `[R, P, Q]`, float64 sums, where x lives. */
  partsSumRowsTransposed(x: NativeTensorArg): NativeFloat;
  /** `[G, width]`: row g = Σ of x's rows members[offsets[g] .. offsets[g + 1]) (x as `[rows, width]`), float64 sums, where x lives. */
  partsGatherSum(x: NativeTensorArg, width: number, offsets: Int32Array, members: Int32Array): NativeFloat;
  /** REBAR's Gumbel pair of categorical scores `[B, K]`: u = θ + G and the conditional draw ũ, where θ lives. */
  rebarPair(scores: NativeTensorArg, seed: number | bigint): { perturbed: NativeFloat; conditional: NativeFloat };
  /** The VJP of rebarPair's conditional draw at fixed noise, `[B, K]`. */
  rebarPairBackward(scores: NativeTensorArg, grad: NativeTensorArg, seed: number | bigint): NativeFloat;
  /** Internal (bench): exp/s of the CPU vector exp on every thread over cache-resident data. */
  measureExpRate(dtype: 'float32' | 'float64', elementsPerThread: number, repeats: number): number;
  /** Internal (bench): bytes/s (read + written) of large memcpys on every thread. */
  measureCopyBandwidth(bytesPerThread: number, repeats: number): number;
  /** The host result pool's state (internal: tests and the bench). */
  hostPoolStats(): HostPoolStats;
  /** Sets the host result pool's limit in bytes (0 turns it off; internal: tests and the bench). */
  setHostPoolLimit(bytes: number): void;
  DeviceBuffer: { fromHost(data: FloatArray, shape: readonly number[], device?: number): NativeDeviceBuffer };
  logsumexp<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  logsumexpBackward<A extends boolean>(scores: NativeTensorArg, grad: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  softmax<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  sparsemax<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  entmax15<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  entmaxBisect<A extends boolean>(scores: NativeTensorArg, alpha: number, async: A): MaybeAsync<NativeFloat, A>;
  entmaxBackward<A extends boolean>(
    probs: NativeTensorArg,
    grad: NativeTensorArg,
    alpha: number,
    scale: number,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  entropy<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  logProb<A extends boolean>(scores: NativeTensorArg, index: Int32Array, async: A): MaybeAsync<NativeFloat, A>;
  argmax<A extends boolean>(scores: NativeTensorArg, async: A): MaybeAsync<NativeIndexResult, A>;
  /** The k best classes per row: index [k·B] (−1 past the row's finite classes), score [k, B], parts [k, B, K]. */
  categoricalTopk<A extends boolean>(
    scores: NativeTensorArg,
    k: number,
    async: A,
  ): MaybeAsync<{ index: Int32Array; score: NativeFloat; parts: NativeFloat }, A>;
  gumbel<A extends boolean>(
    shape: readonly number[],
    dtype: 'float32' | 'float64',
    seed: number | bigint,
    stream: number | bigint,
    /** false: host; true: cuda:0; N: cuda:N. */
    onDevice: boolean | number,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  gumbelMax<A extends boolean>(
    scores: NativeTensorArg,
    samples: number,
    seed: number | bigint,
    temperature: number,
    async: A,
  ): MaybeAsync<NativeIndexResult, A>;
  gumbelSoftmax<A extends boolean>(
    scores: NativeTensorArg,
    temperature: number,
    seed: number | bigint,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  philox4x32(counter: Uint32Array, key: number | bigint): Uint32Array;
  chainLogPartition<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  chainMarginals<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    withEdges: boolean,
    async: A,
    out?: NativeOut,
  ): MaybeAsync<NativeChainParts & { logPartition: NativeFloat }, A>;
  chainMarginalsBackward<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    grad: NativeChainGrad,
    async: A,
    out?: NativeOut,
  ): MaybeAsync<NativeChainParts, A>;
  chainEntropy<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  chainArgmax<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    async: A,
  ): MaybeAsync<NativeChainParts & { labels: Int32Array; score: NativeFloat }, A>;
  /** The k best labellings per sequence: labels [k·B·N] (−1 past each length and past the finite ones), score [k, B], parts [k, B, ...]. */
  chainTopk<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    k: number,
    async: A,
  ): MaybeAsync<NativeChainParts & { labels: Int32Array; score: NativeFloat }, A>;
  chainSample<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    samples: number,
    seed: number | bigint,
    async: A,
  ): MaybeAsync<NativeChainParts & { labels: Int32Array }, A>;
  chainLogProb<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    labels: Int32Array,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  treeLogPartition<A extends boolean>(spec: NativeTreeSpec, async: A): MaybeAsync<NativeFloat, A>;
  treeMarginals<A extends boolean>(spec: NativeTreeSpec, async: A, out?: NativeTensorArg): MaybeAsync<NativeFloat, A>;
  treeMarginalsBackward<A extends boolean>(
    spec: NativeTreeSpec,
    grad: NativeTensorArg,
    async: A,
    out?: NativeTensorArg,
  ): MaybeAsync<NativeFloat, A>;
  treeEntropy<A extends boolean>(spec: NativeTreeSpec, async: A): MaybeAsync<NativeFloat, A>;
  treeArgmax<A extends boolean>(spec: NativeTreeSpec, async: A): MaybeAsync<NativeTreeDecoded & { score: NativeFloat }, A>;
  /** The k best structures per sentence (every tree structure): decoded [k, B, width], score [k, B], parts [k, B, ...]. */
  treeTopk<A extends boolean>(spec: NativeTreeSpec, k: number, async: A): MaybeAsync<NativeTreeDecoded & { score: NativeFloat }, A>;
  treeSample<A extends boolean>(
    spec: NativeTreeSpec,
    samples: number,
    seed: number | bigint | undefined,
    async: A,
  ): MaybeAsync<NativeTreeDecoded, A>;
  treeLogProb<A extends boolean>(spec: NativeTreeSpec, parts: NativeTensorArg, async: A): MaybeAsync<NativeFloat, A>;
  gumbelPerturb<A extends boolean>(
    scores: NativeTensorArg,
    seed: number | bigint,
    stream: number,
    noiseScale: number,
    scale: number,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  chainSparsemap<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    options: NativeSparseMapOptions,
    async: A,
  ): MaybeAsync<NativeSparseMap, A>;
  chainSparsemapBackward<A extends boolean>(
    potentials: NativeChainPotentials,
    lengths: Int32Array | null,
    maxActive: number,
    support: Int32Array,
    sizes: Int32Array,
    grad: NativeTensorArg,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
  treeSparsemap<A extends boolean>(spec: NativeTreeSpec, options: NativeSparseMapOptions, async: A): MaybeAsync<NativeSparseMap, A>;
  treeSparsemapBackward<A extends boolean>(
    spec: NativeTreeSpec,
    maxActive: number,
    support: Int32Array,
    sizes: Int32Array,
    grad: NativeTensorArg,
    async: A,
  ): MaybeAsync<NativeFloat, A>;
}

/** The package root: the nearest folder above this file with a package.json (lib/ or dist/lib/). */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  // LATENT_STRUCT_ADDON: the path of another build of the addon (the emulated CUDA build of `npm run test:emulated`).
  const override = process.env.LATENT_STRUCT_ADDON;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (override) return require(path.resolve(override)) as NativeAddon;
    return nodeGypBuild(packageRoot()) as NativeAddon;
  } catch (error) {
    throw Object.assign(
      typeError('ERR_ADDON_NOT_FOUND', `latent-struct: the native addon is not built (run \`npm install\`): ${String(error)}`),
      { cause: error },
    );
  }
}

/** The loaded addon (loaded once, on first import). */
export const native: NativeAddon = load();
