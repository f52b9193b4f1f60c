/**
 * NonProjectiveDependencyCRF (non-projective dependency trees, Matrix-Tree theorem and Chu-Liu-Edmonds), with a
 * single root and with any number of roots, on every available backend: float64 against the enumeration
 * oracle (1e-9) with mixed lengths (length 1 included), junk in the ignored entries and −inf masks, gradients
 * against finite differences and the oracle's Cov(z)·g, the sampler against the exact distribution
 * (chi-square), float32 against float64, scores of ±1e3 / ±1e4 (best heads forming cycles included),
 * argmax against the zero-temperature limit of log Z, non-projective ⊇ projective, batched = one by one,
 * async = sync, typed errors.
 */
import { DependencyCRF, Device, NonProjectiveDependencyCRF, Tensor } from '../lib';
import { arcsOf, host, lengthsFor, mask, outside, partsTensor, rootVariants, row, values } from './arcs';
import { backends, chiSquarePValue, expectClose, finiteDifferenceVjp, normal, randomTensor, rng, toFloat32 } from './helpers';
import { covarianceProduct, keyOf, oneHot } from './oracles/enumerate';
import {
  ROOT,
  allHeadVectors,
  dependencyDistribution,
  dependencySentence,
  isTree,
  noCrossing,
  projectiveTrees,
  scoreOf,
} from './oracles/dependency';
import { headsOfDecoded, isDependencyTree, nonProjectiveDistribution, nonProjectiveTrees } from './oracles/nonprojective';

const variants = rootVariants;

function crfOf(p: Tensor, lengths: number[] | undefined, device: Device, singleRoot: boolean): NonProjectiveDependencyCRF {
  return new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot });
}


/** The flat parts (within one sentence's block) that are 1 in row r of a one-hot parts array. */
function chosenParts(parts: ArrayLike<number>, r: number, size: number): number[] {
  return row(parts, r, size).flatMap((v, q) => (v ? [q] : []));
}

/** Expects the first n decoded heads of row r to be a (single-rooted) tree and the rest −1. */
function expectTree(heads: ArrayLike<number>, r: number, N: number, n: number, singleRoot: boolean): void {
  const decoded = row(heads, r, N);
  if (!isDependencyTree(headsOfDecoded(decoded, n), singleRoot) || decoded.slice(n).some((h) => h !== -1)) {
    throw new Error(`row ${r}: heads ${decoded} (length ${n}) are no ${singleRoot ? 'single-rooted ' : ''}tree`);
  }
}

/** Expects v to be zero (either sign). */
function expectZero(v: number, what: string): void {
  if (v !== 0) throw new Error(`${what}: got ${v}, expected 0`);
}

/** The one-hot parts of decoded heads (first n entries) over one sentence's block. */
function partsOfHeads(decoded: readonly number[], N: number, n: number): number[] {
  const out = new Array<number>(N * N).fill(0);
  for (let m = 0; m < n; m++) out[decoded[m] * N + m] = 1;
  return out;
}

describe('the NonProjectiveDependencyCRF oracle itself', () => {
  test('hand enumeration for n = 1, 2, 3', () => {
    expect(nonProjectiveTrees(1, true)).toEqual([[ROOT]]);
    expect(nonProjectiveTrees(1, false)).toEqual([[ROOT]]);
    // n = 2: every tree is projective.
    expect(nonProjectiveTrees(2, true)).toEqual([
      [ROOT, 0],
      [1, ROOT],
    ]);
    expect(nonProjectiveTrees(2, false)).toEqual([
      [ROOT, ROOT],
      [ROOT, 0],
      [1, ROOT],
    ]);
    // n = 3, single root: the 7 projective trees and two under root → 1 whose arc between 0 and 2 crosses
    // root → 1: 1 → 0 → 2 (heads 1,−1,0) and 1 → 2 → 0 (heads 2,−1,1).
    const single = nonProjectiveTrees(3, true).map((h) => h.join(','));
    const projectiveSingle = ['-1,0,0', '-1,0,1', '-1,2,0', '1,-1,1', '1,2,-1', '2,0,-1', '2,2,-1'];
    expect([...single].sort()).toEqual([...projectiveSingle, '1,-1,0', '2,-1,1'].sort());
    // Any number of roots: the 12 projective trees and 4 crossing ones (the two above, and roots {1, 2}
    // with 2 → 0, roots {0, 1} with 0 → 2).
    const multi = nonProjectiveTrees(3, false).map((h) => h.join(','));
    const projectiveMulti = [...projectiveSingle, '-1,-1,1', '-1,0,-1', '-1,2,-1', '1,-1,-1', '-1,-1,-1'];
    expect([...multi].sort()).toEqual([...projectiveMulti, '1,-1,0', '2,-1,1', '2,-1,-1', '-1,-1,0'].sort());
    // Cycles are excluded.
    expect(multi).not.toContain('1,0,-1');
    expect(single).not.toContain('2,-1,0');
  });

  test('counts for n = 1..6: any number of roots (n+1)^(n−1), single root n^(n−1)', () => {
    const ns = [1, 2, 3, 4, 5, 6];
    const multi = ns.map((n) => nonProjectiveTrees(n, false).length);
    const single = ns.map((n) => nonProjectiveTrees(n, true).length);
    expect(multi).toEqual([1, 3, 16, 125, 1296, 16807]);
    expect(single).toEqual([1, 2, 9, 64, 625, 7776]);
    expect(ns.map((n) => (n + 1) ** (n - 1))).toEqual(multi);
    expect(ns.map((n) => n ** (n - 1))).toEqual(single);
  });

  test('the trees are exactly the acyclic head vectors, the projective trees among them those without crossings', () => {
    for (let n = 1; n <= 5; n++) {
      for (const singleRoot of [true, false]) {
        const trees = nonProjectiveTrees(n, singleRoot);
        const keys = new Set(trees.map((h) => h.join(',')));
        expect(keys.size).toBe(trees.length);
        for (const heads of allHeadVectors(n)) {
          expect(keys.has(heads.join(','))).toBe(isDependencyTree(heads, singleRoot));
        }
        const projective = new Set(projectiveTrees(n, singleRoot).map((h) => h.join(',')));
        for (const heads of trees) expect(projective.has(heads.join(','))).toBe(noCrossing(heads));
        for (const key of projective) expect(keys.has(key)).toBe(true);
      }
    }
  });

  test('uniform scores: log Z = entropy = log #trees, and the marginals sum to one per word', () => {
    for (const singleRoot of [true, false]) {
      const N = 4;
      const x = dependencySentence(new Tensor(new Float64Array(N * N), [1, N, N]), 0, null, singleRoot);
      const d = nonProjectiveDistribution(x);
      const count = singleRoot ? 64 : 125;
      expect(d.logZ).toBeCloseTo(Math.log(count), 12);
      expect(d.entropy).toBeCloseTo(Math.log(count), 12);
      for (let m = 0; m < N; m++) {
        let total = 0;
        for (let h = 0; h < N; h++) total += d.marginals[h * N + m];
        expect(total).toBeCloseTo(1, 12);
        // By symmetry every word is a root child with the same probability: 1/n single-rooted; with any
        // number of roots E[#root children] = Σ_k k·C(n−1, k−1)·n^(n−k) / (n+1)^(n−1) = 2n/(n+1) (n = 4:
        // (64 + 2·48 + 3·12 + 4·1)/125 = 8/5), i.e. 2/(n+1) per word.
        expect(d.marginals[m * N + m]).toBeCloseTo(singleRoot ? 1 / N : 2 / (N + 1), 12);
      }
    }
  });
});

describe.each(backends)('NonProjectiveDependencyCRF on %s', (device) => {
  describe.each(variants)('%s', (_name, singleRoot) => {
    const sizes: [number, number][] = [
      [3, 5],
      [4, 4],
      [2, 1],
      [3, 3],
      [2, 2],
    ];

    test.each(sizes)('float64 matches enumeration: B=%i N=%i with mixed lengths', (B, N) => {
      const random = rng(3000 + B * 10 + N + (singleRoot ? 100 : 0));
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
      const ds = xs.map(nonProjectiveDistribution);
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
      // non-projective.
      for (let h = 0; h < N; h++) {
        for (let m = 0; m < N; m++) {
          const kept = (h === 0 && m === 0) || h === m - 1 || (h === 3 && m === 1) || (h === 0 && m === 2);
          p.data[(2 * N + h) * N + m] = kept ? normal(random) : -Infinity;
        }
      }
      const size = N * N;
      const crf = crfOf(p, lengths, device, singleRoot);
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const g = randomTensor([B, N, N], random);
      const hvp = values(crf.marginalsBackward(g));
      const best = crf.argmaxDecoded();
      const bestScore = values(best.score);
      for (let b = 0; b < B; b++) {
        const x = dependencySentence(p, b, lengths, singleRoot);
        const d = nonProjectiveDistribution(x);
        if (b === 2) {
          expect(d.structures.filter((st) => st.score > -Infinity).length).toBe(3);
          expect(d.structures.some((st) => st.score > -Infinity && !noCrossing(headsOfDecoded(st.decoded, 5)))).toBe(true);
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
      const random = rng(98 + (singleRoot ? 1 : 0));
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
        const x = dependencySentence(p, b, lengths, singleRoot);
        const d = nonProjectiveDistribution(x);
        const hv = row(hvp, b, size);
        expectClose(hv, covarianceProduct(d, row(g.data, b, size)), 1e-9, 1e-12);
        for (let q = 0; q < size; q++) if (outside(x, q)) expectZero(hv[q], `sentence ${b}: marginalsBackward of padding part ${q}`);
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

    test('samples follow the exact distribution (chi-square), are trees, agree with their heads, and are reproducible', () => {
      const [B, N] = [4, 5];
      const lengths = [4, 1, 3, 5];
      const random = rng(51 + (singleRoot ? 1 : 0));
      const p = arcsOf(B, N, lengths, random);
      mask(p, lengths, random, 0.1);
      p.data[2 * N + 0] = -Infinity; // arc 2 → 0 of sentence 0
      const crf = crfOf(p, lengths, device, singleRoot);
      const k = 10000;
      const size = N * N;
      const { heads, parts } = crf.sampleDecoded(k, { seed: 4321 });
      expect(Object.prototype.toString.call(heads)).toBe('[object Int32Array]');
      const sampleParts = host(parts);
      expect(sampleParts.shape).toEqual([k, B, N, N]);
      expect(heads.length).toBe(k * B * N);
      const ds = Array.from({ length: B }, (_, b) => nonProjectiveDistribution(dependencySentence(p, b, lengths, singleRoot)));
      for (let b = 0; b < B; b++) {
        const d = ds[b];
        const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
        const counts = new Array<number>(d.structures.length).fill(0);
        for (let s = 0; s < k; s++) {
          expectTree(heads, s * B + b, N, lengths[b], singleRoot);
          const decoded = row(heads, s * B + b, N);
          const i = index.get(keyOf(decoded));
          if (i === undefined) throw new Error(`sample ${s} of sentence ${b} is no ${singleRoot ? 'single-rooted ' : ''}tree: ${decoded}`);
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
      const again = crf.sampleDecoded(50, { seed: 4321 });
      const twice = crf.sampleDecoded(50, { seed: 4321 });
      expect(Array.from(again.heads)).toEqual(Array.from(twice.heads));
      expect(values(again.parts)).toEqual(values(twice.parts));
      expect(values(crf.sample(50, { seed: 4321 }))).toEqual(values(twice.parts));
      expect(Array.from(crf.sampleDecoded(50, { seed: 5 }).heads)).not.toEqual(Array.from(again.heads));
      crf.dispose();
    });

    test('float32 matches float64 on random sizes with mixed lengths', () => {
      const random = rng(33 + (singleRoot ? 1 : 0));
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

    test('argmax is the zero-temperature limit of log Z on long sentences: T·best ≤ log Z(T·s) ≤ T·best + log #trees', () => {
      const random = rng(71 + (singleRoot ? 1 : 0));
      const [B, N] = [4, 24];
      const lengths = [24, 17, 9, 3];
      const p = arcsOf(B, N, lengths, random);
      mask(p, lengths, random, 0.2);
      const crf = crfOf(p, lengths, device, singleRoot);
      const best = crf.argmaxDecoded();
      const bestScore = values(best.score);
      const bestParts = values(best.parts);
      const T = 1e4;
      const hot = new Tensor(Float64Array.from(p.data, (v) => T * v), p.shape);
      const cold = crfOf(hot, lengths, device, singleRoot);
      const logZ = values(cold.logPartition());
      const projective = new DependencyCRF(p, { lengths, device, singleRoot });
      const projectiveScore = values(projective.argmaxDecoded().score);
      for (let b = 0; b < B; b++) {
        const n = lengths[b];
        expectTree(best.heads, b, N, n, singleRoot);
        const x = dependencySentence(p, b, lengths, singleRoot);
        expectClose([scoreOf(x, chosenParts(bestParts, b, N * N))], [bestScore[b]], 1e-12, 1e-12);
        const logCount = (n - 1) * Math.log(singleRoot ? n : n + 1);
        const gap = logZ[b] / T - bestScore[b];
        if (!(gap >= -1e-9 && gap <= logCount / T + 1e-9)) {
          throw new Error(`sentence ${b} (n = ${n}): log Z(T s)/T − best = ${gap}, expected in [0, ${logCount / T}]`);
        }
        expect(bestScore[b]).toBeGreaterThanOrEqual(projectiveScore[b] - 1e-12);
      }
      crf.dispose();
      cold.dispose();
      projective.dispose();
    });

    test('scores of ±1e3 and ±1e4 and −inf masks give finite results equal to the oracle, gradients included', () => {
      for (const scale of [1e3, 1e4]) {
        const [B, N] = [4, 5];
        const lengths = [5, 1, 4, 3];
        const random = rng(scale + 7 + (singleRoot ? 1 : 0));
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
          const d = nonProjectiveDistribution(dependencySentence(p, b, lengths, singleRoot));
          expectClose([logZ[b]], [d.logZ], 1e-12, 1e-14 * scale * N);
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

    test.each([1e3, -1e3, 1e4, -1e4])('best heads forming cycles at scale %d: exact results, argmax and samples', (scale) => {
      const [B, N] = [4, 5];
      const lengths = [5, 5, 4, 3];
      const random = rng(Math.abs(scale) + (scale < 0 ? 3 : 0) + (singleRoot ? 1 : 0));
      const size = N * N;
      const p = arcsOf(B, N, lengths, random);
      const at = (b: number, h: number, m: number) => (b * N + h) * N + m;
      const big = Math.abs(scale);
      // Sentence 0: s(0 → 1) = s(1 → 0) = big, everything else 0 (every word's best head in the 2-cycle or
      // tied; the best trees use exactly one of the two arcs).
      for (let q = 0; q < size; q++) p.data[q] = 0;
      p.data[at(0, 0, 1)] = big;
      p.data[at(0, 1, 0)] = big;
      // Sentence 1: a 3-cycle 0 → 1 → 2 → 0 of +big over N(0, 1) noise (the best tree uses two of its arcs).
      p.data[at(1, 0, 1)] += big;
      p.data[at(1, 1, 2)] += big;
      p.data[at(1, 2, 0)] += big;
      // Sentence 2: two 2-cycles {0, 1}, {2, 3} of +big and root arcs of −big (or, for negative scale, every
      // other arc at −big): contracting both cycles is needed.
      p.data[at(2, 0, 1)] += big;
      p.data[at(2, 1, 0)] += big;
      p.data[at(2, 2, 3)] += big;
      p.data[at(2, 3, 2)] += big;
      for (let h = 0; h < 4; h++) {
        for (let m = 0; m < 4; m++) {
          const inCycle = (h < 2 && m < 2 && h !== m) || (h >= 2 && m >= 2 && h !== m);
          if (h === m) p.data[at(2, h, m)] -= big;
          else if (!inCycle && scale < 0) p.data[at(2, h, m)] -= big;
        }
      }
      // Sentence 3: every word-to-word arc at −big except the 2-cycle {1, 2}, whose arcs are at +big; one root arc masked.
      for (let h = 0; h < 3; h++) {
        for (let m = 0; m < 3; m++) {
          if (h === m) continue;
          p.data[at(3, h, m)] += (h === 1 && m === 2) || (h === 2 && m === 1) ? big : -big;
        }
      }
      p.data[at(3, 1, 1)] = -Infinity;
      // Negative scale: sentences 0 and 1 shifted by −2·big on every arc (the cycle at −big, the rest at −2·big).
      if (scale < 0) for (let q = 0; q < 2 * size; q++) p.data[q] -= 2 * big;
      const crf = crfOf(p, lengths, device, singleRoot);
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const g = randomTensor([B, N, N], random);
      const hvp = values(crf.marginalsBackward(g));
      for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
      const best = crf.argmaxDecoded();
      const bestScore = values(best.score);
      const bestParts = values(best.parts);
      const ds = Array.from({ length: B }, (_, b) => nonProjectiveDistribution(dependencySentence(p, b, lengths, singleRoot)));
      for (let b = 0; b < B; b++) {
        const x = dependencySentence(p, b, lengths, singleRoot);
        const d = ds[b];
        // Rounding the ±big inputs alone moves log Z by a few ulp of big: the absolute tolerance scales with it.
        expectClose([logZ[b]], [d.logZ], 1e-12, 1e-14 * big * N);
        expectClose([entropy[b]], [d.entropy], 1e-6, 1e-8);
        expectClose(row(marginals, b, size), d.marginals, 1e-9, 1e-9);
        expectClose(row(hvp, b, size), covarianceProduct(d, row(g.data, b, size)), 1e-7, 1e-8);
        expectTree(best.heads, b, N, lengths[b], singleRoot);
        expect(row(bestParts, b, size)).toEqual(partsOfHeads(row(best.heads, b, N), N, lengths[b]));
        expectClose([bestScore[b]], [d.best.score], 1e-12);
        expectClose([scoreOf(x, chosenParts(bestParts, b, size))], [d.best.score], 1e-12);
        // Sentence 0 has tied best trees; the others have a unique one.
        if (b > 0) expect(row(best.heads, b, N)).toEqual(d.best.decoded);
      }
      // Samples: trees, following the exact distribution (which is concentrated on the few trees using the
      // +big arcs, or spread for sentence 0 — mass exactly 0 elsewhere in float64 makes any stray sample fail).
      const k = 3000;
      const samples = crf.sampleDecoded(k, { seed: 77 });
      for (let b = 0; b < B; b++) {
        const d = ds[b];
        const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
        const counts = new Array<number>(d.structures.length).fill(0);
        for (let s = 0; s < k; s++) {
          expectTree(samples.heads, s * B + b, N, lengths[b], singleRoot);
          counts[index.get(keyOf(row(samples.heads, s * B + b, N))) as number]++;
        }
        const pValue = chiSquarePValue(counts, d.probs);
        if (!(pValue > 1e-4)) throw new Error(`sentence ${b}: chi-square p-value ${pValue}`);
      }
      const c32 = crfOf(toFloat32(p), lengths, device, singleRoot);
      const logZ32 = values(c32.logPartition());
      const m32 = values(c32.marginals());
      for (const v of [...logZ32, ...values(c32.entropy()), ...m32]) expect(Number.isFinite(v)).toBe(true);
      expectClose(logZ32, logZ, 1e-5, 1e-2);
      expectClose(m32, marginals, 0, 2e-2);
      expectClose(values(c32.argmaxDecoded().score), bestScore, 1e-6, 1e-2);
      c32.dispose();
      crf.dispose();
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
      const random = rng(16 + (singleRoot ? 1 : 0));
      const p = arcsOf(B, N, lengths, random);
      const crf = crfOf(p, lengths, device, singleRoot);
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const g = randomTensor([B, N, N], random);
      const hvp = values(crf.marginalsBackward(g));
      const best = crf.argmaxDecoded();
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
      const random = rng(14 + (singleRoot ? 1 : 0));
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

    test('non-projective log Z ≥ projective log Z on the same scores, equal for n ≤ 2; so are the best scores', () => {
      const [B, N] = [6, 6];
      const lengths = [6, 5, 4, 3, 2, 1];
      const random = rng(61 + (singleRoot ? 1 : 0));
      const p = arcsOf(B, N, lengths, random, 1.5);
      const crf = crfOf(p, lengths, device, singleRoot);
      const projective = new DependencyCRF(p, { lengths, device, singleRoot });
      const logZ = values(crf.logPartition());
      const logZProjective = values(projective.logPartition());
      const marginals = values(crf.marginals());
      const marginalsProjective = values(projective.marginals());
      const best = values(crf.argmaxDecoded().score);
      const bestProjective = values(projective.argmaxDecoded().score);
      for (let b = 0; b < B; b++) {
        const n = lengths[b];
        if (n <= 2) {
          expectClose([logZ[b]], [logZProjective[b]], 1e-12, 1e-12);
          expectClose(row(marginals, b, N * N), row(marginalsProjective, b, N * N), 1e-12, 1e-12);
          expectClose([best[b]], [bestProjective[b]], 1e-12, 1e-12);
        } else {
          // Strictly larger: the crossing trees all have a finite score. The difference is the oracle's.
          expect(logZ[b]).toBeGreaterThan(logZProjective[b]);
          const x = dependencySentence(p, b, lengths, singleRoot);
          expectClose([logZ[b] - logZProjective[b]], [nonProjectiveDistribution(x).logZ - dependencyDistribution(x).logZ], 1e-9, 1e-12);
          expect(best[b]).toBeGreaterThanOrEqual(bestProjective[b] - 1e-12);
        }
      }
      crf.dispose();
      projective.dispose();
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

  test('a sentence whose only tree is non-projective (root → 1, 1 → 0, 0 → 2): DependencyCRF has none', () => {
    const N = 3;
    const data = new Float64Array(N * N).fill(-Infinity);
    data[1 * N + 1] = 0.5; // root → 1
    data[1 * N + 0] = -1.25; // 1 → 0
    data[0 * N + 2] = 2; // 0 → 2, crossing root → 1
    const p = new Tensor(data, [1, N, N]);
    for (const singleRoot of [true, false]) {
      const crf = crfOf(p, undefined, device, singleRoot);
      expectClose(values(crf.logPartition()), [1.25], 1e-15);
      expectClose(values(crf.entropy()), [0], 0, 1e-12);
      expectClose(values(crf.marginals()), [0, 0, 1, 1, 1, 0, 0, 0, 0], 1e-12, 1e-12);
      expect(Array.from(crf.argmaxDecoded().heads)).toEqual([1, 1, 0]);
      expect(Array.from(crf.sampleDecoded(4, { seed: 9 }).heads)).toEqual([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0]);
      let thrown: unknown;
      try {
        new DependencyCRF(p, { device, singleRoot }).logPartition();
      } catch (error) {
        thrown = error;
      }
      expect((thrown as { code?: string } | undefined)?.code).toBe('ERR_INVALID_SCORES');
    }
    expect(isTree([1, ROOT, 0]) && !noCrossing([1, ROOT, 0])).toBe(true);
  });
});

describe('NonProjectiveDependencyCRF errors', () => {
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
    expect(code(() => new NonProjectiveDependencyCRF(randomTensor([3, 4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new NonProjectiveDependencyCRF(randomTensor([3, 4, 4, 2], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new NonProjectiveDependencyCRF(randomTensor([3, 4, 5], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new NonProjectiveDependencyCRF(arcs(), { lengths: [4, 0, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new NonProjectiveDependencyCRF(arcs(), { lengths: [4, 5, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new NonProjectiveDependencyCRF(arcs(), { lengths: [4, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(code(() => new NonProjectiveDependencyCRF('arcs' as unknown as Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(code(() => new NonProjectiveDependencyCRF(arcs(), { lengths: [4, 1, 2], singleRoot: false }))).toBe('no error');
    expect(new NonProjectiveDependencyCRF(arcs()).singleRoot).toBe(true);
  });

  test('NaN and +Infinity scores, and sentences without a tree of finite score, are rejected', () => {
    for (const singleRoot of [true, false]) {
      const p = arcs();
      p.data[5] = NaN;
      expect(code(() => new NonProjectiveDependencyCRF(p, { singleRoot }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
      p.data[5] = Infinity;
      expect(code(() => new NonProjectiveDependencyCRF(p, { singleRoot }).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
      // Sentence 2: every root arc masked.
      const q = arcs();
      for (let m = 0; m < 4; m++) q.data[(2 * 4 + m) * 4 + m] = -Infinity;
      const crf = new NonProjectiveDependencyCRF(q, { singleRoot });
      const parts = new Tensor(new Float64Array(48), [3, 4, 4]);
      for (const f of [
        () => crf.logPartition(),
        () => crf.marginals(),
        () => crf.entropy(),
        () => crf.argmaxDecoded(),
        () => crf.sample(2, { seed: 1 }),
        () => crf.logProb(parts),
      ]) {
        expect(code(f)).toBe('RangeError:ERR_INVALID_SCORES');
        expect(message(f)).toMatch(/\b2\b/);
      }
      // Sentence 1 of length 1: only root → 0 matters; masking the rest changes nothing.
      const r = arcs();
      for (let e = 1; e < 16; e++) r.data[16 + e] = -Infinity;
      expect(code(() => new NonProjectiveDependencyCRF(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())).toBe('no error');
      expectClose([values(new NonProjectiveDependencyCRF(r, { singleRoot, lengths: [4, 1, 4] }).logPartition())[1]], [r.data[16]], 1e-15);
    }
  });

  test('no spanning tree although every word has a finite head: a word without any head, and a closed cycle', () => {
    for (const singleRoot of [true, false]) {
      // Sentence 1: word 3 has no finite incoming arc (root arc included).
      const q = arcs();
      for (let h = 0; h < 4; h++) q.data[(1 * 4 + h) * 4 + 3] = -Infinity;
      const f = () => new NonProjectiveDependencyCRF(q, { singleRoot }).logPartition();
      expect(code(f)).toBe('RangeError:ERR_INVALID_SCORES');
      expect(message(f)).toMatch(/\b1\b/);
      // Sentence 0: words 1 and 2 can only be headed by each other (a cycle the root cannot reach); every
      // word still has a finite head.
      const c = arcs();
      for (const m of [1, 2]) for (let h = 0; h < 4; h++) if (h !== 3 - m) c.data[h * 4 + m] = -Infinity;
      const g = () => new NonProjectiveDependencyCRF(c, { singleRoot }).marginals();
      expect(code(g)).toBe('RangeError:ERR_INVALID_SCORES');
      expect(message(g)).toMatch(/\b0\b/);
      expect(code(() => new NonProjectiveDependencyCRF(c, { singleRoot }).argmaxDecoded())).toBe('RangeError:ERR_INVALID_SCORES');
      // The same cycle past the length of a sentence is ignored.
      expect(code(() => new NonProjectiveDependencyCRF(c, { singleRoot, lengths: [1, 4, 4] }).logPartition())).toBe('no error');
    }
    // Sentence 2: every word-to-word arc masked: only the all-roots tree, which singleRoot forbids.
    const w = arcs();
    for (let h = 0; h < 4; h++) for (let m = 0; m < 4; m++) if (h !== m) w.data[(2 * 4 + h) * 4 + m] = -Infinity;
    expect(code(() => new NonProjectiveDependencyCRF(w, { singleRoot: true }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(code(() => new NonProjectiveDependencyCRF(w, { singleRoot: false }).logPartition())).toBe('no error');
    expect(code(() => new NonProjectiveDependencyCRF(w, { singleRoot: true, lengths: [4, 4, 1] }).logPartition())).toBe('no error');
  });

  test('async methods reject with the same typed errors', async () => {
    const q = arcs();
    for (let m = 0; m < 4; m++) q.data[(1 * 4 + m) * 4 + m] = -Infinity;
    const crf = new NonProjectiveDependencyCRF(q);
    await expect((async () => crf.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    await expect((async () => crf.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    await expect((async () => crf.argmaxAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
  });

  test('bad gradients, logProb parts and sample counts are typed errors', () => {
    for (const singleRoot of [true, false]) {
      const crf = new NonProjectiveDependencyCRF(arcs(), { lengths: [4, 2, 3], singleRoot });
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
