/**
 * HMM (torch-struct's HMM on the factored LinearChainCRF) on every available backend: float64 against an
 * enumeration oracle scored from the HMM's parameters (1e-9), torch-struct's edge formula, gradients w.r.t.
 * transition, emission and init against finite differences, the sampler against the exact distribution
 * (chi-square), mixed lengths with length 1, −Infinity masks, float32 against float64, typed errors, async = sync,
 * and estimators run through it.
 */
import { AnyTensor, Device, DeviceTensor, HMM, HMMParams, HMMParts, LinearChainCRF, Tensor, estimators } from '../lib';
import type { LatentStructure } from '../lib/estimators';
import { backends, chiSquarePValue, errorCode, errorMessage, expectClose, finiteDifferenceVjp, randomTensor, rng, toFloat32 } from './helpers';
import { EnumeratedHMM, OracleHMM, enumerateHMM, hmmPartsOf } from './oracles/hmm';

type Params = HMMParams<Tensor>;
const names = ['transition', 'emission', 'init'] as const;

function randomParams(C: number, V: number, random: () => number, scale = 1): Params {
  return { transition: randomTensor([C, C], random, scale), emission: randomTensor([V, C], random, scale), init: randomTensor([C], random, scale) };
}

function randomObservations(B: number, N: number, V: number, random: () => number): Int32Array {
  return Int32Array.from({ length: B * N }, () => Math.floor(random() * V));
}

function lengthsFor(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)));
}

function hmmOf(p: Params, obs: Int32Array, B: number, N: number, lengths: number[] | undefined, device: Device): HMM<Tensor> {
  return new HMM(p, { data: obs, shape: [B, N] }, { lengths, device });
}

function oracleOf(p: Params, obs: Int32Array, N: number, b: number, lengths?: number[]): OracleHMM {
  return {
    transition: p.transition.data,
    emission: p.emission.data,
    init: p.init.data,
    C: p.init.shape[0],
    N,
    L: lengths ? lengths[b] : N,
    x: obs.subarray(b * N, (b + 1) * N),
  };
}

function host(t: AnyTensor): Tensor {
  const h = t.toHost();
  if (t instanceof DeviceTensor) t.dispose();
  return h;
}

/** Sequence b's parts, flat in the oracle's layout (unary [N·C] then transition [C·C]). */
function flatParts(parts: HMMParts, b: number, N: number, C: number): number[] {
  const u = host(parts.unary).data;
  const t = host(parts.transition).data;
  return [...Array.from(u.subarray(b * N * C, (b + 1) * N * C)), ...Array.from(t.subarray(b * C * C, (b + 1) * C * C))];
}

/** Parts tensors `{ unary [B, N, C], transition [B, C, C] }` from flat per-sequence vectors. */
function partTensors(flat: Float64Array[], N: number, C: number): HMMParts<Tensor> {
  const B = flat.length;
  const unary = new Float64Array(B * N * C);
  const transition = new Float64Array(B * C * C);
  flat.forEach((v, b) => {
    unary.set(v.subarray(0, N * C), b * N * C);
    transition.set(v.subarray(N * C), b * C * C);
  });
  return { unary: new Tensor(unary, [B, N, C]), transition: new Tensor(transition, [B, C, C]) };
}

/** Σ_b f(oracle of sequence b) as a function of one parameter's values (the others fixed). */
function oracleSum(p: Params, name: (typeof names)[number], obs: Int32Array, B: number, N: number, lengths: number[], f: (e: EnumeratedHMM, b: number) => number) {
  return (values: Float64Array): number[] => {
    const moved = { ...p, [name]: new Tensor(values, p[name].shape) } as Params;
    let s = 0;
    for (let b = 0; b < B; b++) s += f(enumerateHMM(oracleOf(moved, obs, N, b, lengths)), b);
    return [s];
  };
}

const sizes: [number, number, number, number][] = [
  // B, N, C, V
  [4, 3, 2, 4],
  [4, 4, 3, 3],
  [3, 1, 3, 2],
  [3, 5, 2, 3],
];

describe.each(backends)('HMM on %s', (device) => {
  test.each(sizes)('float64 matches enumeration: B=%i N=%i C=%i V=%i with mixed lengths', (B, N, C, V) => {
    const random = rng(B * 1000 + N * 100 + C * 10 + V);
    const p = randomParams(C, V, random, 1.5);
    const obs = randomObservations(B, N, V, random);
    const lengths = lengthsFor(B, N, random);
    const hmm = hmmOf(p, obs, B, N, lengths, device);
    expect([hmm.batch, hmm.length, hmm.labels, hmm.vocabulary]).toEqual([B, N, C, V]);
    const logZ = host(hmm.logPartition());
    const entropy = host(hmm.entropy());
    const marginals = hmm.marginals();
    const best = hmm.argmaxDecoded();
    const bestScore = host(best.score);
    const bestParts = { unary: host(best.parts.unary), transition: host(best.parts.transition) };
    const mu = { unary: host(marginals.unary), transition: host(marginals.transition) };
    expect(mu.unary.shape).toEqual([B, N, C]);
    expect(mu.transition.shape).toEqual([B, C, C]);
    for (let b = 0; b < B; b++) {
      const h = oracleOf(p, obs, N, b, lengths);
      const e = enumerateHMM(h);
      expectClose([logZ.data[b]], [e.logZ], 1e-9, 1e-12);
      expectClose([entropy.data[b]], [e.entropy], 1e-9, 1e-12);
      expectClose(flatParts(mu, b, N, C), e.marginals, 1e-9, 1e-12);
      expect(Array.from(best.labels.subarray(b * N, (b + 1) * N))).toEqual(e.argmax.labels);
      expectClose([bestScore.data[b]], [e.argmax.score], 1e-12, 1e-12);
      const onehot = new Float64Array(N * C + C * C);
      for (const q of hmmPartsOf(h, e.argmax.labels)) onehot[q] += 1;
      expect(flatParts(bestParts, b, N, C)).toEqual(Array.from(onehot));
    }
    // log p(y | x) of every labelling of sequence 0, at once ([S, B, N] labels; other sequences: all zeros).
    const e0 = enumerateHMM(oracleOf(p, obs, N, 0, lengths));
    const labels = new Int32Array(e0.labellings.length * B * N);
    e0.labellings.forEach((y, s) => labels.set(y, s * B * N));
    const logp = host(hmm.logProb(labels));
    expect(logp.shape).toEqual([e0.labellings.length, B]);
    expectClose(
      e0.labellings.map((_, s) => logp.data[s * B]),
      e0.scores.map((s) => s - e0.logZ),
      1e-9,
      1e-12,
    );
    hmm.dispose();
  });

  test("torch-struct's convention: the chain equals torch-struct's hmm() edges", () => {
    // torch-struct: edges[b, n, j, i] = transition[j, i] + emission[x_{n+1}, j] (+ init[i] + emission[x_0, i] at n = 0).
    const [B, N, C, V] = [3, 4, 3, 5];
    const random = rng(7);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const lengths = [4, 2, 3];
    const edges = new Float64Array(B * (N - 1) * C * C);
    const [t, e, s] = [p.transition.data, p.emission.data, p.init.data];
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N - 1; n++) {
        for (let j = 0; j < C; j++) {
          for (let i = 0; i < C; i++) {
            let v = t[j * C + i] + e[obs[b * N + n + 1] * C + j];
            if (n === 0) v += s[i] + e[obs[b * N] * C + i];
            edges[((b * (N - 1) + n) * C + j) * C + i] = v;
          }
        }
      }
    }
    const chain = new LinearChainCRF(new Tensor(edges, [B, N - 1, C, C]), { lengths, device });
    const hmm = hmmOf(p, obs, B, N, lengths, device);
    expectClose(host(hmm.logPartition()).data, host(chain.logPartition()).data, 1e-12, 1e-12);
    expectClose(host(hmm.edgeMarginals()).data, host(chain.marginals()).data, 1e-9, 1e-12);
    expect(hmm.argmaxDecoded().labels).toEqual(chain.argmaxDecoded().labels);
    chain.dispose();
    hmm.dispose();
  });

  test('gradients w.r.t. transition, emission and init match finite differences', () => {
    const [B, N, C, V] = [3, 4, 3, 4];
    const random = rng(31);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const lengths = [4, 1, 3];
    const hmm = hmmOf(p, obs, B, N, lengths, device);
    // ∇ Σ_b log Z_b = partsBackward(marginals()).
    const gradLogZ = hmm.partsBackward(hmm.marginals());
    // ∇ Σ_b ⟨g_b, μ_b⟩ = marginalsBackward(g), g zero past the lengths.
    const gFlat = Array.from({ length: B }, (_, b) => {
      const v = Float64Array.from({ length: N * C + C * C }, () => random() - 0.5);
      for (let q = lengths[b] * C; q < N * C; q++) v[q] = 0;
      return v;
    });
    const g = partTensors(gFlat, N, C);
    const hvp = hmm.marginalsBackward(g);
    for (const name of names) {
      expect(host(gradLogZ[name]).shape).toEqual(p[name].shape);
      const x = p[name].data as Float64Array;
      const fdLogZ = finiteDifferenceVjp(oracleSum(p, name, obs, B, N, lengths, (e) => e.logZ), x, [1], 1e-5);
      expectClose(host(gradLogZ[name]).data, fdLogZ, 1e-6, 1e-8);
      const fdHvp = finiteDifferenceVjp(
        oracleSum(p, name, obs, B, N, lengths, (e, b) => e.marginals.reduce((s, m, q) => s + m * gFlat[b][q], 0)),
        x,
        [1],
        1e-5,
      );
      expectClose(host(hvp[name]).data, fdHvp, 1e-5, 1e-7);
    }
    // partsBackward is the chain rule of ⟨g, partScores()⟩ (linear in the parameters: differences are exact).
    const linear = hmm.partsBackward(g);
    for (const name of names) {
      const f = (values: Float64Array): number[] => {
        const moved = hmmOf({ ...p, [name]: new Tensor(values, p[name].shape) }, obs, B, N, lengths, device);
        const scores = moved.partScores();
        moved.dispose();
        return [flatSum(host(scores.unary).data, g.unary.data) + flatSum(host(scores.transition).data, g.transition.data)];
      };
      expectClose(host(linear[name]).data, finiteDifferenceVjp(f, p[name].data as Float64Array, [1], 1e-3), 1e-8, 1e-9);
    }
    // perturbedMarginalsBackward against differences of ⟨g, perturbedMarginals⟩ at the same noise.
    const options = { seed: 5, temperature: 0.7 };
    const vjp = hmm.perturbedMarginalsBackward(g, options);
    for (const name of names) {
      const f = (values: Float64Array): number[] => {
        const moved = hmmOf({ ...p, [name]: new Tensor(values, p[name].shape) }, obs, B, N, lengths, device);
        const m = moved.perturbedMarginals(options);
        moved.dispose();
        return [flatSum(host(m.unary).data, g.unary.data) + flatSum(host(m.transition).data, g.transition.data)];
      };
      expectClose(host(vjp[name]).data, finiteDifferenceVjp(f, p[name].data as Float64Array, [1], 1e-5), 1e-5, 1e-7);
    }
    hmm.dispose();
  });

  test('samples follow the exact posterior (chi-square), with lengths 3, 1, 2, and are reproducible', () => {
    const [B, N, C, V] = [3, 3, 3, 4];
    const random = rng(11);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const lengths = [3, 1, 2];
    const hmm = hmmOf(p, obs, B, N, lengths, device);
    const k = 6000;
    const { labels, parts } = hmm.sampleDecoded(k, { seed: 1234 });
    const sampled = { unary: host(parts.unary), transition: host(parts.transition) };
    expect(sampled.unary.shape).toEqual([k, B, N, C]);
    expect(sampled.transition.shape).toEqual([k, B, C, C]);
    for (let b = 0; b < B; b++) {
      const h = oracleOf(p, obs, N, b, lengths);
      const e = enumerateHMM(h);
      const key = (y: ArrayLike<number>) => Array.from(y).join(',');
      const index = new Map(e.labellings.map((y, i) => [key(y), i]));
      const counts = new Array<number>(e.labellings.length).fill(0);
      for (let s = 0; s < k; s++) {
        const y = labels.subarray((s * B + b) * N, (s * B + b + 1) * N);
        const i = index.get(key(y));
        expect(i).toBeDefined();
        counts[i as number]++;
        if (s < 20) {
          const onehot = new Float64Array(N * C + C * C);
          for (const q of hmmPartsOf(h, Array.from(y))) onehot[q] += 1;
          expect(flatParts(sampled, s * B + b, N, C)).toEqual(Array.from(onehot));
        }
      }
      expect(chiSquarePValue(counts, e.probs)).toBeGreaterThan(1e-4);
    }
    expect(hmm.sampleDecoded(5, { seed: 1234 }).labels).toEqual(labels.subarray(0, 5 * B * N));
    hmm.dispose();
  });

  test('-Infinity in emission, transition and init forbids states (oracle, gradients)', () => {
    const [B, N, C, V] = [3, 4, 3, 3];
    const random = rng(41);
    const p = randomParams(C, V, random);
    const obs = Int32Array.from([0, 1, 2, 1, 2, 2, 0, 1, 1, 0, 2, 0]);
    p.emission.data[1 * C + 2] = -Infinity; // state 2 never emits symbol 1
    p.transition.data[0 * C + 1] = -Infinity; // never 1 → 0
    p.init.data[0] = -Infinity; // never start in 0
    const lengths = [4, 3, 1];
    const hmm = hmmOf(p, obs, B, N, lengths, device);
    const logZ = host(hmm.logPartition()).data;
    const mu = hmm.marginals();
    const muHost = { unary: host(mu.unary), transition: host(mu.transition) };
    const labels = hmm.argmaxDecoded().labels;
    for (let b = 0; b < B; b++) {
      const e = enumerateHMM(oracleOf(p, obs, N, b, lengths));
      expectClose([logZ[b]], [e.logZ], 1e-9, 1e-12);
      expectClose(flatParts(muHost, b, N, C), e.marginals, 1e-9, 1e-12);
      expect(Array.from(labels.subarray(b * N, (b + 1) * N))).toEqual(e.argmax.labels);
      expect(labels[b * N]).not.toBe(0);
      expect(muHost.unary.data[b * N * C]).toBe(0);
      for (let n = 0; n < lengths[b]; n++) {
        if (obs[b * N + n] === 1) expect(muHost.unary.data[(b * N + n) * C + 2]).toBe(0);
      }
      expect(muHost.transition.data[b * C * C + 1 * C + 0]).toBe(0);
    }
    // A forbidden labelling has log p = -Infinity: sequence 0 starting in state 0.
    const forbidden = new Int32Array(B * N).fill(1);
    forbidden[0] = 0;
    expect(host(hmm.logProb(forbidden)).data[0]).toBe(-Infinity);
    const grad = hmm.partsBackward(mu);
    for (const name of names) {
      const fd = finiteDifferenceVjp(oracleSum(p, name, obs, B, N, lengths, (e) => e.logZ), p[name].data as Float64Array, [1], 1e-5);
      const actual = host(grad[name]).data;
      expect(Array.from(actual).every(Number.isFinite)).toBe(true);
      expectClose(actual, fd, 1e-6, 1e-8);
    }
    hmm.dispose();
  });

  test('float32 matches float64', () => {
    const [B, N, C, V] = [5, 7, 4, 6];
    const random = rng(21);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const lengths = lengthsFor(B, N, random);
    const p32 = { transition: toFloat32(p.transition), emission: toFloat32(p.emission), init: toFloat32(p.init) };
    const [h64, h32] = [hmmOf(p, obs, B, N, lengths, device), hmmOf(p32, obs, B, N, lengths, device)];
    const z32 = host(h32.logPartition());
    expect(z32.dtype).toBe('float32');
    expectClose(z32.data, host(h64.logPartition()).data, 1e-5, 1e-5);
    expectClose(host(h32.entropy()).data, host(h64.entropy()).data, 1e-4, 1e-4);
    const [m32, m64] = [h32.marginals(), h64.marginals()];
    expectClose(host(m32.unary).data, host(m64.unary).data, 1e-4, 1e-5);
    expectClose(host(m32.transition).data, host(m64.transition).data, 1e-4, 1e-5);
    const [g32, g64] = [h32.marginalsBackward(m32), h64.marginalsBackward(m64)];
    for (const name of names) {
      expect(host(g32[name]).dtype).toBe('float32');
      expectClose(host(g32[name]).data, host(g64[name]).data, 1e-3, 1e-4);
    }
    expect(h32.argmaxDecoded().labels).toEqual(h64.argmaxDecoded().labels);
    h32.dispose();
    h64.dispose();
  });

  test('observations: nested rows = { data, shape }; past a length they are ignored (-1 padding); N = 1', () => {
    const [B, N, C, V] = [2, 3, 2, 3];
    const random = rng(3);
    const p = randomParams(C, V, random);
    const a = hmmOf(p, Int32Array.from([0, 2, 1, 1, -1, -1]), B, N, [3, 1], device);
    const b = new HMM(p, [[0, 2, 1], [1, 2, 0]], { lengths: [3, 1], device });
    expect(host(a.logPartition()).data).toEqual(host(b.logPartition()).data);
    expect(host(a.marginals().unary).data).toEqual(host(b.marginals().unary).data);
    const c = hmmOf(p, Int32Array.from([0, 2, 1, 1, 0, 2]), B, N, [3, 1], device);
    expect(host(c.marginalsBackward(c.marginals()).emission).data).toEqual(host(a.marginalsBackward(a.marginals()).emission).data);
    const scores = host(b.partScores().unary).data;
    expect(Array.from(scores.subarray(N * C + C))).toEqual(new Array((N - 1) * C).fill(0));
    expectClose(scores.subarray(N * C, N * C + C), [0, 1].map((k) => p.init.data[k] + p.emission.data[1 * C + k]), 1e-15);
    // N = 1: log Z = logsumexp(init + emission[x_0]).
    const one = new HMM(p, { data: [2, 0], shape: [2, 1] }, { device });
    const [s, e] = [p.init.data, p.emission.data];
    const lse = (x: number) => Math.log(Array.from({ length: C }, (_, c) => Math.exp(s[c] + e[x * C + c])).reduce((u, v) => u + v));
    expectClose(host(one.logPartition()).data, [lse(2), lse(0)], 1e-12);
    const grad = one.partsBackward(one.marginals());
    expectClose([Array.from(host(grad.init).data).reduce((u, v) => u + v, 0)], [2], 1e-12);
    expect(host(grad.transition).data).toEqual(new Float64Array(C * C));
    [a, b, c, one].forEach((h) => h.dispose());
  });

  test('async forms equal the sync ones', async () => {
    const [B, N, C, V] = [3, 4, 3, 4];
    const random = rng(17);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const hmm = hmmOf(p, obs, B, N, [4, 2, 1], device);
    expect(host(await hmm.logPartitionAsync()).data).toEqual(host(hmm.logPartition()).data);
    expect(host(await hmm.entropyAsync()).data).toEqual(host(hmm.entropy()).data);
    const mu = await hmm.marginalsAsync();
    expect(host(mu.unary).data).toEqual(host(hmm.marginals().unary).data);
    const [ga, gs] = [await hmm.marginalsBackwardAsync(hmm.marginals()), hmm.marginalsBackward(hmm.marginals())];
    for (const name of names) expect(host(ga[name]).data).toEqual(host(gs[name]).data);
    expect((await hmm.argmaxAsync()).labels).toEqual(hmm.argmaxDecoded().labels);
    expect((await hmm.sampleAsync(4, { seed: 8 })).labels).toEqual(hmm.sampleDecoded(4, { seed: 8 }).labels);
    expect((await hmm.perturbAndMapAsync({ seed: 2 })).labels).toEqual(hmm.perturbAndMapDecoded({ seed: 2 }).labels);
    const labels = hmm.argmaxDecoded().labels;
    expect(host(await hmm.logProbAsync(labels)).data).toEqual(host(hmm.logProb(labels)).data);
    expect(host((await hmm.perturbedMarginalsAsync({ seed: 3 })).unary).data).toEqual(host(hmm.perturbedMarginals({ seed: 3 }).unary).data);
    await expect(hmm.sparsemapAsync()).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    hmm.dispose();
  });

  test('estimators run through it: gradScores are { transition, emission, init }', () => {
    const [B, N, C, V] = [2, 4, 3, 5];
    const random = rng(23);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const hmm = hmmOf(p, obs, B, N, [4, 2], device);
    const structure: LatentStructure<HMMParts<Tensor>, HMMParams<Tensor>> = hmm;
    const w = partTensors(
      Array.from({ length: B }, () => Float64Array.from({ length: N * C + C * C }, () => random() - 0.5)),
      N,
      C,
    );
    const linear = (z: HMMParts<Tensor>) => ({
      loss: Array.from({ length: B }, (_, b) => {
        let s = 0;
        for (let q = 0; q < N * C; q++) s += z.unary.data[b * N * C + q] * w.unary.data[b * N * C + q];
        for (let q = 0; q < C * C; q++) s += z.transition.data[b * C * C + q] * w.transition.data[b * C * C + q];
        return s;
      }),
      gradZ: w,
    });
    const hostDecoder = (z: HMMParts<Tensor>) => linear({ unary: host(z.unary), transition: host(z.transition) });
    // Structured attention: the gradient of ⟨w, μ(θ)⟩ is marginalsBackward(w).
    const relaxed = estimators.marginals().step(structure, hostDecoder);
    const exact = hmm.marginalsBackward(w);
    for (const name of names) {
      expect(host(relaxed.gradScores[name]).shape).toEqual(p[name].shape);
      expectClose(host(relaxed.gradScores[name]).data, host(exact[name]).data, 1e-12, 1e-12);
    }
    // REINFORCE: an unbiased estimate of the same gradient (⟨w, z⟩ has E = ⟨w, μ⟩); many samples come close.
    const reinforce = estimators.reinforce({ samples: 4000, baseline: 'leaveOneOut', seed: 3 }).step(structure, hostDecoder);
    expect(reinforce.samples.length).toBe(4000);
    for (const name of names) {
      const g = host(reinforce.gradScores[name]);
      expect(g.shape).toEqual(p[name].shape);
      const scale = Math.max(...Array.from(host(exact[name]).data, Math.abs));
      expectClose(g.data, host(exact[name]).data, 0, 0.15 * scale + 0.02);
    }
    const bonus = estimators.reinforce({ samples: 2, entropyBonus: 0.1 }).step(structure, hostDecoder);
    for (const name of names) expect(host(bonus.gradScores[name]).shape).toEqual(p[name].shape);
    // The straight-through surrogate's backward goes through partsBackward (identity on the parts).
    const st = estimators.straightThrough({ backward: 'identity' }).step(structure, hostDecoder);
    const viaParts = hmm.partsBackward(w);
    for (const name of names) expectClose(host(st.gradScores[name]).data, host(viaParts[name]).data, 1e-12, 1e-12);
    // Estimators needing SparseMAP raise the HMM's TypeError.
    expect(errorCode(() => estimators.sparsemap().step(structure, hostDecoder))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    hmm.dispose();
  });
});

function flatSum(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let q = 0; q < a.length; q++) if (b[q] !== 0) s += a[q] * b[q];
  return s;
}

describe('HMM typed errors', () => {
  const [C, V] = [2, 3];
  const random = rng(1);
  const p = randomParams(C, V, random);
  const obs = { data: Int32Array.from([0, 1, 2, 1]), shape: [2, 2] as [number, number] };

  test('observations', () => {
    expect(errorCode(() => new HMM(p, { data: Int32Array.from([0, 3, 2, 1]), shape: [2, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorMessage(() => new HMM(p, { data: Int32Array.from([0, 3, 2, 1]), shape: [2, 2] }))).toMatch(/^observations\[0, 1\] = 3 is outside \[0, 3\)/);
    expect(errorMessage(() => new HMM(p, [[0, 1], [-1, 0]]))).toMatch(/^observations\[1, 0\] = -1 is outside/);
    expect(errorCode(() => new HMM(p, [[0, 1.5]]))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => new HMM(p, { data: Int32Array.from([0, 1, 2]), shape: [2, 2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => new HMM(p, { data: Int32Array.from([0, 1]), shape: [2, 0] as unknown as [number, number] }))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(errorCode(() => new HMM(p, [[0, 1], [1]]))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => new HMM(p, [] as number[][]))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(errorCode(() => new HMM(p, Int32Array.from([0, 1]) as unknown as number[][]))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => new HMM(p, { data: new Float64Array(4), shape: [2, 2] } as unknown as typeof obs))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    // Out of range past a length is fine.
    expect(errorCode(() => new HMM(p, { data: Int32Array.from([0, 7, 2, 1]), shape: [2, 2] }, { lengths: [1, 2] }))).toBe('no error');
  });

  test('parameters', () => {
    expect(errorCode(() => new HMM({ ...p, emission: p.transition.data as unknown as Tensor }, obs))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => new HMM(null as unknown as Params, obs))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => new HMM({ ...p, init: toFloat32(p.init) }, obs))).toBe('TypeError:ERR_DTYPE_MISMATCH');
    expect(errorCode(() => new HMM({ ...p, emission: randomTensor([V * C], random) }, obs))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(errorCode(() => new HMM({ ...p, transition: randomTensor([C, C + 1], random) }, obs))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => new HMM({ ...p, init: randomTensor([C + 1], random) }, obs))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    const bad = new Tensor(Float64Array.from(p.emission.data), p.emission.shape);
    bad.data[3] = NaN;
    expect(errorCode(() => new HMM({ ...p, emission: bad }, obs))).toBe('RangeError:ERR_INVALID_SCORES');
    expect(errorMessage(() => new HMM({ ...p, emission: bad }, obs))).toMatch(/^params\.emission\[1, 1\] = NaN/);
    const inf = new Tensor(Float64Array.from([Infinity, 0]), [C]);
    expect(errorCode(() => new HMM({ ...p, init: inf }, obs))).toBe('RangeError:ERR_INVALID_SCORES');
  });

  test('options, gradients and SparseMAP', () => {
    expect(errorCode(() => new HMM(p, obs, { lengths: [3, 1] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => new HMM(p, obs, { lengths: [1] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => new HMM(p, obs, { device: 'tpu' as Device }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    const hmm = new HMM(p, obs);
    const mu = hmm.marginals();
    expect(errorCode(() => hmm.partsBackward({ unary: mu.unary, transition: randomTensor([C, C], random) }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => hmm.partsBackward({ unary: randomTensor([2, 2, C + 1], random), transition: mu.transition }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => hmm.partsBackward(mu.unary as unknown as HMMParts<Tensor>))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => hmm.marginalsBackward({ unary: mu.unary, transition: randomTensor([3, C, C], random) }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => hmm.sparsemap())).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => hmm.sparsemapBackward(mu))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    // Every labelling forbidden: the chain's ERR_INVALID_SCORES.
    const dead = new HMM({ ...p, init: new Tensor(new Float64Array(C).fill(-Infinity), [C]) }, obs);
    expect(errorCode(() => dead.logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
  });
});

describe('HMM with DeviceTensor parameters', () => {
  (backends.includes('cuda') ? test : test.skip)('results stay on the device and equal the CPU (CUDA)', () => {
    const [B, N, C, V] = [3, 4, 3, 4];
    const random = rng(9);
    const p = randomParams(C, V, random);
    const obs = randomObservations(B, N, V, random);
    const lengths = [4, 1, 3];
    const cpu = hmmOf(p, obs, B, N, lengths, 'cpu');
    const dp = { transition: p.transition.toDevice(), emission: p.emission.toDevice(), init: p.init.toDevice() };
    const gpu = new HMM(dp, { data: obs, shape: [B, N] }, { lengths });
    const z = gpu.logPartition();
    expect(z).toBeInstanceOf(DeviceTensor);
    expectClose(host(z).data, host(cpu.logPartition()).data, 1e-12, 1e-12);
    const mu = gpu.marginals();
    expect(mu.unary).toBeInstanceOf(DeviceTensor);
    const grad = gpu.marginalsBackward(mu);
    const expected = cpu.marginalsBackward(cpu.marginals());
    for (const name of names) {
      expect(grad[name]).toBeInstanceOf(DeviceTensor);
      expectClose(host(grad[name]).data, expected[name].data, 1e-9, 1e-12);
    }
    const viaParts = gpu.partsBackward(mu);
    for (const name of names) expect(viaParts[name]).toBeInstanceOf(DeviceTensor);
    const options = { seed: 4, temperature: 0.5 };
    const [pg, pc] = [gpu.perturbedMarginalsBackward(mu, options), cpu.perturbedMarginalsBackward(cpu.marginals(), options)];
    for (const name of names) expectClose(host(pg[name]).data, pc[name].data, 1e-9, 1e-12);
    expect(gpu.sampleDecoded(6, { seed: 2 }).labels).toEqual(cpu.sampleDecoded(6, { seed: 2 }).labels);
    const decoder = (z: HMMParts<AnyTensor>) => ({ loss: new Float64Array(B), gradZ: z });
    const step = estimators.marginals().step(gpu as LatentStructure<HMMParts<AnyTensor>, HMMParams<AnyTensor>>, decoder);
    for (const name of names) {
      expect(step.gradScores[name]).toBeInstanceOf(DeviceTensor);
      expectClose(host(step.gradScores[name]).data, expected[name].data, 1e-9, 1e-12);
    }
    const back = new HMM(dp, { data: obs, shape: [B, N] }, { lengths, device: 'cpu' });
    expect(back.logPartition()).toBeInstanceOf(Tensor);
    expect(back.marginalsBackward(back.marginals()).emission).toBeInstanceOf(Tensor);
    [gpu, back, cpu].forEach((h) => h.dispose());
    Object.values(dp).forEach((t) => t.dispose());
  });
});
