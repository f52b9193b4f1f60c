/**
 * SentCFG (a PCFG in Chomsky normal form: torch-struct's SentCFG) on every available backend: float64 against
 * the enumeration oracle (test/oracles/sent_cfg.ts, itself checked against torch-struct) at 1e-9 with mixed
 * lengths and junk terms past them — log Z, expected counts, entropy, Cov(z)·g, the Viterbi tree (spans, score,
 * counts), logProb, kl / crossEntropy / count; finite differences of log Z and of the marginals; the sampler
 * against the exact distribution (chi-square); −Infinity masks and sentences without a tree; ±1e3 scores;
 * float32 against float64; async = sync; the packed layout (fromPacked, unpack); typed errors naming the
 * argument.
 */
import { AnyTensor, Device, SentCFG, Tensor, estimators } from '../lib';
import { backends, chiSquarePValue, errorCode, errorMessage, expectClose, finiteDifferenceVjp, normal, randomTensor, rng, toFloat32 } from './helpers';
import { Structure, covarianceProduct, keyOf, oneHot } from './oracles/enumerate';
import { LatentCase, batchExpectedLoss, quadraticLoss } from './oracles/latent';
import {
  CfgScores,
  CfgSizes,
  cfgCount,
  cfgDistribution,
  cfgOracle,
  cfgPartCount,
  cfgScoreOf,
  cfgSentence,
  cfgStructures,
  logCfgCount,
  packCfg,
  rootPart,
  rulePart,
  symbols,
  termPart,
  unpackCfg,
} from './oracles/sent_cfg';

/** Host results (this suite passes host tensors only: results are host tensors on every backend). */
function host(t: AnyTensor): Tensor {
  expect(t).toBeInstanceOf(Tensor);
  return t as Tensor;
}

function values(t: AnyTensor): number[] {
  return Array.from(host(t).data);
}

/** Row `r` of a flat array cut in rows of `size`. */
function row(a: ArrayLike<number>, r: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => a[r * size + i]);
}

/** Lengths in [2, N]: the first sentence full, the rest random. */
function lengthsFor(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : 2 + Math.floor(random() * (N - 1))));
}

/** Random float64 scores (scale · N(0, 1)); terms past each length get junk (large values and −Infinity). */
function scoresOf(B: number, z: CfgSizes, lengths: number[], random: () => number, scale = 1): CfgScores {
  const S = symbols(z);
  const terms = randomTensor([B, z.N, z.T], random, scale);
  for (let b = 0; b < B; b++) {
    for (let i = lengths[b]; i < z.N; i++) {
      for (let t = 0; t < z.T; t++) terms.data[(b * z.N + i) * z.T + t] = random() < 0.3 ? -Infinity : 40 * normal(random);
    }
  }
  return { terms, rules: randomTensor([B, z.NT, S, S], random, scale), roots: randomTensor([B, z.NT], random, scale) };
}

/**
 * Forbids (−Infinity) some terms, rules and roots, never preterminal 0 of a word, nonterminal 0 at the root or
 * the rules 0 → {0, NT} {0, NT}, so every sentence keeps trees of finite score.
 */
function mask(s: CfgScores, z: CfgSizes, random: () => number, rate = 0.25): void {
  const B = s.roots.shape[0];
  const S = symbols(z);
  const kept = (A: number, X: number, Y: number) => A === 0 && (X === 0 || X === z.NT) && (Y === 0 || Y === z.NT);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < z.N; i++) for (let t = 1; t < z.T; t++) if (random() < rate) s.terms.data[(b * z.N + i) * z.T + t] = -Infinity;
    for (let A = 1; A < z.NT; A++) if (random() < rate) s.roots.data[b * z.NT + A] = -Infinity;
    for (let A = 0; A < z.NT; A++) {
      for (let X = 0; X < S; X++) {
        for (let Y = 0; Y < S; Y++) if (!kept(A, X, Y) && random() < rate) s.rules.data[((b * z.NT + A) * S + X) * S + Y] = -Infinity;
      }
    }
  }
}

function float32Of(s: CfgScores): CfgScores {
  return { terms: toFloat32(s.terms), rules: toFloat32(s.rules), roots: toFloat32(s.roots) };
}

function cfgOf(s: CfgScores, lengths: number[] | undefined, device: Device): SentCFG {
  return new SentCFG(s, { lengths, device });
}

/** The counts tensor [S, B, D] holding tree s mod count_b of sentence b in row (s, b). */
function countsTensor(z: CfgSizes, lists: Structure[][], S: number): Tensor {
  const B = lists.length;
  const D = cfgPartCount(z);
  const data = new Float64Array(S * B * D);
  for (let s = 0; s < S; s++) {
    for (let b = 0; b < B; b++) for (const q of lists[b][s % lists[b].length].parts) data[(s * B + b) * D + q] += 1;
  }
  return new Tensor(data, [S, B, D]);
}

describe('the SentCFG oracle itself', () => {
  test('counts Catalan(n−1)·NT^(n−1)·T^n distinct trees, each with consistent rows and parts', () => {
    const random = rng(7);
    for (const [n, NT, T] of [
      [2, 1, 1],
      [2, 2, 3],
      [3, 2, 2],
      [4, 2, 1],
      [4, 1, 2],
      [5, 1, 1],
    ]) {
      const z = { N: n + 1, NT, T };
      const packed = packCfg(scoresOf(1, z, [n], random));
      const x = cfgSentence(packed, 0, z, [n]);
      const trees = cfgStructures(x);
      expect(trees.length).toBe(cfgCount(n, NT, T));
      expect(new Set(trees.map((t) => keyOf(t.decoded))).size).toBe(trees.length);
      expect(Math.log(trees.length)).toBeCloseTo(logCfgCount(n, NT, T), 12);
      for (const t of trees) {
        // 1 root, n − 1 rules, n terms; the root row spans the sentence.
        expect(t.parts.length).toBe(2 * n);
        expect(t.decoded.slice(0, 2)).toEqual([0, n - 1]);
        expect(t.decoded.slice(3 * (2 * n - 1))).toEqual(new Array(3 * (2 * z.N - 1) - 3 * (2 * n - 1)).fill(-1));
        expect(t.score).toBeCloseTo(cfgScoreOf(x, t.parts), 12);
        for (let r = 0; r < 2 * n - 1; r++) {
          const [i, j, label] = t.decoded.slice(3 * r, 3 * r + 3);
          expect(label).toBeLessThan(i === j ? T : NT);
          if (i === j) expect(t.parts).toContain(termPart(z, i, label));
        }
        expect(t.parts).toContain(rootPart(z, t.decoded[2]));
      }
    }
    // n = 2 by hand: root A over words 0 and 1 with preterminals t0, t1: rows (0,1,A), (0,0,t0), (1,1,t1).
    const z = { N: 2, NT: 2, T: 2 };
    const x = cfgSentence(packCfg(scoresOf(1, z, [2], random)), 0, z);
    const trees = cfgStructures(x);
    expect(trees[0].decoded).toEqual([0, 1, 0, 0, 0, 0, 1, 1, 0]);
    expect(trees[5].decoded).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect([...trees[5].parts].sort((a, b) => a - b)).toEqual(
      [termPart(z, 0, 0), termPart(z, 1, 1), rulePart(z, 1, 2, 3), rootPart(z, 1)].sort((a, b) => a - b),
    );
  });

  test('expected counts: one preterminal per word, one root, n − 1 rules; pack/unpack are inverse', () => {
    const random = rng(8);
    const z = { N: 4, NT: 2, T: 2 };
    const lengths = [4, 3, 2];
    const s = scoresOf(3, z, lengths, random, 1.5);
    const packed = packCfg(s);
    expect(packed.shape).toEqual([3, cfgPartCount(z)]);
    const back = unpackCfg(packed, z);
    for (const key of ['terms', 'rules', 'roots'] as const) {
      expect(back[key].shape).toEqual(s[key].shape);
      expect(Array.from(back[key].data)).toEqual(Array.from(s[key].data));
    }
    for (let b = 0; b < 3; b++) {
      const n = lengths[b];
      const m = cfgDistribution(cfgSentence(packed, b, z, lengths)).marginals;
      for (let i = 0; i < z.N; i++) {
        const total = row(m, 0, z.N * z.T).slice(i * z.T, (i + 1) * z.T).reduce((a, v) => a + v, 0);
        expect(total).toBeCloseTo(i < n ? 1 : 0, 12);
      }
      const ruleTotal = Array.from(m.subarray(z.N * z.T, rootPart(z, 0))).reduce((a, v) => a + v, 0);
      expect(ruleTotal).toBeCloseTo(n - 1, 12);
      expect(Array.from(m.subarray(rootPart(z, 0))).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
    }
  });
});

describe.each(backends)('SentCFG on %s', (device) => {
  const sizes: [number, number, number, number][] = [
    // B, N, NT, T
    [3, 4, 2, 2],
    [3, 3, 3, 2],
    [2, 2, 2, 3],
    [2, 5, 1, 2],
    [3, 4, 1, 3],
  ];

  test.each(sizes)('float64 matches enumeration: B=%i N=%i NT=%i T=%i with mixed lengths', (B, N, NT, T) => {
    const z = { N, NT, T };
    const D = cfgPartCount(z);
    const rows = (2 * N - 1) * 3;
    const random = rng(100 * N + 10 * NT + T);
    const lengths = lengthsFor(B, N, random);
    const s = scoresOf(B, z, lengths, random, 1.5);
    const packed = packCfg(s);
    const cfg = cfgOf(s, lengths, device);
    expect([cfg.batch, cfg.length, cfg.nonterminals, cfg.preterminals]).toEqual([B, N, NT, T]);
    expect(cfg.potentials.shape).toEqual([B, D]);
    expect(Array.from(cfg.lengths as Int32Array)).toEqual(lengths);
    const logZ = values(cfg.logPartition());
    const entropy = values(cfg.entropy());
    const marginals = values(cfg.marginals());
    const argmax = values(cfg.argmax());
    const best = cfg.argmaxDecoded();
    const bestParts = values(best.parts);
    const bestScore = values(best.score);
    expect(marginals.length).toBe(B * D);
    expect(best.spans.length).toBe(B * rows);
    const xs = Array.from({ length: B }, (_, b) => cfgSentence(packed, b, z, lengths));
    const oracles = xs.map(cfgOracle);
    for (let b = 0; b < B; b++) {
      const o = oracles[b];
      expectClose([logZ[b]], [o.logZ], 1e-9, 1e-12);
      expectClose([entropy[b]], [o.entropy], 1e-9, 1e-12);
      const m = row(marginals, b, D);
      expectClose(m, o.marginals, 1e-9, 1e-12);
      for (let q = lengths[b] * T; q < N * T; q++) expect(m[q]).toBe(0);
      const counts = oneHot(o.best.parts, D);
      expect(row(argmax, b, D)).toEqual(counts);
      expect(row(bestParts, b, D)).toEqual(counts);
      expect(row(best.spans, b, rows)).toEqual(o.best.decoded);
      expectClose([bestScore[b]], [o.best.score], 1e-12, 1e-12);
    }
    // The same from the packed scores.
    const fromPacked = SentCFG.fromPacked(packed, z, { lengths, device });
    expectClose(values(fromPacked.logPartition()), logZ, 1e-15, 0);
    expectClose(values(fromPacked.marginals()), marginals, 1e-15, 0);
    fromPacked.dispose();
    // log p of every tree of each sentence (the shorter ones cycling through theirs), as counts [S, B, D].
    const lists = oracles.map((o) => o.distribution.structures);
    const S = Math.max(...lists.map((l) => l.length));
    const logProb = host(cfg.logProb(countsTensor(z, lists, S)));
    expect(logProb.shape).toEqual([S, B]);
    const expected: number[] = [];
    for (let k = 0; k < S; k++) for (let b = 0; b < B; b++) expected.push(oracles[b].logProb(lists[b][k % lists[b].length].parts));
    expectClose(logProb.data, expected, 1e-9, 1e-9);
    // ... of one tree per sentence ([B, D] → [B]) and of the decoded MAP: s* − log Z.
    const mapLogProb = oracles.map((o) => o.best.score - o.logZ);
    expectClose(values(cfg.logProb(new Tensor(Float64Array.from(argmax), [B, D]))), mapLogProb, 1e-9, 1e-9);
    expectClose(values(cfg.logProb(best.spans)), mapLogProb, 1e-9, 1e-9);
    cfg.dispose();
  });

  test('marginals = finite differences of log Z; marginalsBackward = Cov(z)·g = finite differences of the marginals', () => {
    const z = { N: 4, NT: 2, T: 2 };
    const D = cfgPartCount(z);
    const B = 3;
    const lengths = [4, 2, 3];
    const random = rng(77);
    const packed = packCfg(scoresOf(B, z, lengths, random));
    const make = (v: Float64Array) => SentCFG.fromPacked(new Tensor(v, [B, D]), z, { lengths, device });
    const cfg = make(packed.data as Float64Array);
    const marginals = values(cfg.marginals());
    const logZOf = (v: Float64Array) => {
      const c = make(v);
      const out = values(c.logPartition());
      c.dispose();
      return out;
    };
    expectClose(finiteDifferenceVjp(logZOf, packed.data as Float64Array, new Float64Array(B).fill(1)), marginals, 1e-6, 1e-8);
    const g = randomTensor([B, D], random);
    const hvp = values(cfg.marginalsBackward(g));
    expect(hvp.length).toBe(B * D);
    for (let b = 0; b < B; b++) {
      const expected = cfgOracle(cfgSentence(packed, b, z, lengths)).covarianceProduct(row(g.data, b, D));
      expectClose(row(hvp, b, D), expected, 1e-9, 1e-12);
    }
    const marginalsOf = (v: Float64Array) => {
      const c = make(v);
      const out = values(c.marginals());
      c.dispose();
      return out;
    };
    expectClose(hvp, finiteDifferenceVjp(marginalsOf, packed.data as Float64Array, g.data, 1e-5), 1e-5, 1e-7);
    cfg.dispose();
  });

  test('samples follow the exact distribution (chi-square), agree with their spans, and are reproducible', () => {
    const z = { N: 3, NT: 2, T: 2 };
    const D = cfgPartCount(z);
    const rows = (2 * z.N - 1) * 3;
    const B = 3;
    const lengths = [3, 2, 3];
    const random = rng(31);
    const s = scoresOf(B, z, lengths, random);
    mask(s, z, random, 0.15);
    const packed = packCfg(s);
    const cfg = cfgOf(s, lengths, device);
    const k = 8000;
    const { spans, parts } = cfg.sampleDecoded(k, { seed: 1234 });
    const sampleParts = host(parts);
    expect(sampleParts.shape).toEqual([k, B, D]);
    expect(spans.length).toBe(k * B * rows);
    const distributions = Array.from({ length: B }, (_, b) => cfgDistribution(cfgSentence(packed, b, z, lengths)));
    expect(distributions.some((d) => d.probs.some((p) => p === 0))).toBe(true);
    distributions.forEach((d, b) => {
      const index = new Map(d.structures.map((t, i) => [keyOf(t.decoded), i]));
      const counts = new Array<number>(d.structures.length).fill(0);
      for (let r = 0; r < k; r++) {
        const decoded = row(spans, r * B + b, rows);
        const i = index.get(keyOf(decoded));
        if (i === undefined) throw new Error(`sample ${r} of sentence ${b} is no tree: ${decoded}`);
        counts[i]++;
        const expected = oneHot(d.structures[i].parts, D);
        if (row(sampleParts.data, r * B + b, D).some((v, q) => v !== expected[q])) {
          throw new Error(`sample ${r} of sentence ${b}: counts disagree with spans ${decoded}`);
        }
      }
      expect(chiSquarePValue(counts, d.probs)).toBeGreaterThan(1e-4);
    });
    // log p of the samples.
    const logProb = values(cfg.logProb(sampleParts));
    const logZ = distributions.map((d) => d.logZ);
    for (let r = 0; r < 50; r++) {
      for (let b = 0; b < B; b++) {
        const x = cfgSentence(packed, b, z, lengths);
        const chosen = row(sampleParts.data, r * B + b, D).flatMap((v, q) => new Array<number>(v).fill(q));
        expectClose([logProb[r * B + b]], [cfgScoreOf(x, chosen) - logZ[b]], 1e-9, 1e-9);
      }
    }
    const again = cfg.sampleDecoded(50, { seed: 1234 });
    const twice = cfg.sampleDecoded(50, { seed: 1234 });
    expect(Array.from(again.spans)).toEqual(Array.from(twice.spans));
    expect(values(again.parts)).toEqual(values(twice.parts));
    expect(values(cfg.sample(50, { seed: 1234 }))).toEqual(values(twice.parts));
    expect(Array.from(cfg.sampleDecoded(50, { seed: 99 }).spans)).not.toEqual(Array.from(again.spans));
    cfg.dispose();
  });

  test('−Infinity masks of terms, rules and roots: the oracle\'s values, never a forbidden part', () => {
    const z = { N: 4, NT: 2, T: 3 };
    const D = cfgPartCount(z);
    const B = 4;
    const lengths = [4, 3, 2, 4];
    const random = rng(55);
    const s = scoresOf(B, z, lengths, random, 1.2);
    mask(s, z, random, 0.4);
    const packed = packCfg(s);
    const cfg = cfgOf(s, lengths, device);
    const marginals = values(cfg.marginals());
    const logZ = values(cfg.logPartition());
    const entropy = values(cfg.entropy());
    const g = randomTensor([B, D], random);
    const hvp = values(cfg.marginalsBackward(g));
    const best = cfg.argmaxDecoded();
    const samples = host(cfg.sample(200, { seed: 5 }));
    for (let b = 0; b < B; b++) {
      const o = cfgOracle(cfgSentence(packed, b, z, lengths));
      expectClose([logZ[b]], [o.logZ], 1e-9, 1e-12);
      expectClose([entropy[b]], [o.entropy], 1e-9, 1e-12);
      const m = row(marginals, b, D);
      expectClose(m, o.marginals, 1e-9, 1e-12);
      expectClose(row(hvp, b, D), o.covarianceProduct(row(g.data, b, D)), 1e-9, 1e-12);
      expect(row(best.spans, b, (2 * z.N - 1) * 3)).toEqual(o.best.decoded);
      for (let q = 0; q < D; q++) {
        if (packed.data[b * D + q] !== -Infinity) continue;
        expect(m[q]).toBe(0);
        for (let r = 0; r < 200; r++) expect(samples.data[(r * B + b) * D + q]).toBe(0);
      }
    }
    cfg.dispose();
  });

  test('scores of ±1e3 give finite results equal to the oracle, gradients included', () => {
    const z = { N: 4, NT: 2, T: 2 };
    const D = cfgPartCount(z);
    const B = 4;
    const lengths = [4, 3, 2, 4];
    const random = rng(1000);
    const s = scoresOf(B, z, lengths, random);
    const packed = packCfg(s);
    const p = packed.data as Float64Array;
    // Sentences 0 and 3: a common offset of ±1e3 on every entry (log Z ~ ±2n·1e3, the distribution spread);
    // sentences 1 and 2: 1e3 · N(0, 1) (peaked).
    for (let q = 0; q < D; q++) {
      p[q] += 1e3;
      p[3 * D + q] -= 1e3;
      p[D + q] *= 1e3;
      p[2 * D + q] *= 1e3;
    }
    const make = (v: Float64Array) => SentCFG.fromPacked(new Tensor(v, [B, D]), z, { lengths, device });
    const cfg = make(p);
    const logZ = values(cfg.logPartition());
    const entropy = values(cfg.entropy());
    const marginals = values(cfg.marginals());
    const g = randomTensor([B, D], random);
    const hvp = values(cfg.marginalsBackward(g));
    for (const v of [...logZ, ...entropy, ...marginals, ...hvp]) expect(Number.isFinite(v)).toBe(true);
    const best = cfg.argmaxDecoded();
    for (let b = 0; b < B; b++) {
      const o = cfgOracle(cfgSentence(packed, b, z, lengths));
      expectClose([logZ[b]], [o.logZ], 1e-12, 1e-12);
      expectClose([entropy[b]], [o.entropy], 1e-6, 1e-8);
      expectClose(row(marginals, b, D), o.marginals, 1e-9, 1e-9);
      expectClose(row(hvp, b, D), o.covarianceProduct(row(g.data, b, D)), 1e-7, 1e-8);
      expect(row(best.spans, b, (2 * z.N - 1) * 3)).toEqual(o.best.decoded);
    }
    const logZOf = (v: Float64Array) => {
      const c = make(v);
      const out = values(c.logPartition());
      c.dispose();
      return out;
    };
    expectClose(finiteDifferenceVjp(logZOf, p, new Float64Array(B).fill(1), 1e-4), marginals, 1e-5, 1e-6);
    // float32 at ±1e3: finite, close to float64 at float32's precision for numbers of 1e4.
    const c32 = SentCFG.fromPacked(toFloat32(packed), z, { lengths, device });
    const m32 = values(c32.marginals());
    for (const v of [...values(c32.logPartition()), ...values(c32.entropy()), ...m32]) expect(Number.isFinite(v)).toBe(true);
    expectClose(m32, marginals, 0, 2e-2);
    expectClose(values(c32.logPartition()), logZ, 1e-5, 1e-2);
    c32.dispose();
    cfg.dispose();
  });

  test('float32 matches float64 on random larger sizes with mixed lengths', () => {
    const random = rng(21);
    for (const [B, N, NT, T] of [
      [3, 8, 4, 5],
      [2, 12, 3, 4],
    ]) {
      const z = { N, NT, T };
      const D = cfgPartCount(z);
      const lengths = lengthsFor(B, N, random);
      const s = scoresOf(B, z, lengths, random);
      mask(s, z, random, 0.1);
      const c64 = cfgOf(s, lengths, device);
      const c32 = cfgOf(float32Of(s), lengths, device);
      expectClose(values(c32.logPartition()), values(c64.logPartition()), 1e-5, 1e-4);
      expectClose(values(c32.entropy()), values(c64.entropy()), 1e-4, 1e-4);
      expectClose(values(c32.marginals()), values(c64.marginals()), 1e-4, 1e-4);
      const g = randomTensor([B, D], random);
      expectClose(values(c32.marginalsBackward(toFloat32(g))), values(c64.marginalsBackward(g)), 1e-3, 1e-4);
      // The float32 MAP is a MAP of the float64 scores up to float32 rounding.
      const packed = packCfg(s);
      const score64 = values(c64.argmaxDecoded().score);
      const best32 = c32.argmaxDecoded();
      const counts32 = values(best32.parts);
      for (let b = 0; b < B; b++) {
        const x = cfgSentence(packed, b, z, lengths);
        const chosen = row(counts32, b, D).flatMap((v, q) => new Array<number>(v).fill(q));
        expect(chosen.length).toBe(2 * lengths[b]);
        expect(cfgScoreOf(x, chosen)).toBeGreaterThan(score64[b] - 1e-3);
      }
      expectClose(values(best32.score), score64, 1e-5, 1e-4);
      c64.dispose();
      c32.dispose();
    }
  });

  test('perturb-and-MAP returns trees of the grammar, reproducibly', () => {
    const z = { N: 4, NT: 2, T: 2 };
    const D = cfgPartCount(z);
    const rows = (2 * z.N - 1) * 3;
    const lengths = [4, 3];
    const s = scoresOf(2, z, lengths, rng(12));
    const packed = packCfg(s);
    const cfg = cfgOf(s, lengths, device);
    const trees = lengths.map((_, b) => new Map(cfgStructures(cfgSentence(packed, b, z, lengths)).map((t) => [keyOf(t.decoded), t])));
    for (const seed of [1, 2, 3]) {
      const pm = cfg.perturbAndMapDecoded({ seed, temperature: 0.7 });
      const counts = values(pm.parts);
      lengths.forEach((_, b) => {
        const tree = trees[b].get(keyOf(row(pm.spans, b, rows)));
        if (!tree) throw new Error(`perturbAndMap of sentence ${b} is no tree: ${row(pm.spans, b, rows)}`);
        expect(row(counts, b, D)).toEqual(oneHot(tree.parts, D));
      });
      expect(Array.from(cfg.perturbAndMapDecoded({ seed, temperature: 0.7 }).spans)).toEqual(Array.from(pm.spans));
    }
    cfg.dispose();
  });

  test('estimators run on it unchanged: structured attention, straight-through and REINFORCE (unbiased)', () => {
    const z = { N: 3, NT: 2, T: 2 };
    const D = cfgPartCount(z);
    const B = 2;
    const lengths = [3, 2];
    const random = rng(808);
    // Scores of scale 0.3: every part has μ ≥ 1 % (REINFORCE's standard errors, estimated from its samples, would
    // miss a rare part's contributions).
    const scores = packCfg(scoresOf(B, z, lengths, random, 0.3));
    const c: LatentCase = {
      name: 'SentCFG',
      shape: [B, D],
      lengths,
      make: (t) => SentCFG.fromPacked(t, z, { lengths, device }),
      distribution: (t, b) => cfgDistribution(cfgSentence(t, b, z, lengths)),
    };
    const loss = quadraticLoss(randomTensor([B, D], random).data as Float64Array, B, 0.4, 3);
    const d = [0, 1].map((b) => c.distribution(scores, b));
    const attention = estimators.marginals().step(c.make(scores), loss.decoder);
    const straight = estimators.straightThrough({ backward: 'marginals' }).step(c.make(scores), loss.decoder);
    for (let b = 0; b < B; b++) {
      expectClose(row(attention.samples[0].data, b, D), d[b].marginals, 1e-9, 1e-12);
      const gA = row(loss.decoder(attention.samples[0]).gradZ.data, b, D);
      expectClose(row(attention.gradScores.data, b, D), covarianceProduct(d[b], gA), 1e-9, 1e-12);
      expect(row(straight.samples[0].data, b, D)).toEqual(oneHot(d[b].best.parts, D));
      const gS = row(loss.decoder(straight.samples[0]).gradZ.data, b, D);
      expectClose(row(straight.gradScores.data, b, D), covarianceProduct(d[b], gS), 1e-9, 1e-12);
    }
    for (const m of d) for (let q = 0; q < D; q++) if (m.marginals[q] > 0) expect(m.marginals[q]).toBeGreaterThan(0.01);
    // REINFORCE(leaveOneOut, k = 3) over 400 steps: every coordinate's mean within 5 standard errors of ∇E_p[L].
    const exact = batchExpectedLoss(c, scores, loss);
    const estimator = estimators.reinforce({ samples: 3, baseline: 'leaveOneOut', seed: 1 });
    const steps = 400;
    const sum = new Float64Array(B * D);
    const squares = new Float64Array(B * D);
    for (let s = 0; s < steps; s++) {
      const g = estimator.step(c.make(scores), loss.decoder).gradScores.data;
      g.forEach((v, q) => {
        sum[q] += v;
        squares[q] += v * v;
      });
    }
    sum.forEach((total, q) => {
      const mean = total / steps;
      const stderr = Math.sqrt(Math.max(0, squares[q] / steps - mean * mean) / (steps - 1));
      const allowed = 5 * stderr + 1e-9 * (1 + Math.abs(exact.grad[q]));
      if (!(Math.abs(mean - exact.grad[q]) <= allowed)) throw new Error(`coordinate ${q}: mean ${mean} vs exact ${exact.grad[q]} (allowed ${allowed})`);
    });
  });

  test('kl, crossEntropy and count equal enumeration', () => {
    const z = { N: 3, NT: 2, T: 2 };
    const B = 3;
    const lengths = [3, 2, 3];
    const random = rng(606);
    const sp = scoresOf(B, z, lengths, random);
    const sq = scoresOf(B, z, lengths, random);
    mask(sq, z, random, 0.2);
    const p = cfgOf(sp, lengths, device);
    const q = cfgOf(sq, lengths, device);
    const kl = p.kl(q);
    const ce = p.crossEntropy(q);
    const [pp, qp] = [packCfg(sp), packCfg(sq)];
    for (let b = 0; b < B; b++) {
      const dp = cfgDistribution(cfgSentence(pp, b, z, lengths));
      const dq = cfgDistribution(cfgSentence(qp, b, z, lengths));
      let expectedCe = 0;
      let expectedKl = 0;
      dp.structures.forEach((t, k) => {
        expect(keyOf(dq.structures[k].decoded)).toBe(keyOf(t.decoded));
        const logQ = dq.structures[k].score - dq.logZ;
        expectedCe -= dp.probs[k] * logQ;
        expectedKl += dp.probs[k] * (t.score - dp.logZ - logQ);
      });
      expectClose([ce[b]], [expectedCe], 1e-9, 1e-12);
      expectClose([kl[b]], [expectedKl], 1e-9, 1e-12);
    }
    expectClose(p.kl(p), [0, 0, 0], 0, 1e-12);
    // Forbidding in q a rule that p uses makes KL(p ‖ q) = +Infinity; KL(q ‖ p) stays finite.
    const forbidden = scoresOf(B, z, lengths, random);
    forbidden.rules.data.fill(-Infinity);
    for (let b = 0; b < B; b++) for (const [X, Y] of [[0, 0], [0, 2], [2, 0], [2, 2]]) forbidden.rules.data[((b * 2 + 0) * 4 + X) * 4 + Y] = 0;
    const r = cfgOf(forbidden, lengths, device);
    expect(Array.from(p.kl(r)).every((v) => v === Infinity)).toBe(true);
    expect(Array.from(r.kl(p)).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expectClose(p.count(), lengths.map((n) => logCfgCount(n, z.NT, z.T)), 1e-12, 1e-12);
    expectClose(r.count(), p.count(), 0, 0);
    // A bigger grammar: count = log(Catalan(n−1) NT^(n−1) T^n).
    const big = { N: 12, NT: 10, T: 20 };
    const bigLengths = [12, 2, 7];
    const c = cfgOf(scoresOf(3, big, bigLengths, random), bigLengths, device);
    expectClose(c.count(), bigLengths.map((n) => logCfgCount(n, big.NT, big.T)), 1e-12, 1e-12);
    [p, q, r, c].forEach((x) => x.dispose());
  });

  test('unpack: expected counts and samples back to { terms, rules, roots }', () => {
    const z = { N: 4, NT: 2, T: 3 };
    const D = cfgPartCount(z);
    const S = symbols(z);
    const B = 2;
    const lengths = [4, 2];
    const random = rng(9);
    const s = scoresOf(B, z, lengths, random);
    const cfg = cfgOf(s, lengths, device);
    const scores = cfg.unpack(packCfg(s));
    for (const key of ['terms', 'rules', 'roots'] as const) {
      expect(scores[key].shape).toEqual(s[key].shape);
      expect(values(scores[key])).toEqual(Array.from(s[key].data));
    }
    const marginals = host(cfg.marginals());
    const m = cfg.unpack(marginals);
    const expected = unpackCfg(marginals, z);
    expect(m.terms.shape).toEqual([B, z.N, z.T]);
    expect(m.rules.shape).toEqual([B, z.NT, S, S]);
    expect(m.roots.shape).toEqual([B, z.NT]);
    for (const key of ['terms', 'rules', 'roots'] as const) expect(values(m[key])).toEqual(Array.from(expected[key].data));
    // Samples [k, B, D] → [k, B, ...].
    const samples = host(cfg.sample(5, { seed: 3 }));
    const u = cfg.unpack(samples);
    expect(u.terms.shape).toEqual([5, B, z.N, z.T]);
    expect(u.rules.shape).toEqual([5, B, z.NT, S, S]);
    expect(u.roots.shape).toEqual([5, B, z.NT]);
    const expectedSamples = unpackCfg(samples, z);
    for (const key of ['terms', 'rules', 'roots'] as const) expect(values(u[key])).toEqual(Array.from(expectedSamples[key].data));
    expect(D).toBe(samples.shape[2]);
    cfg.dispose();
  });

  test('async forms equal the sync ones', async () => {
    const z = { N: 5, NT: 2, T: 3 };
    const D = cfgPartCount(z);
    const B = 4;
    const lengths = [5, 3, 2, 4];
    const random = rng(3);
    const s = scoresOf(B, z, lengths, random);
    const cfg = cfgOf(s, lengths, device);
    const other = cfgOf(scoresOf(B, z, lengths, random), lengths, device);
    expect(values(await cfg.logPartitionAsync())).toEqual(values(cfg.logPartition()));
    expect(values(await cfg.entropyAsync())).toEqual(values(cfg.entropy()));
    expect(values(await cfg.marginalsAsync())).toEqual(values(cfg.marginals()));
    const g = randomTensor([B, D], random);
    expect(values(await cfg.marginalsBackwardAsync(g))).toEqual(values(cfg.marginalsBackward(g)));
    const bestAsync = await cfg.argmaxAsync();
    const best = cfg.argmaxDecoded();
    expect(Array.from(bestAsync.spans)).toEqual(Array.from(best.spans));
    expect(values(bestAsync.score)).toEqual(values(best.score));
    expect(values(bestAsync.parts)).toEqual(values(best.parts));
    const samplesAsync = await cfg.sampleAsync(7, { seed: 8 });
    const samples = cfg.sampleDecoded(7, { seed: 8 });
    expect(Array.from(samplesAsync.spans)).toEqual(Array.from(samples.spans));
    expect(values(samplesAsync.parts)).toEqual(values(samples.parts));
    const parts = host(cfg.sample(3, { seed: 2 }));
    expect(values(await cfg.logProbAsync(parts))).toEqual(values(cfg.logProb(parts)));
    expect(Array.from(await cfg.klAsync(other))).toEqual(Array.from(cfg.kl(other)));
    expect(Array.from(await cfg.countAsync())).toEqual(Array.from(cfg.count()));
    cfg.dispose();
    other.dispose();
  });
});

describe('SentCFG errors', () => {
  const z = { N: 4, NT: 2, T: 3 };
  const S = symbols(z);
  const scores = (B = 3) => scoresOf(B, z, new Array<number>(B).fill(z.N), rng(1));

  test('lengths outside [2, N] (and N = 1) are RangeErrors naming lengths (or terms)', () => {
    for (const lengths of [
      [4, 1, 2],
      [4, 5, 2],
      [4, 0, 2],
      [4, 2.5, 2],
    ]) {
      expect(errorCode(() => new SentCFG(scores(), { lengths }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(errorMessage(() => new SentCFG(scores(), { lengths }))).toMatch(/lengths/);
    }
    expect(errorCode(() => new SentCFG(scores(), { lengths: [4, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => new SentCFG(scores(), { lengths: [4, 2, 2] }))).toBe('no error');
    const one = scoresOf(2, { N: 1, NT: 2, T: 3 }, [1, 1], rng(2));
    expect(errorCode(() => new SentCFG(one))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorMessage(() => new SentCFG(one))).toMatch(/terms/);
    expect(errorCode(() => new SentCFG(one, { lengths: [1, 1] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorMessage(() => new SentCFG(one, { lengths: [1, 1] }))).toMatch(/lengths/);
  });

  test('bad shapes, dtypes and non-tensors are typed errors naming the argument', () => {
    const cases: [string, (s: CfgScores) => CfgScores, string][] = [
      ['terms', (s) => ({ ...s, terms: randomTensor([3, 4], rng(3)) }), 'terms'],
      ['rules', (s) => ({ ...s, rules: randomTensor([3, z.NT, S, S + 1], rng(3)) }), 'rules'],
      ['rules', (s) => ({ ...s, rules: randomTensor([3, z.NT, S], rng(3)) }), 'rules'],
      ['rules', (s) => ({ ...s, rules: randomTensor([3, z.NT + 1, S, S], rng(3)) }), 'rules'],
      ['roots', (s) => ({ ...s, roots: randomTensor([3, z.NT + 1], rng(3)) }), 'roots'],
      ['roots', (s) => ({ ...s, roots: randomTensor([2, z.NT], rng(3)) }), 'roots'],
      ['rules', (s) => ({ ...s, rules: randomTensor([2, z.NT, S, S], rng(3)) }), 'rules'],
    ];
    for (const [, change, name] of cases) {
      const f = () => new SentCFG(change(scores()));
      expect(['RangeError:ERR_INVALID_SHAPE', 'RangeError:ERR_SHAPE_MISMATCH']).toContain(errorCode(f));
      expect(errorMessage(f)).toMatch(new RegExp(name));
    }
    const mixed = { ...scores(), rules: toFloat32(scores().rules) };
    expect(errorCode(() => new SentCFG(mixed))).toBe('TypeError:ERR_DTYPE_MISMATCH');
    expect(errorCode(() => new SentCFG({ ...scores(), roots: 'roots' as unknown as Tensor }))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorMessage(() => new SentCFG({ ...scores(), roots: 'roots' as unknown as Tensor }))).toMatch(/roots/);
    expect(errorCode(() => new SentCFG(null as unknown as CfgScores))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    // fromPacked: D must be N·T + NT·S·S + NT.
    const packed = packCfg(scores());
    expect(errorCode(() => SentCFG.fromPacked(packed, z))).toBe('no error');
    expect(errorCode(() => SentCFG.fromPacked(packed, { ...z, T: 2 }))).toMatch(/^RangeError:ERR_(INVALID_SHAPE|SHAPE_MISMATCH)$/);
    expect(errorCode(() => SentCFG.fromPacked(new Tensor(packed.data, [packed.data.length]), z))).toMatch(
      /^RangeError:ERR_(INVALID_SHAPE|SHAPE_MISMATCH)$/,
    );
  });

  test('NaN and +Infinity scores, and sentences without a tree of finite score, are rejected', () => {
    for (const key of ['terms', 'rules', 'roots'] as const) {
      const s = scores();
      s[key].data[1] = NaN;
      expect(errorCode(() => new SentCFG(s).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
      s[key].data[1] = Infinity;
      expect(errorCode(() => new SentCFG(s).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
    }
    // Sentence 2: every root forbidden; sentence 1: every preterminal of word 1 forbidden.
    const s = scores();
    s.roots.data.fill(-Infinity, 2 * z.NT, 3 * z.NT);
    const cfg = new SentCFG(s);
    for (const f of [() => cfg.logPartition(), () => cfg.marginals(), () => cfg.entropy(), () => cfg.argmaxDecoded(), () => cfg.sample(2, { seed: 1 })]) {
      expect(errorCode(f)).toBe('RangeError:ERR_INVALID_SCORES');
      expect(errorMessage(f)).toMatch(/\b2\b/);
    }
    const w = scores();
    w.terms.data.fill(-Infinity, (1 * z.N + 1) * z.T, (1 * z.N + 2) * z.T);
    expect(errorCode(() => new SentCFG(w).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(errorMessage(() => new SentCFG(w).logPartition())).toMatch(/\b1\b/);
    // Forbidden words past a sentence's length change nothing.
    const past = scores();
    past.terms.data.fill(-Infinity, (1 * z.N + 2) * z.T, (1 * z.N + 4) * z.T);
    expect(errorCode(() => new SentCFG(past).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(errorCode(() => new SentCFG(past, { lengths: [4, 2, 4] }).logPartition())).toBe('no error');
    // Only rules between two preterminals: no tree of 3 or more words, trees of 2 words.
    const flat = scores();
    for (let A = 0; A < z.NT; A++) {
      for (let X = 0; X < S; X++) {
        for (let Y = 0; Y < S; Y++) if (X < z.NT || Y < z.NT) for (let b = 0; b < 3; b++) flat.rules.data[((b * z.NT + A) * S + X) * S + Y] = -Infinity;
      }
    }
    expect(errorCode(() => new SentCFG(flat, { lengths: [2, 2, 3] }).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    expect(errorCode(() => new SentCFG(flat, { lengths: [2, 2, 2] }).logPartition())).toBe('no error');
  });

  test('async methods reject with the same typed errors', async () => {
    const s = scores();
    s.roots.data.fill(-Infinity, z.NT, 2 * z.NT);
    const cfg = new SentCFG(s);
    await expect((async () => cfg.logPartitionAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    await expect((async () => cfg.marginalsAsync())()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
  });

  test('SparseMAP is not implemented for SentCFG: TypeError ERR_NOT_IMPLEMENTED, sync and async (topk: test/topk_cfg.test.ts)', async () => {
    const cfg = new SentCFG(scores());
    for (const f of [() => cfg.sparsemap(), () => cfg.sparsemapBackward(randomTensor([3, cfgPartCount(z)], rng(6)))]) {
      expect(errorCode(f)).toBe('TypeError:ERR_NOT_IMPLEMENTED');
    }
    await expect(cfg.sparsemapAsync()).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_NOT_IMPLEMENTED' });
  });

  test('bad gradients, logProb parts and sample counts are typed errors', () => {
    const cfg = new SentCFG(scores(), { lengths: [4, 2, 3] });
    const D = cfgPartCount(z);
    expect(errorCode(() => cfg.marginalsBackward(randomTensor([3, D + 1], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => cfg.marginalsBackward(randomTensor([2, D], rng(4))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    const g = randomTensor([3, D], rng(4));
    g.data[3] = NaN;
    expect(errorCode(() => cfg.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
    g.data[3] = 0;
    expect(errorCode(() => cfg.marginalsBackward(g))).toBe('no error');
    expect(errorCode(() => cfg.logProb(randomTensor([3, D - 1], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => cfg.logProb(randomTensor([2, 3, D + 2], rng(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => cfg.logProb(cfg.argmax()))).toBe('no error');
    for (const k of [0, -1, 1.5, NaN, Infinity]) expect(errorCode(() => cfg.sample(k, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    cfg.dispose();
  });
});
