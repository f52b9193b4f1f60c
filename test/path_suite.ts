/**
 * The checks the path structures — SemiMarkovCRF (test/semi_markov.test.ts) and AlignmentCRF, global and local
 * (test/alignment.test.ts) — share, as one suite parametrized by a spec: how to build the structure, its enumeration
 * oracle (test/oracles/semi_markov.ts, test/oracles/alignment.ts), its sizes and lengths, and hooks for its own
 * tests. On every available backend: float64 against the oracle (1e-9) with mixed lengths (length 1 included) and
 * junk in the ignored entries (logPartition, entropy, marginals, argmax with its parts, decoded form and score,
 * logProb); −inf masks (zero marginals and gradients on masked parts); marginals = finite differences of log Z and
 * marginalsBackward = the oracle's Cov(z)·g = finite differences of ⟨g, marginals⟩; the sampler against the exact
 * distribution (chi-square; every sample a valid structure, parts = decoded form, reproducible by seed); float32
 * against float64 on random sizes; scores of ±1e3 / ±1e4; a batch against each instance alone (cut to its lengths);
 * async = sync; perturbAndMap = the oracle's argmax of scores + τ·gumbelNoise, perturbedMarginals = the oracle's
 * marginals of (scores + G)/τ; partScores / partsBackward / withScores / supportParts; SparseMAP against the
 * reference of test/oracles/sparsemap.ts (μ, support, duality gap) and sparsemapBackward against its Jacobian and
 * finite differences; and the typed errors.
 */
import { AnyTensor, Device, DeviceTensor, Tensor, gumbelNoise } from '../lib';
import { expectZero, host, row, values } from './arcs';
import {
  backends,
  chiSquarePValue,
  errorCode,
  errorMessage,
  expectClose,
  finiteDifferenceVjp,
  normal,
  randomTensor,
  rng,
  toFloat32,
} from './helpers';
import { Distribution, Structure, covarianceProduct, distributionOf, keyOf, oneHot } from './oracles/enumerate';
import { dualityGap, jacobianProduct, sparsemapReference, stableFiniteDifferenceVjp, usedParts } from './oracles/sparsemap';

/** The lengths of one instance: `[l]` (SemiMarkovCRF) or `[n, m]` (AlignmentCRF). */
export type Lens = number[];

/** A decoded result: `labels` (SemiMarkovCRF) or `path` (AlignmentCRF), `[B, width]` or `[k, B, width]` flat. */
export interface Decoded {
  labels?: Int32Array;
  path?: Int32Array;
}

export interface Solution {
  marginals: AnyTensor;
  support: Int32Array[][];
  weights: Float64Array[];
  iterations: Int32Array;
  converged: boolean[];
}

type Perturb = { seed: number; temperature?: number };

/** The method set of the path structures (TreeStructure's), as the suite calls it. */
export interface PathCrf {
  readonly batch: number;
  logPartition(): AnyTensor;
  logPartitionAsync(): Promise<AnyTensor>;
  marginals(): AnyTensor;
  marginalsAsync(): Promise<AnyTensor>;
  marginalsBackward(grad: AnyTensor): AnyTensor;
  marginalsBackwardAsync(grad: AnyTensor): Promise<AnyTensor>;
  entropy(): AnyTensor;
  entropyAsync(): Promise<AnyTensor>;
  argmax(): AnyTensor;
  argmaxDecoded(): Decoded & { score: AnyTensor; parts: AnyTensor };
  argmaxAsync(): Promise<Decoded & { score: AnyTensor; parts: AnyTensor }>;
  sample(k: number, options: { seed: number }): AnyTensor;
  sampleDecoded(k: number, options: { seed: number }): Decoded & { parts: AnyTensor };
  sampleAsync(k: number, options: { seed: number }): Promise<Decoded & { parts: AnyTensor }>;
  logProb(parts: AnyTensor): AnyTensor;
  logProbAsync(parts: AnyTensor): Promise<AnyTensor>;
  perturbAndMap(options: Perturb): AnyTensor;
  perturbAndMapDecoded(options: Perturb): Decoded & { score: AnyTensor; parts: AnyTensor };
  perturbAndMapAsync(options: Perturb): Promise<Decoded & { score: AnyTensor; parts: AnyTensor }>;
  perturbedMarginals(options: Perturb): AnyTensor;
  perturbedMarginalsAsync(options: Perturb): Promise<AnyTensor>;
  perturbedMarginalsBackward(grad: AnyTensor, options: Perturb): AnyTensor;
  sparsemap(options?: { maxIterations?: number; tolerance?: number; maxActive?: number }): Solution;
  sparsemapAsync(options?: { maxIterations?: number; tolerance?: number; maxActive?: number }): Promise<Solution>;
  sparsemapBackward(grad: AnyTensor, solution?: Solution): AnyTensor;
  sparsemapBackwardAsync(grad: AnyTensor, solution?: Solution): Promise<AnyTensor>;
  partScores(): AnyTensor;
  partsBackward(grad: AnyTensor): AnyTensor;
  supportParts(solution: Solution): AnyTensor;
  withScores(scores: AnyTensor): PathCrf;
  dispose(): void;
}

/** What the suite needs of one instance, from the structure's enumeration oracle. */
export interface PathOracle {
  /** Entries of one instance's block of scores. */
  partCount: number;
  /** Whether some structure of the instance uses part q (analytic, any size). */
  used(q: number): boolean;
  /** The parts of one structure (any size) that −inf masks keep, so that the instance keeps a finite structure. */
  keeper(): number[];
  /** Every structure of the instance, in the oracle's order (tiny sizes). */
  structures(): Structure[];
  /** The parts of a decoded structure (one row), throwing when it is no structure of the instance (any size). */
  partsOfDecoded(decoded: ArrayLike<number>): number[];
  /** Σ of the scores at parts. */
  scoreOf(parts: readonly number[]): number;
  /** The oracle's plain float64 forward-backward (any size): log Z, the marginals and the best score. */
  forwardBackward(): { logZ: number; marginals: Float64Array; best: number };
}

/** One batch configuration: its dimensions (the spec's: `[N, K, C]` or `[N, M]`) and per-instance lengths. */
export interface Batch {
  dims: number[];
  lens: Lens[];
}

export interface PathSpec {
  /** Names the describe blocks (`<name> on cpu`, `<name> errors`). */
  name: string;
  /** The scores' shape for B instances. */
  shape(B: number, dims: number[]): number[];
  /** The structure over scores (host or device) with the lengths (all full when undefined). */
  make(scores: AnyTensor, lens: Lens[] | undefined, device?: Device): PathCrf;
  /** The oracle of instance b. */
  oracle(scores: Tensor, b: number, lens: Lens[]): PathOracle;
  /** The decoded index array of a result. */
  decoded(d: Decoded): Int32Array;
  /** Entries of one decoded row. */
  decodedWidth(dims: number[]): number;
  /** The full lengths of an instance. */
  full(dims: number[]): Lens;
  /** The length-1 corner cases (instances 1, 2, … of mixed batches). */
  ones(dims: number[]): Lens[];
  /** Random lengths within dims. */
  randomLens(dims: number[], random: () => number): Lens;
  /**
   * Instance b alone, cut to its lengths when the shape allows it: its scores `[1, ...]`, lengths, and the map of
   * flat parts of the cut block to the full block.
   */
  cut(scores: Tensor, b: number, lens: Lens[]): { scores: Tensor; lens: Lens[] | undefined; dims: number[]; partIndex(q: number): number };
  /** [B, dims] of the float64-against-enumeration test. */
  sizes: [number, number[]][];
  /** The other tests' batches (tiny: the oracle enumerates them). */
  masked: Batch;
  finiteDifferences: Batch;
  sampling: Batch & { k: number };
  largeScores: Batch;
  alone: Batch;
  async: Batch;
  perturb: Batch;
  sparsemap: Batch;
  /** [B, dims] of float32 against float64 (not enumerated). */
  float32Sizes: [number, number[]][];
  /** Base seed. */
  seed: number;
  /** Bad shapes (each an ERR_INVALID_SHAPE naming `argument`). */
  badShapes: number[][];
  /** The name of the scores argument in messages (`edges`, `scores`). */
  argument: string;
  /** The dims of the errors' batch of 3 full-length instances. */
  errorDims: number[];
  /** Bad options on that batch: what, a constructor call on its scores, the error's `name:code`, its message. */
  badOptions: [string, (scores: Tensor) => unknown, string, RegExp][];
  /** The structure's own tests, added to the matching describe blocks. */
  extras?: {
    backend?: (device: Device) => void;
    errors?: () => void;
  };
}

const tagOf = (x: unknown) => Object.prototype.toString.call(x);

/** Runs f, prefixing the message of what it throws with `label`. */
export function labelled(label: string, f: () => void): void {
  try {
    f();
  } catch (error) {
    (error as Error).message = `${label}: ${(error as Error).message}`;
    throw error;
  }
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Entries of one instance's block. */
export function blockOf(spec: PathSpec, dims: number[]): number {
  return sizeOf(spec.shape(1, dims));
}

/** Mixed lengths: full first, then the spec's length-1 corner cases, then random. */
export function mixedLens(spec: PathSpec, B: number, dims: number[], random: () => number): Lens[] {
  const ones = spec.ones(dims);
  return Array.from({ length: B }, (_, b) => (b === 0 ? spec.full(dims) : b - 1 < ones.length ? ones[b - 1] : spec.randomLens(dims, random)));
}

/**
 * Random scores scale · N(0, 1); the entries no structure uses get junk — ±40·N(0, 1) or −Infinity — which must
 * change nothing.
 */
export function scoresOf(spec: PathSpec, dims: number[], lens: Lens[], random: () => number, scale = 1): Tensor {
  const B = lens.length;
  const p = randomTensor(spec.shape(B, dims), random, scale);
  const block = blockOf(spec, dims);
  for (let b = 0; b < B; b++) {
    const o = spec.oracle(p, b, lens);
    for (let q = 0; q < block; q++) if (!o.used(q)) p.data[b * block + q] = random() < 0.3 ? -Infinity : 40 * normal(random);
  }
  return p;
}

/** Masks used parts with −Infinity at `rate`, never those of the oracle's keeper. */
export function maskScores(spec: PathSpec, p: Tensor, lens: Lens[], random: () => number, rate: number): void {
  const block = p.size / lens.length;
  for (let b = 0; b < lens.length; b++) {
    const o = spec.oracle(p, b, lens);
    const kept = new Set(o.keeper());
    for (let q = 0; q < block; q++) if (o.used(q) && !kept.has(q) && random() < rate) p.data[b * block + q] = -Infinity;
  }
}

/** The parts tensor [S, B, ...] holding structure s mod count_b of instance b in row (s, b). */
function partsTensor(shape: number[], lists: Structure[][], S: number): Tensor {
  const block = sizeOf(shape) / lists.length;
  const data = new Float64Array(S * sizeOf(shape));
  for (let s = 0; s < S; s++) {
    lists.forEach((list, b) => {
      for (const q of list[s % list.length].parts) data[(s * lists.length + b) * block + q] = 1;
    });
  }
  return new Tensor(data, [S, ...shape]);
}

/** The flat parts that are 1 in row r of a one-hot array. */
function chosen(parts: ArrayLike<number>, r: number, size: number): number[] {
  return row(parts, r, size).flatMap((v, q) => (v ? [q] : []));
}

/** scale·(p + noiseScale·G), G = gumbelNoise(p.shape, { seed }) computed here. */
export function perturbedHere(p: Tensor, seed: number, noiseScale: number, scale: number): Tensor {
  const noise = gumbelNoise(p.shape, { seed, dtype: p.dtype }) as Tensor;
  const out = new Float64Array(p.size);
  for (let i = 0; i < p.size; i++) out[i] = scale * (p.data[i] + noiseScale * noise.data[i]);
  return new Tensor(out, p.shape);
}

/** The distribution of instance b (the oracle's structures). */
export function distributionAt(spec: PathSpec, p: Tensor, b: number, lens: Lens[]): Distribution {
  const o = spec.oracle(p, b, lens);
  return distributionOf(o.structures(), o.partCount);
}

/** A structure's results on the host. */
function resultsOf(spec: PathSpec, crf: PathCrf, shape: number[], random: () => number) {
  const logZ = values(crf.logPartition());
  const entropy = values(crf.entropy());
  const marginals = values(crf.marginals());
  const g = randomTensor(shape, random);
  const hvp = values(crf.marginalsBackward(g));
  const best = crf.argmaxDecoded();
  return { logZ, entropy, marginals, g, hvp, best, decoded: spec.decoded(best), bestScore: values(best.score), bestParts: values(best.parts) };
}

/** The tests every path structure passes. */
export function describePathStructure(spec: PathSpec): void {
  const { name, seed } = spec;

  describe.each(backends)(`${name} on %s`, (device) => {
    const make = (p: AnyTensor, lens: Lens[] | undefined) => spec.make(p, lens, device);
    const differentiable = (shape: number[], lens: Lens[]) => {
      const of = (f: (c: PathCrf) => number[]) => (v: Float64Array) => {
        const c = make(new Tensor(v, shape), lens);
        const out = f(c);
        c.dispose();
        return out;
      };
      return { logZOf: of((c) => values(c.logPartition())), marginalsOf: of((c) => values(c.marginals())) };
    };

    test.each(spec.sizes)('float64 matches enumeration: B=%i dims=%j with mixed lengths and junk padding', (B, dims) => {
      const random = rng(seed + 10 * B + sizeOf(dims));
      const lens = mixedLens(spec, B, dims, random);
      const p = scoresOf(spec, dims, lens, random, 1.5);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);
      const crf = make(p, lens);
      expect(crf.batch).toBe(B);
      const { logZ, entropy, marginals, g, hvp, decoded, bestScore, bestParts } = resultsOf(spec, crf, shape, random);
      const argmax = values(crf.argmax());
      expect(logZ.length).toBe(B);
      expect(entropy.length).toBe(B);
      expect(marginals.length).toBe(B * block);
      expect(host(crf.marginals()).shape).toEqual(shape);
      expect(tagOf(decoded)).toBe('[object Int32Array]');
      expect(decoded.length).toBe(B * width);
      const ds = lens.map((_, b) => distributionAt(spec, p, b, lens));
      for (let b = 0; b < B; b++) {
        labelled(`instance ${b} (lengths ${lens[b]})`, () => {
          const o = spec.oracle(p, b, lens);
          const d = ds[b];
          expectClose([logZ[b]], [d.logZ], 1e-9, 1e-12);
          expectClose([entropy[b]], [d.entropy], 1e-9, 1e-12);
          const m = row(marginals, b, block);
          expectClose(m, d.marginals, 1e-9, 1e-12);
          const hv = row(hvp, b, block);
          expectClose(hv, covarianceProduct(d, row(g.data, b, block)), 1e-9, 1e-12);
          for (let q = 0; q < block; q++) {
            if (o.used(q)) continue;
            expectZero(m[q], `marginal of unused part ${q}`);
            expectZero(hv[q], `marginalsBackward of unused part ${q}`);
          }
          const onehot = oneHot(d.best.parts, block);
          expect(row(argmax, b, block)).toEqual(onehot);
          expect(row(bestParts, b, block)).toEqual(onehot);
          expect(row(decoded, b, width)).toEqual(d.best.decoded);
          expectClose([bestScore[b]], [d.best.score], 1e-12, 1e-12);
        });
      }
      // log p of every structure of every instance ([S, B, ...] → [S, B], shorter lists cycling), and of the MAP.
      const lists = ds.map((d) => d.structures);
      const S = Math.max(...lists.map((l) => l.length));
      const logProb = host(crf.logProb(partsTensor(shape, lists, S)));
      expect(logProb.shape).toEqual([S, B]);
      const expected: number[] = [];
      for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) expected.push(Math.log(ds[b].probs[s % lists[b].length]));
      expectClose(logProb.data, expected, 1e-9, 1e-9);
      const single = host(crf.logProb(new Tensor(Float64Array.from(argmax), shape)));
      expect(single.shape).toEqual([B]);
      expectClose(single.data, ds.map((d) => d.best.score - d.logZ), 1e-9, 1e-9);
      crf.dispose();
    });

    test('−inf masks: float64 matches enumeration, masked parts get zero marginals and gradients', () => {
      const { dims, lens } = spec.masked;
      const B = lens.length;
      const random = rng(seed + 1);
      const p = scoresOf(spec, dims, lens, random);
      maskScores(spec, p, lens, random, 0.4);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);
      const crf = make(p, lens);
      const { logZ, entropy, marginals, g, hvp, decoded, bestScore } = resultsOf(spec, crf, shape, random);
      let maskedStructures = 0;
      let maskedParts = 0;
      for (let b = 0; b < B; b++) {
        labelled(`instance ${b} (lengths ${lens[b]})`, () => {
          const o = spec.oracle(p, b, lens);
          const d = distributionAt(spec, p, b, lens);
          maskedStructures += d.structures.filter((st) => st.score === -Infinity).length;
          expectClose([logZ[b]], [d.logZ], 1e-9, 1e-12);
          expectClose([entropy[b]], [d.entropy], 1e-9, 1e-12);
          const m = row(marginals, b, block);
          expectClose(m, d.marginals, 1e-9, 1e-12);
          const hv = row(hvp, b, block);
          expectClose(hv, covarianceProduct(d, row(g.data, b, block)), 1e-9, 1e-12);
          for (let q = 0; q < block; q++) {
            if (!o.used(q) || p.data[b * block + q] !== -Infinity) continue;
            maskedParts++;
            expectZero(m[q], `marginal of masked part ${q}`);
            expectZero(hv[q], `marginalsBackward of masked part ${q}`);
          }
          expect(row(decoded, b, width)).toEqual(d.best.decoded);
          expectClose([bestScore[b]], [d.best.score], 1e-12, 1e-12);
        });
      }
      expect(maskedStructures).toBeGreaterThan(0);
      expect(maskedParts).toBeGreaterThan(0);
      crf.dispose();
    });

    test('marginals = finite differences of log Z; marginalsBackward = Cov(z)·g = finite differences of ⟨g, marginals⟩', () => {
      const { dims, lens } = spec.finiteDifferences;
      const B = lens.length;
      const random = rng(seed + 2);
      const p = scoresOf(spec, dims, lens, random);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const crf = make(p, lens);
      const marginals = values(crf.marginals());
      const { logZOf, marginalsOf } = differentiable(shape, lens);
      const x0 = p.data as Float64Array;
      expectClose(finiteDifferenceVjp(logZOf, x0, new Float64Array(B).fill(1)), marginals, 1e-6, 1e-8);
      const g = randomTensor(shape, random);
      const hvp = values(crf.marginalsBackward(g));
      expect(hvp.length).toBe(B * block);
      for (let b = 0; b < B; b++) {
        labelled(`instance ${b}`, () =>
          expectClose(row(hvp, b, block), covarianceProduct(distributionAt(spec, p, b, lens), row(g.data, b, block)), 1e-9, 1e-12),
        );
      }
      expectClose(hvp, finiteDifferenceVjp(marginalsOf, x0, g.data, 1e-5), 1e-5, 1e-7);
      crf.dispose();
    });

    test('samples follow the exact distribution (chi-square), are valid structures whose parts match, and are reproducible', () => {
      const { dims, lens, k } = spec.sampling;
      const B = lens.length;
      const random = rng(seed + 3);
      const p = scoresOf(spec, dims, lens, random);
      maskScores(spec, p, lens, random, 0.1);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);
      const crf = make(p, lens);
      const result = crf.sampleDecoded(k, { seed: 4321 });
      const decoded = spec.decoded(result);
      expect(tagOf(decoded)).toBe('[object Int32Array]');
      expect(decoded.length).toBe(k * B * width);
      const sampleParts = host(result.parts);
      expect(sampleParts.shape).toEqual([k, ...shape]);
      const ds = lens.map((_, b) => distributionAt(spec, p, b, lens));
      for (let b = 0; b < B; b++) {
        const d = ds[b];
        const o = spec.oracle(p, b, lens);
        const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
        const counts = new Array<number>(d.structures.length).fill(0);
        for (let s = 0; s < k; s++) {
          const r = row(decoded, s * B + b, width);
          labelled(`sample ${s} of instance ${b} (lengths ${lens[b]}): [${r}]`, () => o.partsOfDecoded(r));
          const i = index.get(keyOf(r));
          if (i === undefined) throw new Error(`sample ${s} of instance ${b} is no structure: ${r}`);
          if (d.probs[i] === 0) throw new Error(`sample ${s} of instance ${b} has probability 0: ${r}`);
          counts[i]++;
          const got = row(sampleParts.data, s * B + b, block);
          const want = oneHot(d.structures[i].parts, block);
          if (got.some((v, q) => v !== want[q])) throw new Error(`sample ${s} of instance ${b}: parts disagree with its decoded form ${r}`);
        }
        const pValue = chiSquarePValue(counts, d.probs);
        if (!(pValue > 1e-4)) throw new Error(`instance ${b} (lengths ${lens[b]}): chi-square p-value ${pValue}`);
      }
      // log p of every structure, masked ones (−Infinity) included.
      const S = Math.max(...ds.map((d) => d.structures.length));
      expect(ds.some((d) => d.structures.some((st) => st.score === -Infinity))).toBe(true);
      const logProb = values(crf.logProb(partsTensor(shape, ds.map((d) => d.structures), S)));
      const expected: number[] = [];
      for (let s = 0; s < S; s++) for (const d of ds) expected.push(d.structures[s % d.structures.length].score - d.logZ);
      expectClose(logProb, expected, 1e-9, 1e-9);
      // logProb of decoded forms ([S·B·width] → [S, B], [B·width] → [B]) equals logProb of their parts.
      const first = crf.sampleDecoded(20, { seed: 77 });
      const firstDecoded = spec.decoded(first) as unknown as AnyTensor;
      expect(host(crf.logProb(firstDecoded)).shape).toEqual([20, B]);
      expect(values(crf.logProb(firstDecoded))).toEqual(values(crf.logProb(first.parts)));
      const best = crf.argmaxDecoded();
      expect(values(crf.logProb(spec.decoded(best) as unknown as AnyTensor))).toEqual(values(crf.logProb(best.parts)));
      const again = crf.sampleDecoded(50, { seed: 4321 });
      const twice = crf.sampleDecoded(50, { seed: 4321 });
      expect(Array.from(spec.decoded(again))).toEqual(Array.from(spec.decoded(twice)));
      expect(values(again.parts)).toEqual(values(twice.parts));
      expect(values(crf.sample(50, { seed: 4321 }))).toEqual(values(twice.parts));
      expect(Array.from(spec.decoded(crf.sampleDecoded(50, { seed: 5 })))).not.toEqual(Array.from(spec.decoded(again)));
      crf.dispose();
    });

    test('larger sizes: float64 matches the oracle forward-backward (log Z, marginals, MAP score) with masks and junk', () => {
      const random = rng(seed + 13);
      for (const [B, dims] of spec.float32Sizes) {
        labelled(`B=${B} dims=${dims}`, () => {
          const lens = mixedLens(spec, B, dims, random);
          const p = scoresOf(spec, dims, lens, random);
          maskScores(spec, p, lens, random, 0.1);
          const block = blockOf(spec, dims);
          const crf = make(p, lens);
          const logZ = values(crf.logPartition());
          const marginals = values(crf.marginals());
          const best = values(crf.argmaxDecoded().score);
          for (let b = 0; b < B; b++) {
            labelled(`instance ${b} (lengths ${lens[b]})`, () => {
              const fb = spec.oracle(p, b, lens).forwardBackward();
              expectClose([logZ[b]], [fb.logZ], 1e-10, 1e-10);
              expectClose(row(marginals, b, block), fb.marginals, 1e-8, 1e-10);
              expectClose([best[b]], [fb.best], 1e-10, 1e-10);
            });
          }
          crf.dispose();
        });
      }
    });

    test('float32 matches float64 on random sizes with mixed lengths and −inf masks', () => {
      const random = rng(seed + 4);
      for (const [B, dims] of spec.float32Sizes) {
        labelled(`B=${B} dims=${dims}`, () => {
          const lens = mixedLens(spec, B, dims, random);
          const p = scoresOf(spec, dims, lens, random);
          maskScores(spec, p, lens, random, 0.1);
          const shape = spec.shape(B, dims);
          const block = blockOf(spec, dims);
          const width = spec.decodedWidth(dims);
          const c64 = make(p, lens);
          const c32 = make(toFloat32(p), lens);
          const logZ32 = host(c32.logPartition());
          expect(logZ32.dtype).toBe('float32');
          expectClose(logZ32.data, values(c64.logPartition()), 1e-5, 1e-4);
          expectClose(values(c32.entropy()), values(c64.entropy()), 1e-4, 1e-4);
          expectClose(values(c32.marginals()), values(c64.marginals()), 1e-4, 1e-4);
          const g = randomTensor(shape, random);
          expectClose(values(c32.marginalsBackward(toFloat32(g))), values(c64.marginalsBackward(g)), 1e-3, 1e-4);
          // The float32 MAP is a MAP of the float64 scores up to float32 rounding, and a valid structure.
          const best64 = c64.argmaxDecoded();
          const best32 = c32.argmaxDecoded();
          const score64 = values(best64.score);
          const parts32 = values(best32.parts);
          const parts64 = values(best64.parts);
          for (let b = 0; b < B; b++) {
            const o = spec.oracle(p, b, lens);
            for (const [best, parts] of [
              [best32, parts32],
              [best64, parts64],
            ] as const) {
              const fromDecoded = o.partsOfDecoded(row(spec.decoded(best), b, width));
              expect(chosen(parts, b, block)).toEqual([...fromDecoded].sort((a, c) => a - c));
            }
            expect(o.scoreOf(chosen(parts32, b, block))).toBeGreaterThan(score64[b] - 1e-3 * (1 + Math.abs(score64[b])));
            expectClose([o.scoreOf(chosen(parts64, b, block))], [score64[b]], 1e-12, 1e-12);
          }
          expectClose(values(best32.score), score64, 1e-5, 1e-4);
          c64.dispose();
          c32.dispose();
        });
      }
    });

    test('scores of ±1e3 and ±1e4 and −inf masks give finite results equal to the oracle, gradients included', () => {
      for (const scale of [1e3, 1e4]) {
        labelled(`scale ${scale}`, () => {
          const { dims, lens } = spec.largeScores;
          const B = lens.length;
          const random = rng(seed + 5 + scale);
          const shape = spec.shape(B, dims);
          const block = blockOf(spec, dims);
          const width = spec.decodedWidth(dims);
          // Instances 0 and 3: a common offset of ±scale on every entry; 1 and 2: scale · N(0, 1) (peaked).
          const p = scoresOf(spec, dims, lens, random);
          for (let q = 0; q < block; q++) {
            p.data[q] += scale;
            p.data[3 * block + q] -= scale;
            p.data[block + q] *= scale;
            p.data[2 * block + q] *= scale;
          }
          maskScores(spec, p, lens, random, 0.2);
          const crf = make(p, lens);
          const { logZ, entropy, marginals, g, hvp, decoded, bestScore } = resultsOf(spec, crf, shape, random);
          for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
          for (let b = 0; b < B; b++) {
            labelled(`instance ${b} (lengths ${lens[b]})`, () => {
              const d = distributionAt(spec, p, b, lens);
              expectClose([logZ[b]], [d.logZ], 1e-12, 1e-9);
              expectClose([entropy[b]], [d.entropy], 1e-6, 1e-8);
              expectClose(row(marginals, b, block), d.marginals, 1e-9, 1e-9);
              expectClose(row(hvp, b, block), covarianceProduct(d, row(g.data, b, block)), 1e-7, 1e-8);
              expect(row(decoded, b, width)).toEqual(d.best.decoded);
              expectClose([bestScore[b]], [d.best.score], 1e-12);
            });
          }
          if (scale === 1e3) {
            const { logZOf, marginalsOf } = differentiable(shape, lens);
            const x0 = p.data as Float64Array;
            expectClose(finiteDifferenceVjp(logZOf, x0, new Float64Array(B).fill(1), 1e-4), marginals, 1e-5, 1e-6);
            expectClose(hvp, finiteDifferenceVjp(marginalsOf, x0, g.data, 1e-4), 1e-4, 1e-6);
            const c32 = make(toFloat32(p), lens);
            const m32 = values(c32.marginals());
            for (const v of [...values(c32.logPartition()), ...values(c32.entropy()), ...m32]) expect(Number.isFinite(v)).toBe(true);
            expectClose(m32, marginals, 0, 2e-2);
            expectClose(values(c32.logPartition()), logZ, 1e-5, 1e-2);
            c32.dispose();
          }
          crf.dispose();
        });
      }
    });

    test('a batch with lengths equals each instance alone (cut to its lengths), and the padding is zero', () => {
      const { dims, lens } = spec.alone;
      const B = lens.length;
      const random = rng(seed + 6);
      const p = scoresOf(spec, dims, lens, random);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);
      const crf = make(p, lens);
      const { logZ, entropy, marginals, g, hvp, decoded, bestScore } = resultsOf(spec, crf, shape, random);
      const samples = crf.sampleDecoded(4, { seed: 12 });
      for (let b = 0; b < B; b++) {
        labelled(`instance ${b} (lengths ${lens[b]})`, () => {
          const o = spec.oracle(p, b, lens);
          const cut = spec.cut(p, b, lens);
          const cutBlock = blockOf(spec, cut.dims);
          const cutWidth = spec.decodedWidth(cut.dims);
          const gCut = new Float64Array(cutBlock);
          for (let q = 0; q < cutBlock; q++) gCut[q] = g.data[b * block + cut.partIndex(q)];
          const single = make(cut.scores, cut.lens);
          expectClose([logZ[b]], values(single.logPartition()), 1e-12, 1e-12);
          expectClose([entropy[b]], values(single.entropy()), 1e-10, 1e-12);
          const m1 = values(single.marginals());
          const h1 = values(single.marginalsBackward(new Tensor(gCut, [1, ...cut.scores.shape.slice(1)])));
          const embeddedM = new Array<number>(block).fill(0);
          const embeddedH = new Array<number>(block).fill(0);
          for (let q = 0; q < cutBlock; q++) {
            embeddedM[cut.partIndex(q)] = m1[q];
            embeddedH[cut.partIndex(q)] = h1[q];
          }
          const mb = row(marginals, b, block);
          const hb = row(hvp, b, block);
          expectClose(mb, embeddedM, 1e-10, 1e-13);
          expectClose(hb, embeddedH, 1e-9, 1e-12);
          for (let q = 0; q < block; q++) {
            if (o.used(q)) continue;
            expectZero(mb[q], `marginal of padding part ${q}`);
            expectZero(hb[q], `marginalsBackward of padding part ${q}`);
          }
          // The decoded MAP: the instance's alone, in the batch's coordinates (checked by the oracle's parts).
          const aloneBest = single.argmaxDecoded();
          expectClose([bestScore[b]], values(aloneBest.score), 1e-12, 1e-12);
          const aloneParts = spec
            .oracle(cut.scores, 0, cut.lens ?? [spec.full(cut.dims)])
            .partsOfDecoded(row(spec.decoded(aloneBest), 0, cutWidth))
            .map((q) => cut.partIndex(q))
            .sort((a, c) => a - c);
          expect([...o.partsOfDecoded(row(decoded, b, width))].sort((a, c) => a - c)).toEqual(aloneParts);
          // Samples of the batch are valid structures of each instance, padded with −1.
          for (let s = 0; s < 4; s++) labelled(`sample ${s}`, () => o.partsOfDecoded(row(spec.decoded(samples), s * B + b, width)));
          single.dispose();
        });
      }
      crf.dispose();
    });

    test('async forms equal the sync ones', async () => {
      const { dims, lens } = spec.async;
      const B = lens.length;
      const random = rng(seed + 7);
      const p = scoresOf(spec, dims, lens, random);
      const shape = spec.shape(B, dims);
      const crf = make(p, lens);
      expect(values(await crf.logPartitionAsync())).toEqual(values(crf.logPartition()));
      expect(values(await crf.entropyAsync())).toEqual(values(crf.entropy()));
      expect(values(await crf.marginalsAsync())).toEqual(values(crf.marginals()));
      const g = randomTensor(shape, random);
      expect(values(await crf.marginalsBackwardAsync(g))).toEqual(values(crf.marginalsBackward(g)));
      const bestAsync = await crf.argmaxAsync();
      const best = crf.argmaxDecoded();
      expect(Array.from(spec.decoded(bestAsync))).toEqual(Array.from(spec.decoded(best)));
      expect(values(bestAsync.score)).toEqual(values(best.score));
      expect(values(bestAsync.parts)).toEqual(values(best.parts));
      const samplesAsync = await crf.sampleAsync(7, { seed: 8 });
      const samples = crf.sampleDecoded(7, { seed: 8 });
      expect(Array.from(spec.decoded(samplesAsync))).toEqual(Array.from(spec.decoded(samples)));
      expect(values(samplesAsync.parts)).toEqual(values(samples.parts));
      const parts = host(crf.sample(3, { seed: 2 }));
      expect(values(await crf.logProbAsync(parts))).toEqual(values(crf.logProb(parts)));
      const perturbedAsync = await crf.perturbAndMapAsync({ seed: 4, temperature: 0.5 });
      const perturbed = crf.perturbAndMapDecoded({ seed: 4, temperature: 0.5 });
      expect(Array.from(spec.decoded(perturbedAsync))).toEqual(Array.from(spec.decoded(perturbed)));
      expect(values(perturbedAsync.parts)).toEqual(values(perturbed.parts));
      expect(values(perturbedAsync.score)).toEqual(values(perturbed.score));
      expect(values(await crf.perturbedMarginalsAsync({ seed: 4, temperature: 2 }))).toEqual(
        values(crf.perturbedMarginals({ seed: 4, temperature: 2 })),
      );
      const sync = crf.sparsemap();
      const async = await crf.sparsemapAsync();
      expect(values(async.marginals)).toEqual(values(sync.marginals));
      expect(async.support.map((s) => s.map((d) => Array.from(d)))).toEqual(sync.support.map((s) => s.map((d) => Array.from(d))));
      expect(async.weights.map((w) => Array.from(w))).toEqual(sync.weights.map((w) => Array.from(w)));
      expect(Array.from(async.iterations)).toEqual(Array.from(sync.iterations));
      expect(async.converged).toEqual(sync.converged);
      const back = values(crf.sparsemapBackward(g, sync));
      expect(values(await crf.sparsemapBackwardAsync(g, sync))).toEqual(back);
      expect(values(await crf.sparsemapBackwardAsync(g))).toEqual(back);
      crf.dispose();
    });

    describe('Gumbel perturbations', () => {
      const { dims, lens } = spec.perturb;
      const B = lens.length;
      const random = rng(seed + 8);
      const p = scoresOf(spec, dims, lens, random);
      maskScores(spec, p, lens, random, 0.2);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);

      test.each([1, 0.5, 3])('perturbAndMap = the oracle argmax of scores + τ·G (τ = %d); masked parts stay 0', (tau) => {
        const crf = make(p, lens);
        const perturbed = perturbedHere(p, 11, tau, 1);
        const got = crf.perturbAndMapDecoded({ seed: 11, temperature: tau });
        const parts = values(got.parts);
        const scores = values(got.score);
        for (let b = 0; b < B; b++) {
          labelled(`instance ${b} (lengths ${lens[b]})`, () => {
            const d = distributionAt(spec, perturbed, b, lens);
            expect(row(spec.decoded(got), b, width)).toEqual(d.best.decoded);
            expect(row(parts, b, block)).toEqual(oneHot(d.best.parts, block));
            expectClose([scores[b]], [d.best.score], 1e-12, 1e-12);
            for (let q = 0; q < block; q++) if (p.data[b * block + q] === -Infinity) expectZero(parts[b * block + q], `part ${q}`);
          });
        }
        expect(values(crf.perturbAndMap({ seed: 11, temperature: tau }))).toEqual(parts);
        // Different seeds give different structures; τ → 0 gives the argmax.
        const seen = new Set(Array.from({ length: 12 }, (_, s) => values(crf.perturbAndMap({ seed: s, temperature: tau })).join(',')));
        expect(seen.size).toBeGreaterThan(1);
        expect(values(crf.perturbAndMap({ seed: 5, temperature: 1e-9 }))).toEqual(values(crf.argmax()));
        crf.dispose();
      });

      test.each([1, 0.25])('perturbedMarginals = the oracle marginals of (scores + G)/τ (τ = %d); backward = finite differences', (tau) => {
        const crf = make(p, lens);
        const options = { seed: 21, temperature: tau };
        const got = values(crf.perturbedMarginals(options));
        const perturbed = perturbedHere(p, 21, 1, 1 / tau);
        for (let b = 0; b < B; b++) {
          labelled(`instance ${b}`, () => expectClose(row(got, b, block), distributionAt(spec, perturbed, b, lens).marginals, 1e-9, 1e-12));
        }
        const g = randomTensor(shape, random);
        const back = values(crf.perturbedMarginalsBackward(g, options));
        const marginalsAt = (x: Float64Array) => {
          const c = make(new Tensor(x, shape), lens);
          const out = values(c.perturbedMarginals(options));
          c.dispose();
          return out;
        };
        expectClose(back, finiteDifferenceVjp(marginalsAt, p.data as Float64Array, g.data, 1e-6), 1e-5, 1e-6);
        crf.dispose();
      });
    });

    test('partScores are the scores, partsBackward the identity, withScores keeps the lengths, supportParts the support', () => {
      const { dims, lens } = spec.sparsemap;
      const B = lens.length;
      const random = rng(seed + 9);
      const p = scoresOf(spec, dims, lens, random);
      const shape = spec.shape(B, dims);
      const block = blockOf(spec, dims);
      const width = spec.decodedWidth(dims);
      const crf = make(p, lens);
      expect(values(crf.partScores())).toEqual(Array.from(p.data));
      const g = randomTensor(shape, random);
      expect(values(crf.partsBackward(g))).toEqual(Array.from(g.data));
      const q = scoresOf(spec, dims, lens, random);
      const other = crf.withScores(q);
      const fresh = make(q, lens);
      expect(values(other.logPartition())).toEqual(values(fresh.logPartition()));
      expect(values(other.marginals())).toEqual(values(fresh.marginals()));
      const sol = crf.sparsemap();
      const support = host(crf.supportParts(sol));
      const S = Math.max(...sol.support.map((s) => s.length));
      expect(support.shape).toEqual([S, ...shape]);
      for (let b = 0; b < B; b++) {
        const o = spec.oracle(p, b, lens);
        for (let i = 0; i < S; i++) {
          const d = sol.support[b][Math.min(i, sol.support[b].length - 1)];
          expect(d.length).toBe(width);
          expect(row(support.data, i * B + b, block)).toEqual(oneHot(o.partsOfDecoded(d), block));
        }
      }
      [crf, other, fresh].forEach((c) => c.dispose());
    });

    describe('SparseMAP', () => {
      const { dims, lens } = spec.sparsemap;
      const B = lens.length;
      const block = blockOf(spec, dims);
      const shape = spec.shape(B, dims);
      let cached: { p: Tensor; lists: Structure[][] } | undefined;
      const problem = () => {
        if (cached) return cached;
        const random = rng(seed + 10);
        const p = scoresOf(spec, dims, lens, random);
        return (cached = { p, lists: lens.map((_, b) => spec.oracle(p, b, lens).structures()) });
      };
      const refs = new Map<string, ReturnType<typeof sparsemapReference>>();
      /** The reference of instance b of scores p (null when no structure has parts: μ = 0). */
      const referenceOf = (p: Tensor, lists: Structure[][], b: number) => {
        if (usedParts(lists[b]).length === 0) return null;
        const eta = row(p.data, b, block);
        const key = `${b}:${eta.join(',')}`;
        let ref = refs.get(key);
        if (!ref) refs.set(key, (ref = sparsemapReference(lists[b], eta, block)));
        return ref;
      };

      /** A solution checked as a point of M with a valid support, optimal, and (float64) the reference's. */
      const expectSolution = (p: Tensor, lists: Structure[][], sol: Solution, tolerance: { representation: number; gap: number; reference: number }) => {
        const mu = values(sol.marginals);
        expect(mu.length).toBe(B * block);
        expect(sol.support.length).toBe(B);
        expect(sol.weights.length).toBe(B);
        expect(tagOf(sol.iterations)).toBe('[object Int32Array]');
        for (let b = 0; b < B; b++) {
          labelled(`instance ${b} (lengths ${lens[b]})`, () => {
            const m = row(mu, b, block);
            const list = lists[b];
            const o = spec.oracle(p, b, lens);
            const support = sol.support[b];
            const weights = sol.weights[b];
            expect(support.length).toBeGreaterThanOrEqual(1);
            expect(weights.length).toBe(support.length);
            const combination = new Float64Array(block);
            const seen = new Set<string>();
            support.forEach((d, i) => {
              expect(tagOf(d)).toBe('[object Int32Array]');
              const k = list.findIndex((s) => keyOf(s.decoded) === keyOf(d));
              if (k < 0) throw new Error(`support structure ${i} [${Array.from(d)}] is no structure of the instance`);
              if (seen.has(keyOf(d))) throw new Error(`support structure ${i} [${Array.from(d)}] appears twice`);
              seen.add(keyOf(d));
              if (!(weights[i] > 0)) throw new Error(`weight ${i} is ${weights[i]}, expected > 0`);
              for (const q of list[k].parts) combination[q] += weights[i];
            });
            expectClose([weights.reduce((a, c) => a + c, 0)], [1], 0, tolerance.representation);
            expectClose(m, combination, 0, tolerance.representation);
            for (let q = 0; q < block; q++) if (!o.used(q)) expectZero(m[q], `μ of unused part ${q}`);
            expect(sol.converged[b]).toBe(true);
            const ref = referenceOf(p, lists, b);
            if (ref === null) return;
            const gap = dualityGap(list, row(p.data, b, block), m);
            if (!(gap <= tolerance.gap)) throw new Error(`duality gap ${gap} > ${tolerance.gap}`);
            labelled('μ against the reference', () => expectClose(m, ref.marginals, 0, tolerance.reference));
          });
        }
      };

      test('μ is the projection of the scores onto M: the reference, a point of M with a valid support, optimal', () => {
        const { p, lists } = problem();
        const crf = make(p, lens);
        expectSolution(p, lists, crf.sparsemap(), { representation: 1e-9, gap: 1e-8, reference: 1e-7 });
        crf.dispose();
      });

      test('±100 scores: the argmax alone where the reference says so', () => {
        const random = rng(seed + 11);
        const p = scoresOf(spec, dims, lens, random, 100);
        const lists = lens.map((_, b) => spec.oracle(p, b, lens).structures());
        const crf = make(p, lens);
        const sol = crf.sparsemap();
        const best = spec.decoded(crf.argmaxDecoded());
        crf.dispose();
        expectSolution(p, lists, sol, { representation: 1e-9, gap: 1e-6, reference: 1e-7 });
        let singletons = 0;
        for (let b = 0; b < B; b++) {
          const ref = referenceOf(p, lists, b);
          if (ref === null || ref.support.length !== 1) continue;
          singletons++;
          expect(sol.support[b].map((d) => Array.from(d))).toEqual([row(best, b, spec.decodedWidth(dims))]);
          expect(Array.from(sol.weights[b])).toEqual([1]);
        }
        expect(singletons).toBeGreaterThanOrEqual(1);
      });

      test('sparsemapBackward = the reference Jacobian = finite differences (stable supports); zero padding', () => {
        const { p, lists } = problem();
        const crf = make(p, lens);
        const sol = crf.sparsemap();
        const g = randomTensor(shape, rng(seed + 12));
        const backward = values(crf.sparsemapBackward(g, sol));
        expectClose(values(crf.sparsemapBackward(g)), backward, 0, 1e-12);
        crf.dispose();
        expect(backward.length).toBe(B * block);
        let checked = 0;
        for (let b = 0; b < B; b++) {
          labelled(`instance ${b} (lengths ${lens[b]})`, () => {
            const got = row(backward, b, block);
            const o = spec.oracle(p, b, lens);
            for (let q = 0; q < block; q++) if (!o.used(q)) expectZero(got[q], `backward of unused part ${q}`);
            const ref = referenceOf(p, lists, b);
            if (ref === null) {
              expect(got).toEqual(new Array(block).fill(0));
              return;
            }
            if (!ref.stable) return;
            checked++;
            expectClose(got, jacobianProduct(ref.jacobian, row(g.data, b, block)), 1e-7, 1e-7);
          });
        }
        expect(checked).toBeGreaterThanOrEqual(1);
        const supportKey = (s: Solution) => s.support.map((list) => list.map((d) => keyOf(d)).sort().join('|')).join('/');
        const { grad, stable } = stableFiniteDifferenceVjp(
          (x) => {
            const c = make(new Tensor(x, shape), lens);
            const s = c.sparsemap();
            c.dispose();
            return { values: values(s.marginals), key: supportKey(s) };
          },
          p.data as Float64Array,
          g.data,
          1e-5,
        );
        const kept = backward.flatMap((_, i) => (stable[i] ? [i] : []));
        expect(kept.length).toBeGreaterThan(backward.length / 2);
        expectClose(
          kept.map((i) => backward[i]),
          kept.map((i) => grad[i]),
          1e-6,
          1e-6,
        );
      });

      test('float32 matches float64 (1e-4)', () => {
        const { p, lists } = problem();
        const c32 = make(toFloat32(p), lens);
        const sol32 = c32.sparsemap();
        c32.dispose();
        expect(host(sol32.marginals).dtype).toBe('float32');
        expectSolution(p, lists, sol32, { representation: 1e-6, gap: 1e-4, reference: 1e-4 });
      });
    });

    spec.extras?.backend?.(device);
  });

  describe(`${name} errors`, () => {
    const dims = spec.errorDims;
    const B = 3;
    const lens = [spec.full(dims), spec.full(dims), spec.full(dims)];
    const scores = () => scoresOf(spec, dims, lens, rng(1));
    const block = blockOf(spec, dims);

    test('bad shapes, bad lengths and non-tensors are typed errors naming the argument', () => {
      for (const shape of spec.badShapes) {
        labelled(`shape [${shape}]`, () => {
          const f = () => spec.make(randomTensor(shape, rng(1)), undefined);
          expect(errorCode(f)).toBe('RangeError:ERR_INVALID_SHAPE');
          expect(errorMessage(f)).toMatch(new RegExp(`\\b${spec.argument}\\b`));
        });
      }
      expect(errorCode(() => spec.make('scores' as unknown as Tensor, undefined))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
      for (const [what, construct, code, message] of spec.badOptions) {
        labelled(what, () => {
          const f = () => construct(scores());
          expect(errorCode(f)).toBe(code);
          expect(errorMessage(f)).toMatch(message);
        });
      }
      expect(errorCode(() => spec.make(scores(), lens))).toBe('no error');
    });

    test('NaN and +Infinity scores, and instances without a structure of finite score, are rejected', () => {
      for (const bad of [NaN, Infinity]) {
        const p = scores();
        const q = spec.oracle(p, 1, lens).keeper()[0];
        p.data[block + q] = bad;
        const crf = spec.make(p, lens);
        for (const f of [() => crf.logPartition(), () => crf.marginals(), () => crf.argmaxDecoded()]) {
          expect(errorCode(f)).toBe('RangeError:ERR_INVALID_SCORES');
        }
      }
      // Instance 2: every part it uses is −inf.
      const p = scores();
      const o = spec.oracle(p, 2, lens);
      for (let q = 0; q < block; q++) if (o.used(q)) p.data[2 * block + q] = -Infinity;
      const crf = spec.make(p, lens);
      const parts = new Tensor(new Float64Array(p.size), p.shape);
      for (const f of [
        () => crf.logPartition(),
        () => crf.marginals(),
        () => crf.entropy(),
        () => crf.argmaxDecoded(),
        () => crf.sample(2, { seed: 1 }),
        () => crf.logProb(parts),
      ]) {
        expect(errorCode(f)).toBe('RangeError:ERR_INVALID_SCORES');
        expect(errorMessage(f)).toMatch(/\b2\b/);
      }
      // The same entries past the lengths of a shorter instance 2 change nothing.
      const ones = spec.ones(dims)[0];
      const short = [lens[0], lens[1], ones];
      const p2 = scores();
      const o2 = spec.oracle(p2, 2, short);
      for (let q = 0; q < block; q++) if (!o2.used(q)) p2.data[2 * block + q] = -Infinity;
      expect(errorCode(() => spec.make(p2, short).logPartition())).toBe('no error');
    });

    test('async methods reject with the same typed errors', async () => {
      const p = scores();
      const o = spec.oracle(p, 1, lens);
      for (let q = 0; q < block; q++) if (o.used(q)) p.data[block + q] = -Infinity;
      const crf = spec.make(p, lens);
      await expect((async () => crf.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
      await expect((async () => crf.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
      await expect((async () => crf.argmaxAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    });

    test('bad gradients, logProb parts, sample counts and SparseMAP options are typed errors', () => {
      const p = scores();
      const shape = p.shape;
      const crf = spec.make(p, lens);
      const wrong = [
        [B + 1, ...shape.slice(1)],
        [...shape.slice(0, -1), shape[shape.length - 1] + 1],
      ];
      for (const s of wrong) {
        labelled(`grad [${s}]`, () => {
          expect(errorCode(() => crf.marginalsBackward(randomTensor(s, rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
          expect(errorCode(() => crf.logProb(randomTensor(s, rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
          expect(errorCode(() => crf.sparsemapBackward(randomTensor(s, rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        });
      }
      const g = randomTensor([...shape], rng(4));
      for (const bad of [NaN, Infinity, -Infinity]) {
        g.data[3] = bad;
        expect(errorCode(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
      }
      g.data[3] = 0;
      expect(errorCode(() => crf.marginalsBackward(g))).toBe('no error');
      expect(errorCode(() => crf.logProb(crf.argmax()))).toBe('no error');
      // Decoded forms: B·width or S·B·width entries, each within the instance.
      const decoded = spec.decoded(crf.argmaxDecoded());
      expect(errorCode(() => crf.logProb(decoded as unknown as AnyTensor))).toBe('no error');
      expect(errorCode(() => crf.logProb(decoded.slice(1) as unknown as AnyTensor))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      const outside = decoded.slice();
      outside[0] = 99;
      expect(errorCode(() => crf.logProb(outside as unknown as AnyTensor))).toBe('RangeError:ERR_OUT_OF_RANGE');
      for (const k of [0, -1, 1.5, NaN, Infinity]) expect(errorCode(() => crf.sample(k, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(errorCode(() => crf.sampleDecoded(0, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      for (const temperature of [0, -1, NaN, Infinity]) {
        expect(errorCode(() => crf.perturbAndMap({ seed: 1, temperature }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      }
      expect(errorCode(() => crf.perturbAndMap({ seed: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      for (const options of [{ maxIterations: 0 }, { tolerance: 0 }, { tolerance: NaN }, { maxActive: 0 }]) {
        expect(errorCode(() => crf.sparsemap(options))).toBe('RangeError:ERR_OUT_OF_RANGE');
      }
      crf.dispose();
    });

    spec.extras?.errors?.();
  });
}

/** Device tensors of a decoded result freed, its index arrays kept. */
export function released<D extends { parts: AnyTensor; score?: AnyTensor }>(d: D): D {
  for (const t of [d.parts, d.score]) if (t instanceof DeviceTensor) t.dispose();
  return d;
}
