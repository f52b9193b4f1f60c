/**
 * DependencyCRF (projective dependency trees, Eisner), with a single root and with any number of roots, on
 * every available backend: float64 against the enumeration oracle (1e-9) with mixed lengths (length 1
 * included) and junk in the ignored entries, gradients against finite differences and the oracle's
 * Cov(z)·g, the sampler against the exact distribution (chi-square), float32 against float64, scores of
 * ±1e3 / ±1e4 and −inf masks, batched = one by one, async = sync, typed errors.
 */
import { DependencyCRF, Device, Tensor } from '../lib';
import { arcsOf, host, lengthsFor, mask, outside, partsTensor, rootVariants, row, values } from './arcs';
import { backends, chiSquarePValue, expectClose, finiteDifferenceVjp, randomTensor, rng, toFloat32 } from './helpers';
import { covarianceProduct, keyOf, oneHot } from './oracles/enumerate';
import {
  ROOT,
  allHeadVectors,
  contiguousYields,
  dependencyDistribution,
  dependencySentence,
  isTree,
  noCrossing,
  projectiveTrees,
  scoreOf,
} from './oracles/dependency';

const variants = rootVariants;

function crfOf(p: Tensor, lengths: number[] | undefined, device: Device, singleRoot: boolean): DependencyCRF {
  return new DependencyCRF(p, { lengths, device, singleRoot });
}


function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

describe('the DependencyCRF oracle itself', () => {
  test('hand enumeration for n = 1, 2, 3', () => {
    expect(projectiveTrees(1, true)).toEqual([[ROOT]]);
    expect(projectiveTrees(1, false)).toEqual([[ROOT]]);
    // n = 2: root → 0 → 1, root → 1 → 0; and with two roots, root → 0 and root → 1.
    expect(projectiveTrees(2, true)).toEqual([
      [ROOT, 0],
      [1, ROOT],
    ]);
    expect(projectiveTrees(2, false)).toEqual([
      [ROOT, ROOT],
      [ROOT, 0],
      [1, ROOT],
    ]);
    // n = 3, single root: root child 0 → {0→1,0→2; 0→1→2; 0→2→1} (3), root child 2 → 3 mirrored, root
    // child 1 → 1→0 and 1→2 (1): 7. Any number of roots adds {0,1} roots with 1→2 (0→2 would cross
    // root→1), {0,2} roots with 0→1 or 2→1, {1,2} roots with 1→0, and all three roots: 7 + 5 = 12.
    const single = projectiveTrees(3, true).map((h) => h.join(','));
    expect(single.sort()).toEqual(['-1,0,0', '-1,0,1', '-1,2,0', '1,-1,1', '1,2,-1', '2,0,-1', '2,2,-1'].sort());
    const multi = projectiveTrees(3, false).map((h) => h.join(','));
    expect(multi.sort()).toEqual([...single, '-1,-1,1', '-1,0,-1', '-1,2,-1', '1,-1,-1', '-1,-1,-1'].sort());
    // Crossing arcs are excluded, root arcs included: 0 ← 2 crosses root → 1.
    expect(multi).not.toContain('2,-1,-1');
    expect(multi).not.toContain('-1,-1,0');
  });

  test('counts for n = 1..6: single root binom(3n−2, n−1)/n, any number of roots binom(3n, n)/(2n+1)', () => {
    const single = [1, 2, 3, 4, 5, 6].map((n) => projectiveTrees(n, true).length);
    const multi = [1, 2, 3, 4, 5, 6].map((n) => projectiveTrees(n, false).length);
    expect(single).toEqual([1, 2, 7, 30, 143, 728]);
    expect(multi).toEqual([1, 3, 12, 55, 273, 1428]);
    expect([1, 2, 3, 4, 5, 6].map((n) => binomial(3 * n - 2, n - 1) / n)).toEqual(single);
    expect([1, 2, 3, 4, 5, 6].map((n) => binomial(3 * n, n) / (2 * n + 1))).toEqual(multi);
  });

  test('non-crossing arcs and contiguous yields define the same trees', () => {
    for (let n = 1; n <= 6; n++) {
      let trees = 0;
      for (const heads of allHeadVectors(n)) {
        if (!isTree(heads)) continue;
        trees++;
        expect(noCrossing(heads)).toBe(contiguousYields(heads));
      }
      // Cayley: (n + 1)^(n − 1) trees on n + 1 labelled nodes rooted at the root.
      expect(trees).toBe((n + 1) ** (n - 1));
    }
  });
});

describe.each(backends)('DependencyCRF on %s', (device) => {
  describe.each(variants)('%s', (_name, singleRoot) => {
    const sizes: [number, number][] = [
      [3, 5],
      [4, 6],
      [2, 1],
      [3, 4],
      [2, 2],
    ];

    test.each(sizes)('float64 matches enumeration: B=%i N=%i with mixed lengths', (B, N) => {
      const random = rng(2000 + B * 10 + N + (singleRoot ? 100 : 0));
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
      expect(marginals.length).toBe(B * size);
      expect(best.heads.length).toBe(B * N);
      const xs = Array.from({ length: B }, (_, b) => dependencySentence(p, b, lengths, singleRoot));
      const ds = xs.map(dependencyDistribution);
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

    test('marginals = finite differences of logZ; marginalsBackward = Cov(z)·g = finite differences of the marginals', () => {
      const [B, N] = [4, 5];
      const random = rng(88 + (singleRoot ? 1 : 0));
      const lengths = [5, 1, 4, 2];
      const p = arcsOf(B, N, lengths, random);
      const shape = [B, N, N];
      const size = N * N;
      const crf = crfOf(p, lengths, device, singleRoot);
      const marginals = values(crf.marginals());
      const logZOf = (v: Float64Array) => {
        const c = crfOf(new Tensor(v, shape), lengths, device, singleRoot);
        const out = values(c.logPartition());
        c.dispose();
        return out;
      };
      expectClose(finiteDifferenceVjp(logZOf, p.data as Float64Array, new Float64Array(B).fill(1)), marginals, 1e-6, 1e-8);
      const g = randomTensor(shape, random);
      const hvp = values(crf.marginalsBackward(g));
      expect(hvp.length).toBe(B * size);
      for (let b = 0; b < B; b++) {
        const d = dependencyDistribution(dependencySentence(p, b, lengths, singleRoot));
        expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-9, 1e-12);
      }
      const marginalsOf = (v: Float64Array) => {
        const c = crfOf(new Tensor(v, shape), lengths, device, singleRoot);
        const out = values(c.marginals());
        c.dispose();
        return out;
      };
      expectClose(hvp, finiteDifferenceVjp(marginalsOf, p.data as Float64Array, g.data, 1e-5), 1e-5, 1e-7);
      crf.dispose();
    });

    test('samples follow the exact distribution (chi-square), agree with their heads, and are reproducible', () => {
      const [B, N] = [3, 4];
      const lengths = [4, 1, 3];
      const random = rng(41 + (singleRoot ? 1 : 0));
      const p = arcsOf(B, N, lengths, random);
      mask(p, lengths, random, 0.1);
      p.data[2 * N + 0] = -Infinity; // arc 2 → 0 of sentence 0
      const crf = crfOf(p, lengths, device, singleRoot);
      const k = 8000;
      const size = N * N;
      const { heads, parts } = crf.sampleDecoded(k, { seed: 4321 });
      const sampleParts = host(parts);
      expect(sampleParts.shape).toEqual([k, B, N, N]);
      expect(heads.length).toBe(k * B * N);
      for (let b = 0; b < B; b++) {
        const d = dependencyDistribution(dependencySentence(p, b, lengths, singleRoot));
        const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
        const counts = new Array<number>(d.structures.length).fill(0);
        for (let s = 0; s < k; s++) {
          const decoded = row(heads, s * B + b, N);
          const i = index.get(keyOf(decoded));
          if (i === undefined) throw new Error(`sample ${s} of sentence ${b} is no ${singleRoot ? 'single-rooted ' : ''}projective tree: ${decoded}`);
          counts[i]++;
          const got = row(sampleParts.data, s * B + b, size);
          if (got.some((v, q) => v !== (d.structures[i].parts.includes(q) ? 1 : 0))) {
            throw new Error(`sample ${s} of sentence ${b}: parts disagree with heads ${decoded}`);
          }
        }
        expect(chiSquarePValue(counts, d.probs)).toBeGreaterThan(1e-4);
      }
      // log p of every tree, masked ones (−Infinity) included.
      const ds = Array.from({ length: B }, (_, b) => dependencyDistribution(dependencySentence(p, b, lengths, singleRoot)));
      const S = Math.max(...ds.map((d) => d.structures.length));
      expect(ds.some((d) => d.structures.some((st) => st.score === -Infinity))).toBe(true);
      const logProb = values(crf.logProb(partsTensor(B, N, ds.map((d) => d.structures), S)));
      const expected: number[] = [];
      for (let s = 0; s < S; s++) for (const d of ds) expected.push(d.structures[s % d.structures.length].score - d.logZ);
      expectClose(logProb, expected, 1e-9, 1e-9);
      const again = crf.sampleDecoded(50, { seed: 4321 });
      const twice = crf.sampleDecoded(50, { seed: 4321 });
      expect(Array.from(again.heads)).toEqual(Array.from(twice.heads));
      expect(values(again.parts)).toEqual(values(twice.parts));
      expect(values(crf.sample(50, { seed: 4321 }))).toEqual(values(twice.parts));
      expect(Array.from(crf.sampleDecoded(50, { seed: 5 }).heads)).not.toEqual(Array.from(again.heads));
      crf.dispose();
    });

    test('float32 matches float64 on random sizes with mixed lengths', () => {
      const random = rng(23 + (singleRoot ? 1 : 0));
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
        for (let b = 0; b < B; b++) {
          const x = dependencySentence(p, b, lengths, singleRoot);
          const chosen = row(parts32, b, N * N).flatMap((v, q) => (v ? [q] : []));
          expect(chosen.length).toBe(lengths[b]);
          expect(scoreOf(x, chosen)).toBeGreaterThan(score64[b] - 1e-3);
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
        const random = rng(scale + (singleRoot ? 1 : 0));
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
        const logZ = values(crf.logPartition());
        const entropy = values(crf.entropy());
        const marginals = values(crf.marginals());
        const g = randomTensor(shape, random);
        const hvp = values(crf.marginalsBackward(g));
        for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
        const best = crf.argmaxDecoded();
        const bestScore = values(best.score);
        for (let b = 0; b < B; b++) {
          const d = dependencyDistribution(dependencySentence(p, b, lengths, singleRoot));
          expectClose([logZ[b]], [d.logZ], 1e-12, 1e-12);
          expectClose([entropy[b]], [d.entropy], 1e-6, 1e-8);
          expectClose(row(marginals, b, size), d.marginals, 1e-9, 1e-9);
          expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-7, 1e-8);
          expect(row(best.heads, b, N)).toEqual(d.best.decoded);
          expectClose([bestScore[b]], [d.best.score], 1e-12);
        }
        if (scale === 1e3) {
          const logZOf = (v: Float64Array) => {
            const c = crfOf(new Tensor(v, shape), lengths, device, singleRoot);
            const out = values(c.logPartition());
            c.dispose();
            return out;
          };
          const marginalsOf = (v: Float64Array) => {
            const c = crfOf(new Tensor(v, shape), lengths, device, singleRoot);
            const out = values(c.marginals());
            c.dispose();
            return out;
          };
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

    test('a batch with lengths equals each sentence alone, and the padding is zero', () => {
      const [B, N] = [4, 7];
      const lengths = [7, 2, 1, 5];
      const random = rng(6 + (singleRoot ? 1 : 0));
      const p = arcsOf(B, N, lengths, random);
      const crf = crfOf(p, lengths, device, singleRoot);
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const best = crf.argmaxDecoded();
      for (let b = 0; b < B; b++) {
        const n = lengths[b];
        const data = new Float64Array(n * n);
        for (let h = 0; h < n; h++) for (let m = 0; m < n; m++) data[h * n + m] = p.data[(b * N + h) * N + m];
        const single = crfOf(new Tensor(data, [1, n, n]), undefined, device, singleRoot);
        expectClose([logZ[b]], values(single.logPartition()), 1e-12, 1e-12);
        expectClose([entropy[b]], values(single.entropy()), 1e-10, 1e-12);
        const m1 = values(single.marginals());
        const mb = row(marginals, b, N * N);
        for (let h = 0; h < N; h++) {
          for (let m = 0; m < N; m++) {
            const got = mb[h * N + m];
            if (h < n && m < n) expectClose([got], [m1[h * n + m]], 1e-10, 1e-13);
            else expect(got).toBe(0);
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
      const random = rng(4 + (singleRoot ? 1 : 0));
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
      crf.dispose();
    });
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
});

describe('DependencyCRF errors', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (error) {
      return `${(error as Error).name}:${(error as { code?: string }).code}`;
    }
    return 'no error';
  };
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };
  const arcs = () => randomTensor([3, 4, 4], rng(1));

  test('bad ranks, non-square arcs, bad lengths and non-tensors are typed errors', () => {
    expect(code(() => new DependencyCRF(randomTensor([3, 4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new DependencyCRF(randomTensor([3, 4, 4, 2], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new DependencyCRF(randomTensor([3, 4, 5], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new DependencyCRF(arcs(), { lengths: [4, 0, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new DependencyCRF(arcs(), { lengths: [4, 5, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new DependencyCRF(arcs(), { lengths: [4, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(code(() => new DependencyCRF('arcs' as unknown as Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(code(() => new DependencyCRF(arcs(), { lengths: [4, 1, 2], singleRoot: false }))).toBe('no error');
  });

  test('NaN and +Infinity scores, and sentences without a tree of finite score, are rejected', () => {
    for (const singleRoot of [true, false]) {
      const p = arcs();
      p.data[5] = NaN;
      expect(code(() => new DependencyCRF(p, { singleRoot }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
      p.data[5] = Infinity;
      expect(code(() => new DependencyCRF(p, { singleRoot }).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
      // Sentence 2: every root arc masked.
      const q = arcs();
      for (let m = 0; m < 4; m++) q.data[(2 * 4 + m) * 4 + m] = -Infinity;
      const crf = new DependencyCRF(q, { singleRoot });
      for (const f of [() => crf.logPartition(), () => crf.marginals(), () => crf.entropy(), () => crf.argmaxDecoded()]) {
        expect(code(f)).toBe('RangeError:ERR_INVALID_SCORES');
        expect(message(f)).toMatch(/\b2\b/);
      }
      // Sentence 1 of length 1: only root → 0 matters; masking the rest changes nothing.
      const r = arcs();
      for (let e = 1; e < 16; e++) r.data[16 + e] = -Infinity;
      expect(code(() => new DependencyCRF(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())).toBe('no error');
      expectClose([values(new DependencyCRF(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())[1]], [r.data[16]], 1e-15);
    }
  });

  test('async methods reject with the same typed errors', async () => {
    const q = arcs();
    for (let m = 0; m < 4; m++) q.data[(1 * 4 + m) * 4 + m] = -Infinity;
    const crf = new DependencyCRF(q);
    await expect((async () => crf.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    await expect((async () => crf.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
  });

  test('bad gradients, logProb parts and sample counts are typed errors', () => {
    for (const singleRoot of [true, false]) {
      const crf = new DependencyCRF(arcs(), { lengths: [4, 2, 3], singleRoot });
      expect(code(() => crf.marginalsBackward(randomTensor([3, 4, 5], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.marginalsBackward(randomTensor([2, 4, 4], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      const g = randomTensor([3, 4, 4], rng(4));
      g.data[3] = NaN;
      expect(code(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
      g.data[3] = -Infinity;
      expect(code(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
      g.data[3] = 0;
      expect(code(() => crf.marginalsBackward(g))).toBe('no error');
      expect(code(() => crf.logProb(randomTensor([3, 4, 3], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(randomTensor([2, 4, 4], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(randomTensor([2, 3, 4, 5], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(crf.argmax()))).toBe('no error');
      for (const k of [0, -1, 1.5, NaN, Infinity]) expect(code(() => crf.sample(k, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(code(() => crf.sampleDecoded(0, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(['TypeError', 'RangeError']).toContain(code(() => crf.sample('3' as unknown as number, { seed: 1 })).split(':')[0]);
      crf.dispose();
    }
  });
});
