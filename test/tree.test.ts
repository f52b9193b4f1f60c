/**
 * TreeCRF (binary constituency trees, CKY), unlabelled and labelled (L = 2, 3), on every available
 * backend: float64 against the enumeration oracle (1e-9) with mixed lengths (length 1 included) and junk
 * in the ignored entries, gradients against finite differences and the oracle's Cov(z)·g, the sampler
 * against the exact distribution (chi-square), float32 against float64, scores of ±1e3 / ±1e4 and −inf
 * masks, batched = one by one, async = sync, typed errors.
 */
import { AnyTensor, Device, DeviceTensor, Tensor, TreeCRF } from '../lib';
import { backends, chiSquarePValue, expectClose, finiteDifferenceVjp, normal, randomTensor, rng, toFloat32 } from './helpers';
import { Structure, covarianceProduct, keyOf, oneHot } from './oracles/enumerate';
import {
  TreeSentence,
  bracketings,
  catalan,
  partCount,
  scoreOf,
  spanPart,
  structureOf,
  treeCount,
  treeDistribution,
  treeOracle,
  treeSentence,
  treeStructures,
} from './oracles/tree';

/** Unlabelled (L = 0 here: potentials [B, N, N]) or labelled with L labels ([B, N, N, L]). */
const variants: [string, number][] = [
  ['unlabelled', 0],
  ['labelled L=2', 2],
  ['labelled L=3', 3],
];

function host(t: AnyTensor): Tensor {
  const h = t.toHost();
  if (t instanceof DeviceTensor) t.dispose();
  return h;
}

function values(t: AnyTensor): number[] {
  return Array.from(host(t).data);
}

function shapeOf(L: number, B: number, N: number): number[] {
  return L ? [B, N, N, L] : [B, N, N];
}

/** Entries of one sentence's block. */
function blockSize(L: number, N: number): number {
  return N * N * Math.max(L, 1);
}

/** Row `r` (a sentence, or a sample × sentence) of a flat array cut in blocks of `size`. */
function row<T extends ArrayLike<number>>(a: T, r: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => (a as ArrayLike<number>)[r * size + i]);
}

/** Whether flat part q of a sentence is no part of any tree (i > j or j ≥ n). */
function outside(x: TreeSentence, q: number): boolean {
  const span = Math.floor(q / x.L);
  const i = Math.floor(span / x.N);
  const j = span % x.N;
  return i > j || j >= x.n;
}

function lengthsFor(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)));
}

/**
 * Random span scores (scale · N(0, 1)); the ignored entries (i > j, or j past the length) get junk —
 * large values and −Infinity — which must change nothing.
 */
function spansOf(L: number, B: number, N: number, lengths: number[], random: () => number, scale = 1): Tensor {
  const p = randomTensor(shapeOf(L, B, N), random, scale);
  const per = Math.max(L, 1);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        if (i <= j && j < lengths[b]) continue;
        for (let l = 0; l < per; l++) p.data[((b * N + i) * N + j) * per + l] = random() < 0.3 ? -Infinity : 40 * normal(random);
      }
    }
  }
  return p;
}

/**
 * Masks some parts with −Infinity, never one of the right-branching tree (the width-1 spans and the spans
 * ending at n − 1, label 0), so every sentence keeps a tree of finite score.
 */
function mask(p: Tensor, L: number, lengths: number[], random: () => number, rate = 0.25): void {
  const [B, N] = p.shape;
  const per = Math.max(L, 1);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        for (let l = 0; l < per; l++) {
          const kept = (i === j || j === n - 1) && l === 0;
          if (!kept && random() < rate) p.data[((b * N + i) * N + j) * per + l] = -Infinity;
        }
      }
    }
  }
}

function crfOf(p: Tensor, lengths: number[] | undefined, device: Device): TreeCRF {
  return new TreeCRF(p, { lengths, device });
}

/** Up to `max` structures of a sentence: all of them, or every bracketing with random label choices. */
function someStructures(x: TreeSentence, random: () => number, max = 3000): Structure[] {
  if (treeCount(x.n, x.L) <= max) return treeStructures(x);
  const trees = bracketings(x.n);
  const per = Math.max(1, Math.floor(max / trees.length));
  const out: Structure[] = [];
  for (const t of trees) {
    for (let r = 0; r < per; r++) out.push(structureOf(x, t, t.map(() => Math.floor(random() * x.L))));
  }
  return out;
}

/** The parts tensor [S, B, N, N(, L)] holding structure s mod count_b of sentence b in row (s, b). */
function partsTensor(L: number, B: number, N: number, lists: Structure[][], S: number): Tensor {
  const size = blockSize(L, N);
  const data = new Float64Array(S * B * size);
  for (let s = 0; s < S; s++) {
    for (let b = 0; b < B; b++) {
      const list = lists[b];
      for (const q of list[s % list.length].parts) data[(s * B + b) * size + q] = 1;
    }
  }
  return new Tensor(data, [S, ...shapeOf(L, B, N)]);
}

describe('the TreeCRF oracle itself', () => {
  test('counts: Catalan(n−1) bracketings of n leaves, each with 2n−1 distinct spans splitting correctly', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => bracketings(n).length)).toEqual([1, 1, 2, 5, 14, 42, 132]);
    expect([0, 1, 2, 3, 4, 5, 6].map(catalan)).toEqual([1, 1, 2, 5, 14, 42, 132]);
    // n = 3 by hand, breadth-first: ((0)(1 2)) and ((0 1)(2)).
    expect(bracketings(3)).toEqual([
      [[0, 2], [0, 0], [1, 2], [1, 1], [2, 2]],
      [[0, 2], [0, 1], [2, 2], [0, 0], [1, 1]],
    ]);
    for (let n = 1; n <= 6; n++) {
      const keys = new Set<string>();
      for (const t of bracketings(n)) {
        expect(t.length).toBe(2 * n - 1);
        expect(t[0]).toEqual([0, n - 1]);
        expect(new Set(t.map(([i, j]) => `${i},${j}`)).size).toBe(2 * n - 1);
        // Every span of width > 1 has a child pair (i,k),(k+1,j) in the tree; the leaves are all there.
        const has = (i: number, j: number) => t.some(([a, b]) => a === i && b === j);
        for (const [i, j] of t) {
          if (i === j) continue;
          const splits = [];
          for (let k = i; k < j; k++) if (has(i, k) && has(k + 1, j)) splits.push(k);
          expect(splits.length).toBe(1);
        }
        for (let i = 0; i < n; i++) expect(has(i, i)).toBe(true);
        keys.add(JSON.stringify([...t].sort()));
      }
      expect(keys.size).toBe(bracketings(n).length);
    }
    expect(treeCount(3, 2)).toBe(64);
  });

  test('the analytic labelled oracle equals the full (bracketing, labels) enumeration', () => {
    const random = rng(404);
    for (const L of [1, 2, 3]) {
      for (const n of [1, 2, 3, 4]) {
        const N = n + 1;
        const p = spansOf(L, 1, N, [n], random, 1.3);
        mask(p, L, [n], random, 0.2);
        // L = 1 labelled ([B, N, N, 1]) against the same scores unlabelled ([B, N, N]).
        const x = treeSentence(p, 0, [n]);
        const analytic = treeOracle(x);
        const full = treeDistribution(x);
        expect(full.structures.length).toBe(treeCount(n, L));
        expectClose([analytic.logZ], [full.logZ], 1e-12, 1e-12);
        expectClose([analytic.entropy], [full.entropy], 1e-10, 1e-12);
        expectClose(analytic.marginals, full.marginals, 1e-10, 1e-13);
        expect(analytic.best.decoded).toEqual(full.best.decoded);
        const g = Float64Array.from({ length: partCount(x) }, () => normal(random));
        expectClose(analytic.covarianceProduct(g), covarianceProduct(full, g), 1e-9, 1e-12);
        full.structures.forEach((s, k) => {
          if (k % 7 === 0) expectClose([analytic.logProb(s.parts)], [Math.log(full.probs[k])], 1e-9, 1e-9);
        });
        if (L === 1) {
          const plain = treeOracle(treeSentence(new Tensor(p.data, [1, N, N]), 0, [n]));
          expectClose([plain.logZ, plain.entropy], [analytic.logZ, analytic.entropy], 1e-12, 1e-12);
          expectClose(plain.marginals, analytic.marginals, 1e-12, 1e-14);
        }
      }
    }
  });
});

describe.each(backends)('TreeCRF on %s', (device) => {
  describe.each(variants)('%s', (_name, L) => {
    const sizes: [number, number][] = [
      [3, 5],
      [4, 6],
      [2, 1],
      [3, 4],
      [2, 2],
    ];

    test.each(sizes)('float64 matches enumeration: B=%i N=%i with mixed lengths', (B, N) => {
      const random = rng(1000 + B * 10 + N + L * 100);
      const lengths = lengthsFor(B, N, random);
      const p = spansOf(L, B, N, lengths, random, 1.5);
      const crf = crfOf(p, lengths, device);
      expect([crf.batch, crf.length, crf.labels, crf.labelled]).toEqual([B, N, Math.max(L, 1), L > 0]);
      expect(Array.from(crf.lengths as Int32Array)).toEqual(lengths);
      const size = blockSize(L, N);
      const rows = (2 * N - 1) * 3;
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const argmax = values(crf.argmax());
      const best = crf.argmaxDecoded();
      const bestParts = values(best.parts);
      const bestScore = values(best.score);
      expect(logZ.length).toBe(B);
      expect(marginals.length).toBe(B * size);
      expect(best.spans.length).toBe(B * rows);
      const xs = Array.from({ length: B }, (_, b) => treeSentence(p, b, lengths));
      const oracles = xs.map(treeOracle);
      for (let b = 0; b < B; b++) {
        const x = xs[b];
        const o = oracles[b];
        expectClose([logZ[b]], [o.logZ], 1e-9, 1e-12);
        expectClose([entropy[b]], [o.entropy], 1e-9, 1e-12);
        const m = row(marginals, b, size);
        expectClose(m, o.marginals, 1e-9, 1e-12);
        for (let q = 0; q < size; q++) if (outside(x, q)) expect(m[q]).toBe(0);
        // Width-1 spans inside the length have μ = 1 (summed over labels).
        for (let i = 0; i < x.n; i++) {
          let total = 0;
          for (let l = 0; l < x.L; l++) total += m[spanPart(x, i, i, l)];
          expect(total).toBeCloseTo(1, 12);
        }
        const onehot = oneHot(o.best.parts, size);
        expect(row(argmax, b, size)).toEqual(onehot);
        expect(row(bestParts, b, size)).toEqual(onehot);
        expect(row(best.spans, b, rows)).toEqual(o.best.decoded);
        expectClose([bestScore[b]], [o.best.score], 1e-12, 1e-12);
      }
      // log p of (up to 3000) enumerated structures of the longest sentence, the others cycling through theirs.
      const lists = xs.map((x) => someStructures(x, random));
      const S = Math.max(...lists.map((l) => l.length));
      const logProb = host(crf.logProb(partsTensor(L, B, N, lists, S)));
      expect(logProb.shape).toEqual([S, B]);
      const expected: number[] = [];
      for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) expected.push(oracles[b].logProb(lists[b][s % lists[b].length].parts));
      expectClose(logProb.data, expected, 1e-9, 1e-9);
      // ... and of one structure per sentence ([B, ...] → [B]): the MAP, log p = s* − log Z.
      const single = host(crf.logProb(new Tensor(Float64Array.from(argmax), shapeOf(L, B, N))));
      expect(single.shape).toEqual([B]);
      expectClose(single.data, oracles.map((o) => o.best.score - o.logZ), 1e-9, 1e-9);
      crf.dispose();
    });

    test('marginals = finite differences of logZ; marginalsBackward = Cov(z)·g = finite differences of the marginals', () => {
      const [B, N] = [4, 4];
      const random = rng(77 + L);
      const lengths = [4, 1, 3, 2];
      const p = spansOf(L, B, N, lengths, random);
      const shape = shapeOf(L, B, N);
      const size = blockSize(L, N);
      const crf = crfOf(p, lengths, device);
      const marginals = values(crf.marginals());
      const logZOf = (v: Float64Array) => {
        const c = crfOf(new Tensor(v, shape), lengths, device);
        const out = values(c.logPartition());
        c.dispose();
        return out;
      };
      expectClose(finiteDifferenceVjp(logZOf, p.data as Float64Array, new Float64Array(B).fill(1)), marginals, 1e-6, 1e-8);
      const g = randomTensor(shape, random);
      const hvp = values(crf.marginalsBackward(g));
      expect(hvp.length).toBe(B * size);
      for (let b = 0; b < B; b++) {
        const x = treeSentence(p, b, lengths);
        const expected = treeOracle(x).covarianceProduct(row(g.data, b, size));
        expectClose(row(hvp, b, size), expected, 1e-9, 1e-12);
      }
      const marginalsOf = (v: Float64Array) => {
        const c = crfOf(new Tensor(v, shape), lengths, device);
        const out = values(c.marginals());
        c.dispose();
        return out;
      };
      expectClose(hvp, finiteDifferenceVjp(marginalsOf, p.data as Float64Array, g.data, 1e-5), 1e-5, 1e-7);
      crf.dispose();
    });

    test('samples follow the exact distribution (chi-square), agree with their spans, and are reproducible', () => {
      const [B, N] = L ? [3, 3] : [3, 5];
      const lengths = L ? [3, 1, 2] : [5, 1, 4];
      const random = rng(31 + L);
      const p = spansOf(L, B, N, lengths, random);
      mask(p, L, lengths, random, 0.1);
      p.data[(0 * N + 1) * Math.max(L, 1)] = -Infinity; // span (0, 1) (label 0) of sentence 0
      const crf = crfOf(p, lengths, device);
      const k = L === 3 ? 12000 : 6000;
      const size = blockSize(L, N);
      const rows = (2 * N - 1) * 3;
      const { spans, parts } = crf.sampleDecoded(k, { seed: 1234 });
      const sampleParts = host(parts);
      expect(sampleParts.shape).toEqual([k, ...shapeOf(L, B, N)]);
      expect(spans.length).toBe(k * B * rows);
      for (let b = 0; b < B; b++) {
        const x = treeSentence(p, b, lengths);
        const d = treeDistribution(x);
        const index = new Map(d.structures.map((s, i) => [keyOf(s.decoded), i]));
        const counts = new Array<number>(d.structures.length).fill(0);
        for (let s = 0; s < k; s++) {
          const decoded = row(spans, s * B + b, rows);
          const i = index.get(keyOf(decoded));
          if (i === undefined) throw new Error(`sample ${s} of sentence ${b} is no tree: ${decoded}`);
          counts[i]++;
          const got = row(sampleParts.data, s * B + b, size);
          if (got.some((v, q) => v !== (d.structures[i].parts.includes(q) ? 1 : 0))) {
            throw new Error(`sample ${s} of sentence ${b}: parts disagree with spans ${decoded}`);
          }
        }
        expect(chiSquarePValue(counts, d.probs)).toBeGreaterThan(1e-4);
      }
      // log p of every structure, masked ones (−Infinity) included.
      const lists = Array.from({ length: B }, (_, b) => treeDistribution(treeSentence(p, b, lengths)));
      const S = Math.max(...lists.map((d) => d.structures.length));
      expect(lists.some((d) => d.structures.some((st) => st.score === -Infinity))).toBe(true);
      const logProb = values(crf.logProb(partsTensor(L, B, N, lists.map((d) => d.structures), S)));
      const expected: number[] = [];
      for (let s = 0; s < S; s++) for (const d of lists) expected.push(d.structures[s % d.structures.length].score - d.logZ);
      expectClose(logProb, expected, 1e-9, 1e-9);
      const again = crf.sampleDecoded(50, { seed: 1234 });
      const twice = crf.sampleDecoded(50, { seed: 1234 });
      expect(Array.from(again.spans)).toEqual(Array.from(twice.spans));
      expect(values(again.parts)).toEqual(values(twice.parts));
      expect(values(crf.sample(50, { seed: 1234 }))).toEqual(values(twice.parts));
      expect(Array.from(crf.sampleDecoded(50, { seed: 99 }).spans)).not.toEqual(Array.from(again.spans));
      crf.dispose();
    });

    test('float32 matches float64 on random sizes with mixed lengths', () => {
      const random = rng(21 + L);
      for (const [B, N] of [
        [3, 12],
        [3, 20],
        [2, 30],
      ]) {
        const lengths = lengthsFor(B, N, random);
        const p = spansOf(L, B, N, lengths, random);
        mask(p, L, lengths, random, 0.1);
        const c64 = crfOf(p, lengths, device);
        const c32 = crfOf(toFloat32(p), lengths, device);
        const shape = shapeOf(L, B, N);
        expectClose(values(c32.logPartition()), values(c64.logPartition()), 1e-5, 1e-4);
        expectClose(values(c32.entropy()), values(c64.entropy()), 1e-4, 1e-4);
        expectClose(values(c32.marginals()), values(c64.marginals()), 1e-4, 1e-4);
        const g = randomTensor(shape, random);
        expectClose(values(c32.marginalsBackward(toFloat32(g))), values(c64.marginalsBackward(g)), 1e-3, 1e-4);
        // The float32 MAP is a MAP of the float64 scores up to float32 rounding.
        const best64 = c64.argmaxDecoded();
        const best32 = c32.argmaxDecoded();
        const score64 = values(best64.score);
        const parts32 = values(best32.parts);
        const size = blockSize(L, N);
        for (let b = 0; b < B; b++) {
          const x = treeSentence(p, b, lengths);
          const chosen = row(parts32, b, size).flatMap((v, q) => (v ? [q] : []));
          expect(chosen.length).toBe(2 * lengths[b] - 1);
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
        const random = rng(scale + L);
        const shape = shapeOf(L, B, N);
        const size = blockSize(L, N);
        // Sentences 0 and 3: a common offset of ±scale on every entry (every tree has 2n−1 spans, so the
        // distribution stays spread while log Z is huge); sentences 1 and 2: scale · N(0, 1) (peaked).
        const p = spansOf(L, B, N, lengths, random);
        for (let q = 0; q < size; q++) {
          p.data[q] += scale;
          p.data[3 * size + q] -= scale;
          p.data[size + q] *= scale;
          p.data[2 * size + q] *= scale;
        }
        mask(p, L, lengths, random, 0.2);
        const crf = crfOf(p, lengths, device);
        const logZ = values(crf.logPartition());
        const entropy = values(crf.entropy());
        const marginals = values(crf.marginals());
        const g = randomTensor(shape, random);
        const hvp = values(crf.marginalsBackward(g));
        for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
        const best = crf.argmaxDecoded();
        const bestScore = values(best.score);
        for (let b = 0; b < B; b++) {
          const x = treeSentence(p, b, lengths);
          const o = treeOracle(x);
          expectClose([logZ[b]], [o.logZ], 1e-12, 1e-12);
          expectClose([entropy[b]], [o.entropy], 1e-6, 1e-8);
          expectClose(row(marginals, b, size), o.marginals, 1e-9, 1e-9);
          expectClose(row(hvp, b, size), o.covarianceProduct(row(g.data, b, size)), 1e-7, 1e-8);
          expect(row(best.spans, b, (2 * N - 1) * 3)).toEqual(o.best.decoded);
          expectClose([bestScore[b]], [o.best.score], 1e-12);
        }
        if (scale === 1e3) {
          // Finite differences at large scores (h = 1e-4 so that it is not lost against 1e3).
          const logZOf = (v: Float64Array) => {
            const c = crfOf(new Tensor(v, shape), lengths, device);
            const out = values(c.logPartition());
            c.dispose();
            return out;
          };
          const marginalsOf = (v: Float64Array) => {
            const c = crfOf(new Tensor(v, shape), lengths, device);
            const out = values(c.marginals());
            c.dispose();
            return out;
          };
          const x0 = p.data as Float64Array;
          expectClose(finiteDifferenceVjp(logZOf, x0, new Float64Array(B).fill(1), 1e-4), marginals, 1e-5, 1e-6);
          expectClose(hvp, finiteDifferenceVjp(marginalsOf, x0, g.data, 1e-4), 1e-4, 1e-6);
          // float32 at ±1e3: finite, and close to float64 at float32's precision for numbers of 1e4.
          const c32 = crfOf(toFloat32(p), lengths, device);
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
      const [B, N] = [4, 6];
      const lengths = [6, 2, 1, 4];
      const random = rng(5 + L);
      const p = spansOf(L, B, N, lengths, random);
      const per = Math.max(L, 1);
      const size = blockSize(L, N);
      const rows = (2 * N - 1) * 3;
      const crf = crfOf(p, lengths, device);
      const logZ = values(crf.logPartition());
      const entropy = values(crf.entropy());
      const marginals = values(crf.marginals());
      const best = crf.argmaxDecoded();
      for (let b = 0; b < B; b++) {
        const n = lengths[b];
        // Sentence b alone, cut to its length, without lengths.
        const data = new Float64Array(n * n * per);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            for (let l = 0; l < per; l++) data[(i * n + j) * per + l] = p.data[((b * N + i) * N + j) * per + l];
          }
        }
        const single = crfOf(new Tensor(data, shapeOf(L, 1, n)), undefined, device);
        expectClose([logZ[b]], values(single.logPartition()), 1e-12, 1e-12);
        expectClose([entropy[b]], values(single.entropy()), 1e-10, 1e-12);
        const m = values(single.marginals());
        const mb = row(marginals, b, size);
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            for (let l = 0; l < per; l++) {
              const got = mb[(i * N + j) * per + l];
              if (i < n && j < n) expectClose([got], [m[(i * n + j) * per + l]], 1e-10, 1e-13);
              else expect(got).toBe(0);
            }
          }
        }
        const decoded = row(best.spans, b, rows);
        const alone = Array.from(single.argmaxDecoded().spans);
        expect(decoded.slice(0, 3 * (2 * n - 1))).toEqual(alone);
        expect(decoded.slice(3 * (2 * n - 1))).toEqual(new Array(rows - 3 * (2 * n - 1)).fill(-1));
        single.dispose();
      }
      crf.dispose();
    });

    test('async forms equal the sync ones', async () => {
      const [B, N] = [5, 6];
      const lengths = [6, 3, 1, 5, 2];
      const random = rng(3 + L);
      const p = spansOf(L, B, N, lengths, random);
      const crf = crfOf(p, lengths, device);
      expect(values(await crf.logPartitionAsync())).toEqual(values(crf.logPartition()));
      expect(values(await crf.entropyAsync())).toEqual(values(crf.entropy()));
      expect(values(await crf.marginalsAsync())).toEqual(values(crf.marginals()));
      const g = randomTensor(shapeOf(L, B, N), random);
      expect(values(await crf.marginalsBackwardAsync(g))).toEqual(values(crf.marginalsBackward(g)));
      const bestAsync = await crf.argmaxAsync();
      const best = crf.argmaxDecoded();
      expect(Array.from(bestAsync.spans)).toEqual(Array.from(best.spans));
      expect(values(bestAsync.score)).toEqual(values(best.score));
      expect(values(bestAsync.parts)).toEqual(values(best.parts));
      const samplesAsync = await crf.sampleAsync(7, { seed: 8 });
      const samples = crf.sampleDecoded(7, { seed: 8 });
      expect(Array.from(samplesAsync.spans)).toEqual(Array.from(samples.spans));
      expect(values(samplesAsync.parts)).toEqual(values(samples.parts));
      const parts = host(crf.sample(3, { seed: 2 }));
      expect(values(await crf.logProbAsync(parts))).toEqual(values(crf.logProb(parts)));
      crf.dispose();
    });
  });
});

describe('TreeCRF errors', () => {
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
  const spans = () => randomTensor([3, 4, 4], rng(1));
  const labelled = () => randomTensor([3, 4, 4, 2], rng(2));

  test('bad ranks, non-square spans, bad lengths and non-tensors are typed errors', () => {
    expect(code(() => new TreeCRF(randomTensor([3, 4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new TreeCRF(randomTensor([4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new TreeCRF(randomTensor([3, 4, 4, 2, 1], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new TreeCRF(randomTensor([3, 4, 5], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new TreeCRF(randomTensor([3, 4, 5, 2], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new TreeCRF(spans(), { lengths: [4, 0, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new TreeCRF(spans(), { lengths: [4, 5, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new TreeCRF(spans(), { lengths: [4, 1.5, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new TreeCRF(spans(), { lengths: [4, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(code(() => new TreeCRF('spans' as unknown as Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(code(() => new TreeCRF(spans(), { lengths: [4, 1, 2] }))).toBe('no error');
  });

  test('NaN and +Infinity scores, and sentences without a tree of finite score, are rejected', () => {
    for (const make of [spans, labelled]) {
      const p = make();
      p.data[5] = NaN;
      expect(code(() => new TreeCRF(p).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
      p.data[5] = Infinity;
      expect(code(() => new TreeCRF(p).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
      // A NaN in an ignored entry (below the diagonal) is still an error.
      const q = make();
      const per = q.shape.length === 4 ? q.shape[3] : 1;
      q.data[(1 * 4 + 0) * per] = NaN;
      expect(code(() => new TreeCRF(q).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    }
    // Sentence 2 (length 3): its root span (0, 2) is -inf (all labels): no tree has a finite score.
    for (const make of [spans, labelled]) {
      const p = make();
      const per = p.shape.length === 4 ? p.shape[3] : 1;
      for (let l = 0; l < per; l++) p.data[((2 * 4 + 0) * 4 + 2) * per + l] = -Infinity;
      const crf = new TreeCRF(p, { lengths: [4, 4, 3] });
      for (const f of [() => crf.logPartition(), () => crf.marginals(), () => crf.entropy(), () => crf.argmaxDecoded()]) {
        expect(code(f)).toBe('RangeError:ERR_INVALID_SCORES');
        expect(message(f)).toMatch(/\b2\b/);
      }
      // The same entry past the length of a shorter sentence changes nothing.
      expect(code(() => new TreeCRF(p, { lengths: [4, 4, 2] }).logPartition())).toBe('no error');
    }
    // All width-1 spans of sentence 1 masked.
    const w = spans();
    for (let i = 0; i < 4; i++) w.data[(1 * 4 + i) * 4 + i] = -Infinity;
    expect(code(() => new TreeCRF(w).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(message(() => new TreeCRF(w).logPartition())).toMatch(/\b1\b/);
  });

  test('async methods reject with the same typed errors', async () => {
    const p = spans();
    p.data[((1 * 4 + 0) * 4 + 3)] = -Infinity;
    const crf = new TreeCRF(p);
    await expect((async () => crf.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    await expect((async () => crf.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
  });

  test('bad gradients, logProb parts and sample counts are typed errors', () => {
    for (const make of [spans, labelled]) {
      const p = make();
      const crf = new TreeCRF(p, { lengths: [4, 2, 3] });
      const shape = p.shape;
      expect(code(() => crf.marginalsBackward(randomTensor([3, 4, 4, 3], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.marginalsBackward(randomTensor([2, ...shape.slice(1)], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      const g = randomTensor([...shape], rng(4));
      g.data[3] = NaN;
      expect(code(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
      g.data[3] = Infinity;
      expect(code(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
      g.data[3] = 0;
      expect(code(() => crf.marginalsBackward(g))).toBe('no error');
      expect(code(() => crf.logProb(randomTensor([3, 4, 3], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(randomTensor([2, ...shape.slice(1)], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(randomTensor([2, 3, 4, 5], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      expect(code(() => crf.logProb(crf.argmax()))).toBe('no error');
      for (const k of [0, -1, 1.5, NaN, Infinity]) expect(code(() => crf.sample(k, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(code(() => crf.sampleDecoded(0, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(['TypeError', 'RangeError']).toContain(code(() => crf.sample('3' as unknown as number, { seed: 1 })).split(':')[0]);
      crf.dispose();
    }
  });
});
