/**
 * The checks DependencyCRF (projective, test/dependency.test.ts) and NonProjectiveDependencyCRF (test/
 * nonprojective.test.ts) share, as one suite parametrized by the class, its enumeration oracle, its seeds and
 * sizes, and hooks for each structure's own tests. With a single root and with any number of roots, on every
 * available backend: float64 against the oracle (1e-9) with mixed lengths (length 1 included) and junk in the
 * ignored entries, −inf masks (zero marginals and gradients on masked arcs), gradients against finite
 * differences and the oracle's Cov(z)·g (zero on the padding), the sampler against the exact distribution
 * (chi-square; every sample a tree), float32 against float64, scores of ±1e3 / ±1e4 and −inf masks, length-1
 * sentences, batched = one by one (gradients included, zero padding), async = sync, and the typed errors.
 */
import { DependencyCRF, DependencyOptions, Device, NonProjectiveDependencyCRF, Tensor } from '../lib';
import {
  arcsOf,
  chosenParts,
  expectTree,
  expectZero,
  host,
  lengthsFor,
  mask,
  outside,
  partsOfHeads,
  partsTensor,
  rootVariants,
  row,
  values,
} from './arcs';
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
import { Distribution, covarianceProduct, keyOf, oneHot } from './oracles/enumerate';
import { DependencySentence, ROOT, dependencySentence, noCrossing, scoreOf } from './oracles/dependency';
import { headsOfDecoded } from './oracles/nonprojective';

/** Either dependency structure. */
export type DependencyStructure = DependencyCRF | NonProjectiveDependencyCRF;

/** A structure's class: `new C(arcs, { lengths, device, singleRoot })`. */
export type DependencyClass<C extends DependencyStructure = DependencyStructure> = new (
  arcs: Tensor,
  options?: DependencyOptions,
) => C;

/** Builds a structure over arc scores p on a backend. */
export type CrfOf<C extends DependencyStructure = DependencyStructure> = (
  p: Tensor,
  lengths: number[] | undefined,
  device: Device,
  singleRoot: boolean,
) => C;

/** The CrfOf of a class. */
export function crfOfClass<C extends DependencyStructure>(Class: DependencyClass<C>): CrfOf<C> {
  return (p, lengths, device, singleRoot) => new Class(p, { lengths, device, singleRoot });
}

/** What the common suite needs of a dependency structure. */
export interface DependencySpec {
  /** The class name, which names the describe blocks (`<name> on cpu`, `<name> errors`). */
  name: string;
  Class: DependencyClass;
  /** The enumeration oracle: the exact distribution over the structure's trees of one sentence. */
  distribution: (x: DependencySentence) => Distribution;
  /** Whether trees may have crossing arcs (non-projective). */
  crossingArcs: boolean;
  /** [B, N] of the float64-against-enumeration tests. */
  sizes: [number, number][];
  /**
   * Base seeds of the tests, to which the single-root variant adds 1 (`enumeration`: 100, plus B·10 + N;
   * `largeScores`: plus the scale).
   */
  seeds: {
    enumeration: number;
    finiteDifferences: number;
    sampling: number;
    float32: number;
    largeScores: number;
    batch: number;
    async: number;
  };
  /** The sampling test: N, the lengths (one sentence each) and the number of samples. */
  sampling: { N: number; lengths: number[]; k: number };
  /** Absolute tolerance on log Z at scores of ±scale (the relative one is 1e-12). */
  largeScoreLogZAtol: (scale: number, N: number) => number;
  /** The structure's own tests, added to the matching describe blocks of the suite. */
  extras?: {
    /** In `<name> on <device>` › `<root variant>`. */
    variant?: (device: Device, singleRoot: boolean) => void;
    /** In `<name> on <device>`. */
    backend?: (device: Device) => void;
    /** In `<name> errors`. */
    errors?: () => void;
  };
}

/**
 * A structure's results on the host: log Z, entropy, marginals, marginalsBackward(g) for g ~ N(0, 1) drawn from
 * `random` (returned too), and the argmax with its score.
 */
export function resultsOf(crf: DependencyStructure, random: () => number) {
  const logZ = values(crf.logPartition());
  const entropy = values(crf.entropy());
  const marginals = values(crf.marginals());
  const g = randomTensor([crf.batch, crf.length, crf.length], random);
  const hvp = values(crf.marginalsBackward(g));
  const best = crf.argmaxDecoded();
  return { logZ, entropy, marginals, g, hvp, best, bestScore: values(best.score) };
}

/** log Z and the marginals as functions of the flat scores (for finite differences). */
function differentiable(crfOf: CrfOf, shape: number[], lengths: number[], device: Device, singleRoot: boolean) {
  const of = (f: (c: DependencyStructure) => number[]) => (v: Float64Array) => {
    const c = crfOf(new Tensor(v, shape), lengths, device, singleRoot);
    const out = f(c);
    c.dispose();
    return out;
  };
  return { logZOf: of((c) => values(c.logPartition())), marginalsOf: of((c) => values(c.marginals())) };
}

/** The tests every dependency structure passes, with its own (spec.extras) added to the same blocks. */
export function describeDependencyStructure(spec: DependencySpec): void {
  const { name, Class, distribution, seeds } = spec;
  const crfOf = crfOfClass(Class);
  const trees = spec.crossingArcs ? 'tree' : 'projective tree';

  describe.each(backends)(`${name} on %s`, (device) => {
    describe.each(rootVariants)('%s', (_variant, singleRoot) => {
      const oracleOf = (p: Tensor, b: number, lengths: number[]) => distribution(dependencySentence(p, b, lengths, singleRoot));

      test.each(spec.sizes)('float64 matches enumeration: B=%i N=%i with mixed lengths', (B, N) => {
        const random = rng(seeds.enumeration + B * 10 + N + (singleRoot ? 100 : 0));
        const lengths = lengthsFor(B, N, random);
        const p = arcsOf(B, N, lengths, random, 1.5);
        const crf = crfOf(p, lengths, device, singleRoot);
        expect([crf.batch, crf.length, crf.singleRoot]).toEqual([B, N, singleRoot]);
        expect(Array.from(crf.lengths as Int32Array)).toEqual(lengths);
        const size = N * N;
        const logZ = values(crf.logPartition());
        const entropy = values(crf.entropy());
        const marginals = values(crf.marginals());
        const argmax = values(crf.argmax());
        const best = crf.argmaxDecoded();
        const bestParts = values(best.parts);
        const bestScore = values(best.score);
        expect(logZ.length).toBe(B);
        expect(entropy.length).toBe(B);
        expect(marginals.length).toBe(B * size);
        expect(Object.prototype.toString.call(best.heads)).toBe('[object Int32Array]');
        expect(best.heads.length).toBe(B * N);
        const xs = Array.from({ length: B }, (_, b) => dependencySentence(p, b, lengths, singleRoot));
        const ds = xs.map(distribution);
        for (let b = 0; b < B; b++) {
          const x = xs[b];
          const d = ds[b];
          expectClose([logZ[b]], [d.logZ], 1e-9, 1e-12);
          expectClose([entropy[b]], [d.entropy], 1e-9, 1e-12);
          const m = row(marginals, b, size);
          expectClose(m, d.marginals, 1e-9, 1e-12);
          for (let q = 0; q < size; q++) if (outside(x, q)) expect(m[q]).toBe(0);
          // Every word has exactly one head: Σ_h μ(h → m) = 1 (the root arc on the diagonal).
          for (let w = 0; w < x.n; w++) {
            let total = 0;
            for (let h = 0; h < N; h++) total += m[h * N + w];
            expect(total).toBeCloseTo(1, 12);
          }
          if (singleRoot) {
            let roots = 0;
            for (let w = 0; w < x.n; w++) roots += m[w * N + w];
            expect(roots).toBeCloseTo(1, 12);
          }
          const onehot = oneHot(d.best.parts, size);
          expect(row(argmax, b, size)).toEqual(onehot);
          expect(row(bestParts, b, size)).toEqual(onehot);
          expect(row(best.heads, b, N)).toEqual(d.best.decoded);
          expectClose([bestScore[b]], [d.best.score], 1e-12, 1e-12);
        }
        // log p of every tree of every sentence ([S, B, N, N] → [S, B], shorter lists cycling).
        const lists = ds.map((d) => d.structures);
        const S = Math.max(...lists.map((l) => l.length));
        const logProb = host(crf.logProb(partsTensor(B, N, lists, S)));
        expect(logProb.shape).toEqual([S, B]);
        const expected: number[] = [];
        for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) expected.push(Math.log(ds[b].probs[s % lists[b].length]));
        expectClose(logProb.data, expected, 1e-9, 1e-9);
        const single = host(crf.logProb(new Tensor(Float64Array.from(argmax), [B, N, N])));
        expect(single.shape).toEqual([B]);
        expectClose(single.data, ds.map((d) => d.best.score - d.logZ), 1e-9, 1e-9);
        crf.dispose();
      });

      test('−inf masks: float64 matches enumeration, masked arcs get zero marginals and gradients', () => {
        const [B, N] = [4, 5];
        const lengths = [5, 4, 5, 3];
        const random = rng(515 + (singleRoot ? 1 : 0));
        const p = arcsOf(B, N, lengths, random);
        mask(p, lengths, random, 0.4);
        // Sentence 2 keeps only the chain, root → 0, 3 → 1 and 0 → 2: three trees, one of them (0 → 2 → 3 → 1)
        // non-projective (3 → 1 crosses 0 → 2), so two projective ones.
        for (let h = 0; h < N; h++) {
          for (let m = 0; m < N; m++) {
            const kept = (h === 0 && m === 0) || h === m - 1 || (h === 3 && m === 1) || (h === 0 && m === 2);
            p.data[(2 * N + h) * N + m] = kept ? normal(random) : -Infinity;
          }
        }
        const size = N * N;
        const crf = crfOf(p, lengths, device, singleRoot);
        const { logZ, entropy, marginals, g, hvp, best, bestScore } = resultsOf(crf, random);
        for (let b = 0; b < B; b++) {
          const x = dependencySentence(p, b, lengths, singleRoot);
          const d = distribution(x);
          if (b === 2) {
            const finite = d.structures.filter((st) => st.score > -Infinity);
            expect(finite.length).toBe(spec.crossingArcs ? 3 : 2);
            expect(finite.some((st) => !noCrossing(headsOfDecoded(st.decoded, 5)))).toBe(spec.crossingArcs);
          }
          expectClose([logZ[b]], [d.logZ], 1e-9, 1e-12);
          expectClose([entropy[b]], [d.entropy], 1e-9, 1e-12);
          const m = row(marginals, b, size);
          expectClose(m, d.marginals, 1e-9, 1e-12);
          const hv = row(hvp, b, size);
          expectClose(hv, covarianceProduct(d, row(g.data, b, size)), 1e-9, 1e-12);
          for (let q = 0; q < size; q++) {
            if (outside(x, q)) continue;
            const h = Math.floor(q / N);
            if (x.score(h === q % N ? ROOT : h, q % N) === -Infinity) {
              expectZero(m[q], `sentence ${b}: marginal of masked part ${q}`);
              expectZero(hv[q], `sentence ${b}: marginalsBackward of masked part ${q}`);
            }
          }
          expect(row(best.heads, b, N)).toEqual(d.best.decoded);
          expectClose([bestScore[b]], [d.best.score], 1e-12, 1e-12);
        }
        crf.dispose();
      });

      test('marginals = finite differences of logZ; marginalsBackward = Cov(z)·g = finite differences of the marginals', () => {
        const [B, N] = [4, 5];
        const random = rng(seeds.finiteDifferences + (singleRoot ? 1 : 0));
        const lengths = [5, 1, 4, 2];
        const p = arcsOf(B, N, lengths, random);
        const shape = [B, N, N];
        const size = N * N;
        const crf = crfOf(p, lengths, device, singleRoot);
        const marginals = values(crf.marginals());
        const { logZOf, marginalsOf } = differentiable(crfOf, shape, lengths, device, singleRoot);
        expectClose(finiteDifferenceVjp(logZOf, p.data as Float64Array, new Float64Array(B).fill(1)), marginals, 1e-6, 1e-8);
        const g = randomTensor(shape, random);
        const hvp = values(crf.marginalsBackward(g));
        expect(hvp.length).toBe(B * size);
        for (let b = 0; b < B; b++) {
          const x = dependencySentence(p, b, lengths, singleRoot);
          const hv = row(hvp, b, size);
          expectClose(hv, covarianceProduct(distribution(x), row(g.data, b, size)), 1e-9, 1e-12);
          for (let q = 0; q < size; q++) if (outside(x, q)) expectZero(hv[q], `sentence ${b}: marginalsBackward of padding part ${q}`);
        }
        expectClose(hvp, finiteDifferenceVjp(marginalsOf, p.data as Float64Array, g.data, 1e-5), 1e-5, 1e-7);
        crf.dispose();
      });

      test('samples follow the exact distribution (chi-square), are trees, agree with their heads, and are reproducible', () => {
        const { N, lengths, k } = spec.sampling;
        const B = lengths.length;
        const random = rng(seeds.sampling + (singleRoot ? 1 : 0));
        const p = arcsOf(B, N, lengths, random);
        mask(p, lengths, random, 0.1);
        p.data[2 * N + 0] = -Infinity; // arc 2 → 0 of sentence 0
        const crf = crfOf(p, lengths, device, singleRoot);
        const size = N * N;
        const { heads, parts } = crf.sampleDecoded(k, { seed: 4321 });
        expect(Object.prototype.toString.call(heads)).toBe('[object Int32Array]');
        const sampleParts = host(parts);
        expect(sampleParts.shape).toEqual([k, B, N, N]);
        expect(heads.length).toBe(k * B * N);
        const ds = Array.from({ length: B }, (_, b) => oracleOf(p, b, lengths));
        for (let b = 0; b < B; b++) {
          const d = ds[b];
          const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
          const counts = new Array<number>(d.structures.length).fill(0);
          for (let s = 0; s < k; s++) {
            expectTree(heads, s * B + b, N, lengths[b], singleRoot);
            const decoded = row(heads, s * B + b, N);
            const i = index.get(keyOf(decoded));
            if (i === undefined) throw new Error(`sample ${s} of sentence ${b} is no ${singleRoot ? 'single-rooted ' : ''}${trees}: ${decoded}`);
            counts[i]++;
            const got = row(sampleParts.data, s * B + b, size);
            if (got.some((v, q) => v !== (d.structures[i].parts.includes(q) ? 1 : 0))) {
              throw new Error(`sample ${s} of sentence ${b}: parts disagree with heads ${decoded}`);
            }
          }
          const pValue = chiSquarePValue(counts, d.probs);
          if (!(pValue > 1e-4)) throw new Error(`sentence ${b} (n = ${lengths[b]}): chi-square p-value ${pValue}`);
        }
        // log p of every tree, masked ones (−Infinity) included.
        const S = Math.max(...ds.map((d) => d.structures.length));
        expect(ds.some((d) => d.structures.some((st) => st.score === -Infinity))).toBe(true);
        const logProb = values(crf.logProb(partsTensor(B, N, ds.map((d) => d.structures), S)));
        const expected: number[] = [];
        for (let s = 0; s < S; s++) for (const d of ds) expected.push(d.structures[s % d.structures.length].score - d.logZ);
        expectClose(logProb, expected, 1e-9, 1e-9);
        // logProb of heads (the decoded form, [S·B·N] → [S, B]) equals logProb of their parts.
        const first = crf.sampleDecoded(20, { seed: 77 });
        expect(values(crf.logProb(first.heads))).toEqual(values(crf.logProb(first.parts)));
        const best = crf.argmaxDecoded();
        expect(values(crf.logProb(best.heads))).toEqual(values(crf.logProb(best.parts)));
        expect(host(crf.logProb(first.heads)).shape).toEqual([20, B]);
        const again = crf.sampleDecoded(50, { seed: 4321 });
        const twice = crf.sampleDecoded(50, { seed: 4321 });
        expect(Array.from(again.heads)).toEqual(Array.from(twice.heads));
        expect(values(again.parts)).toEqual(values(twice.parts));
        expect(values(crf.sample(50, { seed: 4321 }))).toEqual(values(twice.parts));
        expect(Array.from(crf.sampleDecoded(50, { seed: 5 }).heads)).not.toEqual(Array.from(again.heads));
        crf.dispose();
      });

      test('float32 matches float64 on random sizes with mixed lengths', () => {
        const random = rng(seeds.float32 + (singleRoot ? 1 : 0));
        for (const [B, N] of [
          [3, 12],
          [3, 20],
          [2, 30],
        ]) {
          const lengths = lengthsFor(B, N, random);
          const p = arcsOf(B, N, lengths, random);
          mask(p, lengths, random, 0.1);
          const c64 = crfOf(p, lengths, device, singleRoot);
          const c32 = crfOf(toFloat32(p), lengths, device, singleRoot);
          expectClose(values(c32.logPartition()), values(c64.logPartition()), 1e-5, 1e-4);
          expectClose(values(c32.entropy()), values(c64.entropy()), 1e-4, 1e-4);
          expectClose(values(c32.marginals()), values(c64.marginals()), 1e-4, 1e-4);
          const g = randomTensor([B, N, N], random);
          expectClose(values(c32.marginalsBackward(toFloat32(g))), values(c64.marginalsBackward(g)), 1e-3, 1e-4);
          const best64 = c64.argmaxDecoded();
          const best32 = c32.argmaxDecoded();
          const score64 = values(best64.score);
          const parts32 = values(best32.parts);
          const parts64 = values(best64.parts);
          for (let b = 0; b < B; b++) {
            const x = dependencySentence(p, b, lengths, singleRoot);
            expectTree(best64.heads, b, N, lengths[b], singleRoot);
            expectTree(best32.heads, b, N, lengths[b], singleRoot);
            const chosen = chosenParts(parts32, b, N * N);
            expect(chosen.length).toBe(lengths[b]);
            expect(row(parts32, b, N * N)).toEqual(partsOfHeads(row(best32.heads, b, N), N, lengths[b]));
            expect(scoreOf(x, chosen)).toBeGreaterThan(score64[b] - 1e-3);
            expectClose([scoreOf(x, chosenParts(parts64, b, N * N))], [score64[b]], 1e-12, 1e-12);
          }
          expectClose(values(best32.score), score64, 1e-5, 1e-4);
          c64.dispose();
          c32.dispose();
        }
      });

      test('scores of ±1e3 and ±1e4 and −inf masks give finite results equal to the oracle, gradients included', () => {
        for (const scale of [1e3, 1e4]) {
          const [B, N] = [4, 5];
          const lengths = [5, 1, 4, 3];
          const random = rng(scale + seeds.largeScores + (singleRoot ? 1 : 0));
          const shape = [B, N, N];
          const size = N * N;
          // Sentences 0 and 3: a common offset of ±scale on every arc (every tree has n arcs, so the
          // distribution stays spread while log Z is huge); sentences 1 and 2: scale · N(0, 1) (peaked).
          const p = arcsOf(B, N, lengths, random);
          for (let q = 0; q < size; q++) {
            p.data[q] += scale;
            p.data[3 * size + q] -= scale;
            p.data[size + q] *= scale;
            p.data[2 * size + q] *= scale;
          }
          mask(p, lengths, random, 0.2);
          const crf = crfOf(p, lengths, device, singleRoot);
          const { logZ, entropy, marginals, g, hvp, best, bestScore } = resultsOf(crf, random);
          for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
          for (let b = 0; b < B; b++) {
            const d = oracleOf(p, b, lengths);
            expectClose([logZ[b]], [d.logZ], 1e-12, spec.largeScoreLogZAtol(scale, N));
            expectClose([entropy[b]], [d.entropy], 1e-6, 1e-8);
            expectClose(row(marginals, b, size), d.marginals, 1e-9, 1e-9);
            expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-7, 1e-8);
            expect(row(best.heads, b, N)).toEqual(d.best.decoded);
            expectClose([bestScore[b]], [d.best.score], 1e-12);
          }
          if (scale === 1e3) {
            const { logZOf, marginalsOf } = differentiable(crfOf, shape, lengths, device, singleRoot);
            const x0 = p.data as Float64Array;
            expectClose(finiteDifferenceVjp(logZOf, x0, new Float64Array(B).fill(1), 1e-4), marginals, 1e-5, 1e-6);
            expectClose(hvp, finiteDifferenceVjp(marginalsOf, x0, g.data, 1e-4), 1e-4, 1e-6);
            const c32 = crfOf(toFloat32(p), lengths, device, singleRoot);
            const m32 = values(c32.marginals());
            for (const v of [...values(c32.logPartition()), ...values(c32.entropy()), ...m32]) expect(Number.isFinite(v)).toBe(true);
            expectClose(m32, marginals, 0, 2e-2);
            expectClose(values(c32.logPartition()), logZ, 1e-5, 1e-2);
            c32.dispose();
          }
          crf.dispose();
        }
      });

      test('length-1 sentences: log Z is the root score, one tree, zero entropy and gradient', () => {
        // B = 3 sentences of N = 1, and a batch of N = 4 whose sentences have length 1 (junk elsewhere).
        const p1 = new Tensor(new Float64Array([0.75, -3, 1e4]), [3, 1, 1]);
        const random = rng(11 + (singleRoot ? 1 : 0));
        const p4 = arcsOf(2, 4, [1, 1], random);
        for (const [p, lengths] of [
          [p1, undefined],
          [p4, [1, 1]],
        ] as [Tensor, number[] | undefined][]) {
          const [B, N] = p.shape;
          const crf = crfOf(p, lengths, device, singleRoot);
          const roots = Array.from({ length: B }, (_, b) => p.data[b * N * N]);
          expectClose(values(crf.logPartition()), roots, 1e-15);
          expectClose(values(crf.entropy()), new Array(B).fill(0), 0, 1e-12);
          const onehot = Array.from({ length: B * N * N }, (_, i) => (i % (N * N) === 0 ? 1 : 0));
          const marginals = values(crf.marginals());
          expectClose(marginals, onehot, 1e-15, 1e-15);
          const hvp = values(crf.marginalsBackward(randomTensor([B, N, N], random)));
          expectClose(hvp, new Array(B * N * N).fill(0), 0, 1e-12);
          marginals.forEach((v, i) => i % (N * N) !== 0 && expectZero(v, `padding marginal ${i}`));
          hvp.forEach((v, i) => i % (N * N) !== 0 && expectZero(v, `padding marginalsBackward ${i}`));
          const best = crf.argmaxDecoded();
          const single = Array.from({ length: B * N }, (_, i) => (i % N === 0 ? 0 : -1));
          expect(Array.from(best.heads)).toEqual(single);
          expect(values(best.parts)).toEqual(onehot);
          expectClose(values(best.score), roots, 1e-15);
          const samples = crf.sampleDecoded(5, { seed: 3 });
          expect(Array.from(samples.heads)).toEqual([...single, ...single, ...single, ...single, ...single]);
          expectClose(values(crf.logProb(best.parts)), new Array(B).fill(0), 0, 1e-12);
          crf.dispose();
        }
      });

      test('a batch with lengths equals each sentence alone, and the padding is zero', () => {
        const [B, N] = [4, 7];
        const lengths = [7, 2, 1, 5];
        const random = rng(seeds.batch + (singleRoot ? 1 : 0));
        const p = arcsOf(B, N, lengths, random);
        const crf = crfOf(p, lengths, device, singleRoot);
        const { logZ, entropy, marginals, g, hvp, best } = resultsOf(crf, random);
        for (let b = 0; b < B; b++) {
          const n = lengths[b];
          const data = new Float64Array(n * n);
          const gData = new Float64Array(n * n);
          for (let h = 0; h < n; h++) {
            for (let m = 0; m < n; m++) {
              data[h * n + m] = p.data[(b * N + h) * N + m];
              gData[h * n + m] = g.data[(b * N + h) * N + m];
            }
          }
          const single = crfOf(new Tensor(data, [1, n, n]), undefined, device, singleRoot);
          expectClose([logZ[b]], values(single.logPartition()), 1e-12, 1e-12);
          expectClose([entropy[b]], values(single.entropy()), 1e-10, 1e-12);
          const m1 = values(single.marginals());
          const g1 = values(single.marginalsBackward(new Tensor(gData, [1, n, n])));
          const mb = row(marginals, b, N * N);
          const hb = row(hvp, b, N * N);
          for (let h = 0; h < N; h++) {
            for (let m = 0; m < N; m++) {
              if (h < n && m < n) {
                expectClose([mb[h * N + m]], [m1[h * n + m]], 1e-10, 1e-13);
                expectClose([hb[h * N + m]], [g1[h * n + m]], 1e-9, 1e-12);
              } else {
                expect(mb[h * N + m]).toBe(0);
                expectZero(hb[h * N + m], `sentence ${b}: marginalsBackward of padding part ${h * N + m}`);
              }
            }
          }
          const decoded = row(best.heads, b, N);
          expect(decoded.slice(0, n)).toEqual(Array.from(single.argmaxDecoded().heads));
          expect(decoded.slice(n)).toEqual(new Array(N - n).fill(-1));
          single.dispose();
        }
        crf.dispose();
      });

      test('async forms equal the sync ones', async () => {
        const [B, N] = [5, 6];
        const lengths = [6, 3, 1, 5, 2];
        const random = rng(seeds.async + (singleRoot ? 1 : 0));
        const p = arcsOf(B, N, lengths, random);
        const crf = crfOf(p, lengths, device, singleRoot);
        expect(values(await crf.logPartitionAsync())).toEqual(values(crf.logPartition()));
        expect(values(await crf.entropyAsync())).toEqual(values(crf.entropy()));
        expect(values(await crf.marginalsAsync())).toEqual(values(crf.marginals()));
        const g = randomTensor([B, N, N], random);
        expect(values(await crf.marginalsBackwardAsync(g))).toEqual(values(crf.marginalsBackward(g)));
        const bestAsync = await crf.argmaxAsync();
        const best = crf.argmaxDecoded();
        expect(Array.from(bestAsync.heads)).toEqual(Array.from(best.heads));
        expect(values(bestAsync.score)).toEqual(values(best.score));
        expect(values(bestAsync.parts)).toEqual(values(best.parts));
        const samplesAsync = await crf.sampleAsync(7, { seed: 8 });
        const samples = crf.sampleDecoded(7, { seed: 8 });
        expect(Array.from(samplesAsync.heads)).toEqual(Array.from(samples.heads));
        expect(values(samplesAsync.parts)).toEqual(values(samples.parts));
        const parts = host(crf.sample(3, { seed: 2 }));
        expect(values(await crf.logProbAsync(parts))).toEqual(values(crf.logProb(parts)));
        expect(values(await crf.logProbAsync(best.heads))).toEqual(values(crf.logProb(best.parts)));
        crf.dispose();
      });

      spec.extras?.variant?.(device, singleRoot);
    });

    test('singleRoot changes the support: a sentence whose only trees have two roots', () => {
      // n = 2 with both word-to-word arcs masked: only root → 0, root → 1 remains.
      const p = new Tensor(new Float64Array([0.5, -Infinity, -Infinity, -0.25]), [1, 2, 2]);
      const multi = crfOf(p, undefined, device, false);
      expectClose(values(multi.logPartition()), [0.25], 1e-15);
      expectClose(values(multi.marginals()), [1, 0, 0, 1], 1e-12, 1e-12);
      expect(Array.from(multi.argmaxDecoded().heads)).toEqual([0, 1]);
      const single = crfOf(p, undefined, device, true);
      let thrown: unknown;
      try {
        single.logPartition();
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error | undefined)?.name).toBe('RangeError');
      expect((thrown as { code?: string } | undefined)?.code).toBe('ERR_INVALID_SCORES');
    });

    spec.extras?.backend?.(device);
  });

  describe(`${name} errors`, () => {
    const arcs = () => randomTensor([3, 4, 4], rng(1));

    test('bad ranks, non-square arcs, bad lengths and non-tensors are typed errors', () => {
      expect(errorCode(() => new Class(randomTensor([3, 4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
      expect(errorCode(() => new Class(randomTensor([3, 4, 4, 2], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
      expect(errorCode(() => new Class(randomTensor([3, 4, 5], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
      expect(errorCode(() => new Class(arcs(), { lengths: [4, 0, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(errorCode(() => new Class(arcs(), { lengths: [4, 5, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(errorCode(() => new Class(arcs(), { lengths: [4, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(errorCode(() => new Class('arcs' as unknown as Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
      expect(errorCode(() => new Class(arcs(), { lengths: [4, 1, 2], singleRoot: false }))).toBe('no error');
      expect(new Class(arcs()).singleRoot).toBe(true);
    });

    test('NaN and +Infinity scores, and sentences without a tree of finite score, are rejected', () => {
      for (const singleRoot of [true, false]) {
        const p = arcs();
        p.data[5] = NaN;
        expect(errorCode(() => new Class(p, { singleRoot }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
        p.data[5] = Infinity;
        expect(errorCode(() => new Class(p, { singleRoot }).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
        // Sentence 2: every root arc masked.
        const q = arcs();
        for (let m = 0; m < 4; m++) q.data[(2 * 4 + m) * 4 + m] = -Infinity;
        const crf = new Class(q, { singleRoot });
        const parts = new Tensor(new Float64Array(48), [3, 4, 4]);
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
        // Sentence 1 of length 1: only root → 0 matters; masking the rest changes nothing.
        const r = arcs();
        for (let e = 1; e < 16; e++) r.data[16 + e] = -Infinity;
        expect(errorCode(() => new Class(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())).toBe('no error');
        expectClose([values(new Class(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())[1]], [r.data[16]], 1e-15);
      }
    });

    test('async methods reject with the same typed errors', async () => {
      const q = arcs();
      for (let m = 0; m < 4; m++) q.data[(1 * 4 + m) * 4 + m] = -Infinity;
      const crf = new Class(q);
      await expect((async () => crf.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
      await expect((async () => crf.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
      await expect((async () => crf.argmaxAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    });

    test('bad gradients, logProb parts and sample counts are typed errors', () => {
      for (const singleRoot of [true, false]) {
        const crf = new Class(arcs(), { lengths: [4, 2, 3], singleRoot });
        expect(errorCode(() => crf.marginalsBackward(randomTensor([3, 4, 5], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.marginalsBackward(randomTensor([2, 4, 4], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        const g = randomTensor([3, 4, 4], rng(4));
        g.data[3] = NaN;
        expect(errorCode(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
        g.data[3] = -Infinity;
        expect(errorCode(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
        g.data[3] = 0;
        expect(errorCode(() => crf.marginalsBackward(g))).toBe('no error');
        expect(errorCode(() => crf.logProb(randomTensor([3, 4, 3], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.logProb(randomTensor([2, 4, 4], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.logProb(randomTensor([2, 3, 4, 5], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.logProb(crf.argmax()))).toBe('no error');
        // Heads: B·N or S·B·N entries, each in [0, length) within the sentence; ignored past it.
        const heads = crf.argmaxDecoded().heads;
        expect(errorCode(() => crf.logProb(heads))).toBe('no error');
        expect(errorCode(() => crf.logProb(heads.slice(1)))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.logProb(new Int32Array(0)))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        const wrong = heads.slice();
        wrong[4 + 1] = 2; // sentence 1 has 2 words: heads in [0, 2)
        expect(errorCode(() => crf.logProb(wrong))).toBe('RangeError:ERR_OUT_OF_RANGE');
        expect(errorMessage(() => crf.logProb(wrong))).toMatch(/heads\[5\] = 2/);
        wrong[4 + 1] = -1;
        expect(errorCode(() => crf.logProb(wrong))).toBe('RangeError:ERR_OUT_OF_RANGE');
        const padded = heads.slice();
        padded[4 + 3] = 99; // past sentence 1's length: ignored
        expect(values(crf.logProb(padded))).toEqual(values(crf.logProb(heads)));
        for (const k of [0, -1, 1.5, NaN, Infinity]) expect(errorCode(() => crf.sample(k, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
        expect(errorCode(() => crf.sampleDecoded(0, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
        expect(['TypeError', 'RangeError']).toContain(errorCode(() => crf.sample('3' as unknown as number, { seed: 1 })).split(':')[0]);
        crf.dispose();
      }
    });

    spec.extras?.errors?.();
  });
}
