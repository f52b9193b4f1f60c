/**
 * LinearChainCRF on every available backend, in both forms of potentials (edges; unary + shared or
 * per-sequence transition): float64 against the enumeration oracle (1e-9), gradients against finite
 * differences, the sampler against the exact distribution (chi-square), float32 against float64, mixed
 * lengths, −inf masks, scores of ±1e3 and ±1e4, batched = one by one, async = sync, typed errors.
 */
import { AnyTensor, Device, DeviceTensor, FactoredPotentials, LinearChainCRF, Tensor } from '../lib';
import { backends, chiSquarePValue, expectClose, finiteDifferenceVjp, normal, randomTensor, rng, toFloat32 } from './helpers';
import {
  OracleChain,
  OraclePotentials,
  covarianceProduct,
  enumerateChain,
  oracleChain,
  partCount,
  partsOf,
} from './oracles/linear_chain';

type Form = 'edges' | 'shared' | 'batched';
const forms: Form[] = ['edges', 'shared', 'batched'];

function potentialsOf(form: Form, B: number, N: number, C: number, random: () => number, scale = 1): OraclePotentials {
  if (form === 'edges') return { edges: randomTensor([B, N - 1, C, C], random, scale) };
  return {
    unary: randomTensor([B, N, C], random, scale),
    transition: randomTensor(form === 'shared' ? [C, C] : [B, C, C], random, scale),
  };
}

function mapPotentials(p: OraclePotentials, f: (t: Tensor) => Tensor): OraclePotentials {
  return 'edges' in p ? { edges: f(p.edges) } : { unary: f(p.unary), transition: f(p.transition) };
}

function crfOf(p: OraclePotentials, lengths: number[] | undefined, device: Device): LinearChainCRF {
  const potentials = 'edges' in p ? p.edges : ({ unary: p.unary, transition: p.transition } as FactoredPotentials);
  return new LinearChainCRF(potentials, { lengths, device });
}

function host(t: AnyTensor): Tensor {
  const h = t.toHost();
  if (t instanceof DeviceTensor) t.dispose();
  return h;
}

/** The parts output of a method (a tensor or { unary, transition }) as host tensors. */
function hostParts(parts: unknown): { edges?: Tensor; unary?: Tensor; transition?: Tensor } {
  if (parts instanceof Tensor || parts instanceof DeviceTensor) return { edges: host(parts) };
  const f = parts as { unary: AnyTensor; transition: AnyTensor };
  return { unary: host(f.unary), transition: host(f.transition) };
}

/** Sequence `row`'s parts from host part tensors, flat in the oracle's layout. */
function flatParts(parts: { edges?: Tensor; unary?: Tensor; transition?: Tensor }, row: number, x: OracleChain): number[] {
  const { N, C } = x;
  if (parts.edges) return Array.from(parts.edges.data.subarray(row * (N - 1) * C * C, (row + 1) * (N - 1) * C * C));
  return [
    ...Array.from((parts.unary as Tensor).data.subarray(row * N * C, (row + 1) * N * C)),
    ...Array.from((parts.transition as Tensor).data.subarray(row * C * C, (row + 1) * C * C)),
  ];
}

/** Part tensors (per-sequence layout of marginals) from flat per-sequence vectors. */
function partTensors(form: Form, B: number, N: number, C: number, flat: Float64Array[]): unknown {
  if (form === 'edges') {
    const edges = new Float64Array(B * (N - 1) * C * C);
    flat.forEach((v, b) => edges.set(v, b * (N - 1) * C * C));
    return new Tensor(edges, [B, N - 1, C, C]);
  }
  const unary = new Float64Array(B * N * C);
  const transition = new Float64Array(B * C * C);
  flat.forEach((v, b) => {
    unary.set(v.subarray(0, N * C), b * N * C);
    transition.set(v.subarray(N * C), b * C * C);
  });
  return { unary: new Tensor(unary, [B, N, C]), transition: new Tensor(transition, [B, C, C]) };
}

const sizes: [number, number, number][] = [
  [4, 2, 3],
  [5, 4, 3],
  [4, 5, 2],
  [3, 3, 4],
  [2, 1, 3],
];

function lengthsFor(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)));
}

describe.each(backends)('LinearChainCRF on %s', (device) => {
  describe.each(forms)('%s form', (form) => {
    test.each(sizes)('float64 matches enumeration: B=%i N=%i C=%i with mixed lengths', (B, N0, C) => {
      const N = form === 'edges' ? Math.max(N0, 2) : N0;
      const random = rng(B * 100 + N * 10 + C);
      const p = potentialsOf(form, B, N, C, random, 1.5);
      const lengths = lengthsFor(B, N, random);
      const crf = crfOf(p, lengths, device);
      const logZ = host(crf.logPartition());
      const entropy = host(crf.entropy());
      const marginals = hostParts(crf.marginals());
      const best = crf.argmaxDecoded();
      const bestParts = hostParts(best.parts);
      const bestScore = host(best.score);
      for (let b = 0; b < B; b++) {
        const x = oracleChain(p, b, lengths);
        const e = enumerateChain(x);
        expectClose([logZ.data[b]], [e.logZ], 1e-9, 1e-12);
        expectClose([entropy.data[b]], [e.entropy], 1e-9, 1e-12);
        expectClose(flatParts(marginals, b, x), e.marginals, 1e-9, 1e-12);
        expect(Array.from(best.labels.subarray(b * N, (b + 1) * N))).toEqual(e.argmax.labels);
        expectClose([bestScore.data[b]], [e.argmax.score], 1e-12, 1e-12);
        const onehot = new Float64Array(partCount(x));
        for (const q of partsOf(x, e.argmax.labels)) onehot[q] += 1;
        expect(flatParts(bestParts, b, x)).toEqual(Array.from(onehot));
      }
      // log p of every labelling of sequence 0 and of the first labelling of every sequence.
      const x0 = oracleChain(p, 0, lengths);
      const e0 = enumerateChain(x0);
      const labels = new Int32Array(e0.labellings.length * B * N).fill(0);
      e0.labellings.forEach((y, s) => labels.set(y.map((v) => Math.max(v, 0)), s * B * N));
      const logProb = host(crf.logProb(labels));
      expect(logProb.shape).toEqual([e0.labellings.length, B]);
      e0.labellings.forEach((_, s) => expectClose([logProb.data[s * B]], [Math.log(e0.probs[s])], 1e-9, 1e-12));
      crf.dispose();
    });

    test('gradient of logZ = marginals, and marginalsBackward = Cov(z)·g (enumeration and finite differences)', () => {
      const [B, N, C] = [3, 4, 3];
      const random = rng(7);
      const p = potentialsOf(form, B, N, C, random);
      const lengths = [4, 2, 3];
      const crf = crfOf(p, lengths, device);
      const marginals = hostParts(crf.marginals());
      // d logZ / d potentials by central differences, against the marginals (summed over the batch for a
      // shared transition).
      const names = Object.keys(p) as (keyof OraclePotentials)[];
      const logZOf = (name: string, values: Float64Array): Float64Array => {
        const moved = { ...p, [name]: new Tensor(values, (p as Record<string, Tensor>)[name].shape) } as OraclePotentials;
        const c = crfOf(moved, lengths, device);
        const out = host(c.logPartition()).data as Float64Array;
        c.dispose();
        return out;
      };
      for (const name of names) {
        const t = (p as Record<string, Tensor>)[name];
        const fd = finiteDifferenceVjp((v) => logZOf(name, v), t.data as Float64Array, new Float64Array(B).fill(1));
        let expected: Float64Array = (marginals as Record<string, Tensor>)[name].data as Float64Array;
        if (form === 'shared' && name === 'transition') {
          expected = new Float64Array(C * C);
          for (let b = 0; b < B; b++) for (let k = 0; k < C * C; k++) expected[k] += (marginals.transition as Tensor).data[b * C * C + k];
        }
        expectClose(fd, expected, 1e-6, 1e-8);
      }
      // The Hessian-vector product against enumeration, per sequence.
      const gFlat = Array.from({ length: B }, () => {
        const x = oracleChain(p, 0, lengths);
        return Float64Array.from({ length: partCount(x) }, () => normal(random));
      });
      const hvp = hostParts(crf.marginalsBackward(partTensors(form, B, N, C, gFlat) as never));
      const perSequence: Float64Array[] = [];
      for (let b = 0; b < B; b++) {
        const x = oracleChain(p, b, lengths);
        // Parts past the length are not parts of the structure: g there does not matter.
        perSequence.push(covarianceProduct(x, gFlat[b]));
      }
      if (form === 'edges') {
        for (let b = 0; b < B; b++) {
          const x = oracleChain(p, b, lengths);
          expectClose(flatParts(hvp, b, x), perSequence[b], 1e-9, 1e-12);
        }
      } else {
        for (let b = 0; b < B; b++) {
          expectClose(Array.from((hvp.unary as Tensor).data.subarray(b * N * C, (b + 1) * N * C)), perSequence[b].subarray(0, N * C), 1e-9, 1e-12);
        }
        const transitionExpected = new Float64Array(form === 'shared' ? C * C : B * C * C);
        perSequence.forEach((v, b) => {
          for (let k = 0; k < C * C; k++) transitionExpected[(form === 'shared' ? 0 : b * C * C) + k] += v[N * C + k];
        });
        expectClose((hvp.transition as Tensor).data, transitionExpected, 1e-9, 1e-12);
      }
      // And against finite differences of <g, marginals>.
      for (const name of names) {
        const t = (p as Record<string, Tensor>)[name];
        const gTensors = partTensors(form, B, N, C, gFlat) as Record<string, Tensor> | Tensor;
        const weights = gTensors instanceof Tensor ? gTensors.data : (gTensors as Record<string, Tensor>);
        const marginalsOf = (values: Float64Array): Float64Array => {
          const moved = { ...p, [name]: new Tensor(values, t.shape) } as OraclePotentials;
          const c = crfOf(moved, lengths, device);
          const m = hostParts(c.marginals());
          c.dispose();
          return m.edges ? (m.edges.data as Float64Array) : Float64Array.from([...(m.unary as Tensor).data, ...(m.transition as Tensor).data]);
        };
        const w =
          weights instanceof Float64Array
            ? weights
            : Float64Array.from([...(weights as Record<string, Tensor>).unary.data, ...(weights as Record<string, Tensor>).transition.data]);
        const fd = finiteDifferenceVjp(marginalsOf, t.data as Float64Array, w, 1e-5);
        const actual = hvp.edges ? hvp.edges.data : (hvp as Record<string, Tensor>)[name].data;
        expectClose(actual, fd, 1e-5, 1e-7);
      }
      crf.dispose();
    });

    test('samples follow the exact distribution (chi-square), with lengths, and are reproducible', () => {
      const [B, N, C] = [3, 3, 3];
      const random = rng(11);
      const p = potentialsOf(form, B, N, C, random);
      const lengths = [3, 1, 2];
      const crf = crfOf(p, lengths, device);
      const k = 6000;
      const { labels, parts } = crf.sampleDecoded(k, { seed: 1234 });
      const sampleParts = hostParts(parts);
      for (let b = 0; b < B; b++) {
        const x = oracleChain(p, b, lengths);
        const e = enumerateChain(x);
        const key = (y: ArrayLike<number>) => Array.from(y).join(',');
        const index = new Map(e.labellings.map((y, i) => [key(y), i]));
        const counts = new Array<number>(e.labellings.length).fill(0);
        for (let s = 0; s < k; s++) {
          const y = labels.subarray((s * B + b) * N, (s * B + b + 1) * N);
          const i = index.get(key(y));
          expect(i).toBeDefined();
          counts[i as number]++;
          if (s < 20) {
            const onehot = new Float64Array(partCount(x));
            for (const q of partsOf(x, Array.from(y))) onehot[q] += 1;
            expect(flatParts(sampleParts, s * B + b, x)).toEqual(Array.from(onehot));
          }
        }
        expect(chiSquarePValue(counts, e.probs)).toBeGreaterThan(1e-4);
      }
      expect(crf.sampleDecoded(5, { seed: 1234 }).labels).toEqual(labels.subarray(0, 5 * B * N));
      expect(crf.sampleDecoded(5, { seed: 99 }).labels).not.toEqual(labels.subarray(0, 5 * B * N));
      crf.dispose();
    });

    test('float32 matches float64 on random sizes with mixed lengths', () => {
      const random = rng(21);
      for (const [B, N, C] of [
        [7, 9, 5],
        [16, 20, 12],
        [3, 40, 33],
      ]) {
        const p = potentialsOf(form, B, N, C, random);
        const lengths = lengthsFor(B, N, random);
        const c64 = crfOf(p, lengths, device);
        const c32 = crfOf(mapPotentials(p, toFloat32), lengths, device);
        expectClose(host(c32.logPartition()).data, host(c64.logPartition()).data, 1e-5, 1e-4);
        expectClose(host(c32.entropy()).data, host(c64.entropy()).data, 1e-4, 1e-4);
        const m32 = hostParts(c32.marginals());
        const m64 = hostParts(c64.marginals());
        for (const key of Object.keys(m64) as (keyof typeof m64)[]) {
          expectClose((m32[key] as Tensor).data, (m64[key] as Tensor).data, 1e-4, 1e-5);
        }
        expect(c32.argmaxDecoded().labels).toEqual(c64.argmaxDecoded().labels);
      }
    });

    test('scores of ±1e3 and ±1e4 and −inf masks give finite, exact results', () => {
      for (const scale of [1e3, 1e4]) {
        const [B, N, C] = [3, 4, 3];
        const random = rng(scale);
        const p = potentialsOf(form, B, N, C, random, scale);
        // Forbid some parts with -inf (never all of a sequence's labellings).
        const first = 'edges' in p ? p.edges : p.transition;
        first.data[1] = -Infinity;
        first.data[5] = -Infinity;
        const lengths = [4, 1, 3];
        const crf = crfOf(p, lengths, device);
        const logZ = host(crf.logPartition());
        const entropy = host(crf.entropy());
        const marginals = hostParts(crf.marginals());
        for (let b = 0; b < B; b++) {
          const x = oracleChain(p, b, lengths);
          const e = enumerateChain(x);
          expectClose([logZ.data[b]], [e.logZ], 1e-12);
          expectClose([entropy.data[b]], [e.entropy], 1e-6, 1e-9);
          expectClose(flatParts(marginals, b, x), e.marginals, 1e-9, 1e-9);
        }
        for (const t of Object.values(marginals)) expect(Array.from(t.data).every(Number.isFinite)).toBe(true);
        const c32 = crfOf(mapPotentials(p, toFloat32), lengths, device);
        expect(Array.from(host(c32.logPartition()).data).every(Number.isFinite)).toBe(true);
        expect(Array.from(host(c32.entropy()).data).every(Number.isFinite)).toBe(true);
        crf.dispose();
      }
    });

    test('a batch with lengths equals each sequence alone, and padding is zero', () => {
      const [B, N, C] = [4, 6, 4];
      const random = rng(5);
      const p = potentialsOf(form, B, N, C, random);
      const lengths = [6, 2, 1, 4];
      const crf = crfOf(p, lengths, device);
      const logZ = host(crf.logPartition());
      const marginals = hostParts(crf.marginals());
      const labels = crf.argmaxDecoded().labels;
      for (let b = 0; b < B; b++) {
        const L = lengths[b];
        // Sequence b alone, cut to its length (edge form needs N >= 2: keep one padded edge for L = 1).
        const M = form === 'edges' ? Math.max(L, 2) : L;
        let alone: OraclePotentials;
        if ('edges' in p) {
          alone = { edges: new Tensor(p.edges.data.slice(b * (N - 1) * C * C, (b * (N - 1) + M - 1) * C * C), [1, M - 1, C, C]) };
        } else {
          const t = p.transition.shape.length === 2 ? p.transition : new Tensor(p.transition.data.slice(b * C * C, (b + 1) * C * C), [1, C, C]);
          alone = { unary: new Tensor(p.unary.data.slice(b * N * C, (b * N + M) * C), [1, M, C]), transition: t };
        }
        const single = crfOf(alone, [L], device);
        expectClose([logZ.data[b]], host(single.logPartition()).data, 1e-12, 1e-12);
        expect(Array.from(labels.subarray(b * N, b * N + L))).toEqual(Array.from(single.argmaxDecoded().labels.subarray(0, L)));
        expect(Array.from(labels.subarray(b * N + L, (b + 1) * N))).toEqual(new Array(N - L).fill(-1));
        const x = oracleChain(p, b, lengths);
        const flat = flatParts(marginals, b, x);
        if (form === 'edges') {
          expect(flat.slice((L - 1) * C * C).every((v) => v === 0)).toBe(true);
        } else {
          expect(flat.slice(L * C, N * C).every((v) => v === 0)).toBe(true);
        }
        single.dispose();
      }
      crf.dispose();
    });

    test('async forms equal the sync ones', async () => {
      const [B, N, C] = [5, 6, 4];
      const p = potentialsOf(form, B, N, C, rng(3));
      const crf = crfOf(p, [6, 3, 1, 5, 2], device);
      expect(host(await crf.logPartitionAsync()).data).toEqual(host(crf.logPartition()).data);
      expect(host(await crf.entropyAsync()).data).toEqual(host(crf.entropy()).data);
      expect(hostParts(await crf.marginalsAsync())).toEqual(hostParts(crf.marginals()));
      expect((await crf.argmaxAsync()).labels).toEqual(crf.argmaxDecoded().labels);
      expect((await crf.sampleAsync(4, { seed: 8 })).labels).toEqual(crf.sampleDecoded(4, { seed: 8 }).labels);
      const labels = crf.argmaxDecoded().labels;
      expect(host(await crf.logProbAsync(labels)).data).toEqual(host(crf.logProb(labels)).data);
      const g = crf.marginals();
      expect(hostParts(await crf.marginalsBackwardAsync(g))).toEqual(hostParts(crf.marginalsBackward(g)));
      crf.dispose();
    });
  });

  test('edgeMarginals of the factored form equal the marginals of its edge form', () => {
    const [B, N, C] = [3, 5, 3];
    const random = rng(17);
    const p = potentialsOf('batched', B, N, C, random) as { unary: Tensor; transition: Tensor };
    // The equivalent edges: psi_n(i, j) + phi_{n+1}(j), plus phi_0(i) on the first edge.
    const edges = new Float64Array(B * (N - 1) * C * C);
    for (let b = 0; b < B; b++) {
      for (let n = 0; n + 1 < N; n++) {
        for (let j = 0; j < C; j++) {
          for (let i = 0; i < C; i++) {
            edges[((b * (N - 1) + n) * C + j) * C + i] =
              p.transition.data[(b * C + i) * C + j] + p.unary.data[(b * N + n + 1) * C + j] + (n === 0 ? p.unary.data[b * N * C + i] : 0);
          }
        }
      }
    }
    const lengths = [5, 2, 4];
    const factored = crfOf(p, lengths, device);
    const edgeForm = crfOf({ edges: new Tensor(edges, [B, N - 1, C, C]) }, lengths, device);
    expectClose(host(factored.edgeMarginals()).data, host(edgeForm.marginals() as AnyTensor).data, 1e-12, 1e-14);
    expectClose(host(factored.logPartition()).data, host(edgeForm.logPartition()).data, 1e-12);
  });
});

describe('LinearChainCRF errors', () => {
  const edges = () => randomTensor([2, 3, 3, 3], rng(1));
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return `${(error as Error).name}:${(error as { code?: string }).code}`;
    }
    return 'no error';
  };

  test('bad shapes, lengths and dtypes are typed errors naming the argument', () => {
    expect(code(() => new LinearChainCRF(randomTensor([2, 3, 3], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new LinearChainCRF(randomTensor([2, 3, 3, 4], rng(1))))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(code(() => new LinearChainCRF(edges(), { lengths: [1, 5] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new LinearChainCRF(edges(), { lengths: [0, 2] }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => new LinearChainCRF(edges(), { lengths: [2] }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    const unary = randomTensor([2, 4, 3], rng(2));
    expect(code(() => new LinearChainCRF({ unary, transition: randomTensor([3, 4], rng(1)) }))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(code(() => new LinearChainCRF({ unary, transition: toFloat32(randomTensor([3, 3], rng(1))) }))).toBe('TypeError:ERR_DTYPE_MISMATCH');
    expect(code(() => new LinearChainCRF('x' as unknown as Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('NaN and +inf potentials, all-(-inf) sequences, bad labels and non-finite gradients are rejected', () => {
    const e = edges();
    e.data[4] = NaN;
    expect(code(() => new LinearChainCRF(e).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    e.data[4] = Infinity;
    expect(code(() => new LinearChainCRF(e).marginals())).toBe('RangeError:ERR_INVALID_SCORES');
    const masked = edges();
    masked.data.fill(-Infinity, 0, 27);
    expect(code(() => new LinearChainCRF(masked).logPartition())).toBe('RangeError:ERR_INVALID_SCORES');
    // A sequence of length 1 has no edges: its labellings all score 0, so the mask does not matter.
    expect(Array.from(new LinearChainCRF(masked, { lengths: [1, 4] }).logPartition().data)[0]).toBeCloseTo(Math.log(3), 12);
    const crf = new LinearChainCRF(edges(), { lengths: [2, 4] });
    const labels = new Int32Array(2 * 4);
    labels[5] = 3;
    expect(code(() => crf.logProb(labels))).toBe('RangeError:ERR_OUT_OF_RANGE');
    labels[5] = 0;
    labels[3] = 99; // past the length of sequence 0: ignored
    expect(code(() => crf.logProb(labels))).toBe('no error');
    expect(code(() => crf.logProb(new Int32Array(7)))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(code(() => crf.sample(0, { seed: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => crf.sample(2, { seed: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    const g = randomTensor([2, 3, 3, 3], rng(4));
    g.data[2] = NaN;
    expect(code(() => crf.marginalsBackward(g))).toBe('RangeError:ERR_NOT_FINITE');
    expect(code(() => crf.marginalsBackward(randomTensor([2, 3, 3], rng(4)) as never))).toBe('RangeError:ERR_SHAPE_MISMATCH');
  });

  test('a sequence with no sample is ERR_INVALID_SCORES: every labelling -inf, or float32 scores that underflow every weight', async () => {
    const B = 2, N = 3, C = 4;
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    // Every labelling of sequence 1 scores -inf: log Z = -inf (the sampler used to index edges[-C + i] then).
    const masked = randomTensor([B, N - 1, C, C], rng(5));
    masked.data.fill(-Infinity, (N - 1) * C * C);
    const crf = new LinearChainCRF(masked);
    expect(code(() => crf.sample(3, { seed: 1 }))).toBe('RangeError:ERR_INVALID_SCORES');
    expect(message(() => crf.sample(3, { seed: 1 }))).toMatch(/^sequence 1 of edges has no labelling with a finite score/);
    await expect(crf.sampleAsync(3, { seed: 1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    // float32 unary scores near 3e9: log Z is finite, but alpha's round-off (256 at 2^31) is past exp's range, so
    // every weight of a backward step underflows. The sampler wrote labels -1, and the one-hot parts were written
    // at negative offsets (heap corruption); now the call raises, naming the sequence and the dtype.
    const big = (array: Float32Array | Float64Array) => {
      for (let i = 0; i < array.length; i++) array[i] = 3e9 + (i % 7) * 1e3;
      return array;
    };
    const unary = new Tensor(new Float32Array(B * N * C), [B, N, C]);
    big(unary.data.subarray(N * C));
    const transition = new Tensor(new Float32Array(C * C), [C, C]);
    const huge = new LinearChainCRF({ unary, transition });
    expect(code(() => huge.sampleDecoded(4, { seed: 1 }))).toBe('RangeError:ERR_INVALID_SCORES');
    expect(message(() => huge.sampleDecoded(4, { seed: 1 }))).toMatch(/^sequence 1 of unary cannot be sampled: its scores are too large for float32/);
    await expect(huge.sampleAsync(4, { seed: 1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_SCORES' });
    // Sequence 0 alone samples; the same scores in float64 sample too (labels in range, the argmax of each position).
    expect(new LinearChainCRF({ unary, transition }, { lengths: [N, 1] }).sampleDecoded(4, { seed: 1 }).labels.every((y) => y >= -1 && y < C)).toBe(true);
    const unary64 = new Tensor(big(new Float64Array(B * N * C)), [B, N, C]);
    const labels = new LinearChainCRF({ unary: unary64, transition: new Tensor(new Float64Array(C * C), [C, C]) }).sampleDecoded(4, { seed: 1 }).labels;
    const best = new LinearChainCRF({ unary: unary64, transition: new Tensor(new Float64Array(C * C), [C, C]) }).argmaxDecoded().labels;
    for (let s = 0; s < 4; s++) expect(Array.from(labels.subarray(s * B * N, (s + 1) * B * N))).toEqual(Array.from(best));
  });
});
