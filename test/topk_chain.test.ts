/**
 * topk(k) of LinearChainCRF (edge form, factored form with a shared [C, C] and a per-sequence [B, C, C] transition)
 * and HMM, on the CPU backend, against enumeration (test/oracles/linear_chain.ts, test/oracles/hmm.ts) for every k
 * from 1 to the number of labellings and past it (the −Infinity tail of −1 labels and zero parts): mixed lengths
 * with length 1, −Infinity masks (masked labellings never listed), integer scores whose ties must follow the
 * documented key exactly (labels read from the end, (y_{L−1}, …, y_0), smaller first), float32 against the
 * oracle and against float64, ±1e3 and ±1e4 scores, rank 0 = argmaxDecoded bit for bit, async = sync, and the
 * typed errors. CUDA parity: test/parity/topk_chain.parity.test.ts.
 */
import { AnyTensor, ChainTopk, HMM, LinearChainCRF, Tensor } from '../lib';
import { errorCode, expectClose, randomTensor, rng, toFloat32 } from './helpers';
import { Structure, oneHot } from './oracles/enumerate';
import { OracleHMM, hmmPartsOf, jointScore } from './oracles/hmm';
import { OraclePotentials, labellings, oracleChain, partCount, partsOf, scoreOf } from './oracles/linear_chain';

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

/** The documented tie key of a labelling of length L: its labels read from the end. */
const tieKey = (y: readonly number[], L: number): number[] => y.slice(0, L).reverse();

/** Score descending, then the tie key ascending; −Infinity labellings dropped. */
function ranked(structures: Structure[], L: number): Structure[] {
  const compare = (a: number[], b: number[]): number => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  };
  return structures
    .filter((s) => s.score > -Infinity)
    .sort((a, b) => (a.score !== b.score ? b.score - a.score : compare(tieKey(a.decoded, L), tieKey(b.decoded, L))));
}

type Potentials = Tensor | { unary: Tensor; transition: Tensor };

const asFloat64 = (t: Tensor): Tensor => new Tensor(Float64Array.from(t.data), t.shape);
const oraclePotentials = (p: Potentials): OraclePotentials =>
  p instanceof Tensor ? { edges: asFloat64(p) } : { unary: asFloat64(p.unary), transition: asFloat64(p.transition) };

/** Each sequence's ranked labellings, parts in the oracle's flat layout. */
function chainOracle(p: Potentials, B: number, lengths: number[]): { ranked: Structure[][]; partCount: number } {
  const op = oraclePotentials(p);
  const lists = Array.from({ length: B }, (_, b) => {
    const x = oracleChain(op, b, lengths);
    return ranked(
      labellings(x).map((y) => ({ decoded: y, score: scoreOf(x, y), parts: partsOf(x, y) })),
      x.L,
    );
  });
  return { ranked: lists, partCount: partCount(oracleChain(op, 0, lengths)) };
}

/** Row r = j·B + b of the result's parts, flat in the oracle's layout (edges; or unary then transition counts). */
function partsRow(parts: ChainTopk<Potentials>['parts'], r: number): number[] {
  if (parts instanceof Tensor) {
    const size = parts.shape.slice(2).reduce((a, b) => a * b, 1);
    return Array.from(parts.data.subarray(r * size, (r + 1) * size));
  }
  const { unary, transition } = parts as { unary: Tensor; transition: Tensor };
  const [u, t] = [unary.shape[2] * unary.shape[3], transition.shape[2] * transition.shape[3]];
  return [...Array.from(unary.data.subarray(r * u, (r + 1) * u)), ...Array.from(transition.data.subarray(r * t, (r + 1) * t))];
}

/**
 * topk(k) against the ranked oracle: exact order, labels and parts (`exactOrder`), or — float32, where near-ties
 * may swap — scores in order, each row a distinct finite labelling with its oracle score and parts.
 */
function checkTopk(
  result: ChainTopk<Potentials>,
  k: number,
  B: number,
  N: number,
  oracle: { ranked: Structure[][]; partCount: number },
  tol: { rtol: number; atol: number; exactOrder: boolean },
): void {
  expect(result.labels.length).toBe(k * B * N);
  expect(result.score.shape).toEqual([k, B]);
  const scores = data(result.score);
  const labels = Array.from(result.labels);
  const parts = Array.from({ length: k * B }, (_, r) => partsRow(result.parts, r)).flat();
  // What the rows must be: the oracle's j-th labelling (exactOrder) or the labelling listed there.
  const expectedLabels = new Array<number>(k * B * N).fill(-1);
  const expectedScores = new Array<number>(k * B).fill(-Infinity);
  const expectedParts = new Array<number>(k * B * oracle.partCount).fill(0);
  for (let b = 0; b < B; b++) {
    const list = oracle.ranked[b];
    const seen = new Set<string>();
    for (let j = 0; j < Math.min(k, list.length); j++) {
      const r = j * B + b;
      const row = labels.slice(r * N, (r + 1) * N);
      const match = tol.exactOrder ? list[j] : (list.find((s) => s.decoded.every((v, i) => v === row[i])) ?? list[j]);
      expectedLabels.splice(r * N, N, ...match.decoded);
      expectedScores[r] = list[j].score;
      expectedParts.splice(r * oracle.partCount, oracle.partCount, ...oneHot(match.parts, oracle.partCount));
      expect(seen.has(row.join(','))).toBe(false);
      seen.add(row.join(','));
      if (!tol.exactOrder) expectClose([scores[r]], [match.score], tol.rtol, tol.atol);
    }
  }
  expect(labels).toEqual(expectedLabels);
  expectClose(scores, expectedScores, tol.rtol, tol.atol);
  expect(parts).toEqual(expectedParts);
}

// B = 3 sequences, N = 4, C = 3; lengths 4, 1, 3: 81, 3 and 27 labellings.
const [B, N, C] = [3, 4, 3];
const lengths = [4, 1, 3];
const most = C ** N;

type Form = 'edges' | 'shared' | 'batched';
const forms: Form[] = ['edges', 'shared', 'batched'];

function potentialsOf(form: Form, make: (shape: number[]) => Tensor): Potentials {
  if (form === 'edges') return make([B, N - 1, C, C]);
  return { unary: make([B, N, C]), transition: make(form === 'shared' ? [C, C] : [B, C, C]) };
}

function checkEveryK(p: Potentials, tol: { rtol: number; atol: number; exactOrder: boolean }, ks?: number[]): void {
  const oracle = chainOracle(p, B, lengths);
  const crf = new LinearChainCRF(p, { lengths });
  for (const k of ks ?? Array.from({ length: most + 2 }, (_, i) => i + 1)) checkTopk(crf.topk(k), k, B, N, oracle, tol);
}

/** A generator of random tensors drawing from one stream (so that unary and transition do not repeat each other). */
const randomOf = (seed: number, scale = 1): ((shape: number[]) => Tensor) => {
  const random = rng(seed);
  return (shape) => randomTensor(shape, random, scale);
};

const integerTensor = (random: () => number, values: number) => (shape: number[]) =>
  new Tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * values)), shape);

describe.each(forms)('LinearChainCRF.topk (%s)', (form) => {
  const exact = { rtol: 1e-12, atol: 1e-12, exactOrder: true };

  test('float64, mixed lengths with length 1, every k from 1 to C^N and past it', () => {
    checkEveryK(potentialsOf(form, randomOf(1)), exact);
  });

  test('−Infinity masks: masked labellings never listed, a −Infinity tail', () => {
    const random = rng(2);
    const mask = (t: Tensor, keep: (t: Tensor) => void): Tensor => {
      for (let i = 0; i < t.data.length; i++) if (random() < 0.35) t.data[i] = -Infinity;
      keep(t);
      return t;
    };
    // keep the all-0 labelling of every sequence finite
    const p: Potentials =
      form === 'edges'
        ? mask(randomTensor([B, N - 1, C, C], random), (t) => {
            for (let q = 0; q < B * (N - 1); q++) t.data[q * C * C] = 0;
          })
        : {
            unary: mask(randomTensor([B, N, C], random), (t) => {
              for (let q = 0; q < B * N; q++) t.data[q * C] = 0;
            }),
            transition: mask(randomTensor(form === 'shared' ? [C, C] : [B, C, C], random), (t) => {
              for (let q = 0; q < t.data.length; q += C * C) t.data[q] = 0;
            }),
          };
    const oracle = chainOracle(p, B, lengths);
    expect(oracle.ranked[0].length).toBeLessThan(most);
    checkEveryK(p, exact);
  });

  test('ties on integer scores: exactly the documented order (labels read from the end, smaller first)', () => {
    checkEveryK(potentialsOf(form, integerTensor(rng(3), 2)), { rtol: 0, atol: 0, exactOrder: true });
    checkEveryK(potentialsOf(form, integerTensor(rng(4), 3)), { rtol: 0, atol: 0, exactOrder: true });
    checkEveryK(potentialsOf(form, (shape) => new Tensor(new Float64Array(shape.reduce((a, b) => a * b, 1)), shape)), {
      rtol: 0,
      atol: 0,
      exactOrder: true,
    });
  });

  test('float32 against the oracle and against float64', () => {
    const p64 = potentialsOf(form, randomOf(5));
    const p32: Potentials = p64 instanceof Tensor ? toFloat32(p64) : { unary: toFloat32(p64.unary), transition: toFloat32(p64.transition) };
    checkEveryK(p32, { rtol: 1e-5, atol: 1e-5, exactOrder: false });
    const a = new LinearChainCRF(p32, { lengths }).topk(most);
    const b = new LinearChainCRF(p64, { lengths }).topk(most);
    expectClose(data(a.score), data(b.score), 1e-4, 1e-4);
  });

  test.each([1e3, 1e4])('scores of magnitude %s: exact order and finite scores', (scale) => {
    const p = potentialsOf(form, randomOf(6, scale));
    checkEveryK(p, { rtol: 1e-12, atol: 0, exactOrder: true }, [1, 2, 5, 27, 28, most - 1, most, most + 1]);
    const p32: Potentials = p instanceof Tensor ? toFloat32(p) : { unary: toFloat32(p.unary), transition: toFloat32(p.transition) };
    const r = new LinearChainCRF(p32, { lengths }).topk(10);
    checkTopk(r, 10, B, N, chainOracle(p32, B, lengths), { rtol: 1e-5, atol: 1e-5 * scale, exactOrder: false });
  });

  test('rank 0 is argmaxDecoded, labels and score bit for bit (random, integer ties, float32)', () => {
    const noisy = randomOf(9, 1e3);
    const cases = [
      potentialsOf(form, randomOf(7)),
      potentialsOf(form, integerTensor(rng(8), 2)),
      potentialsOf(form, (shape) => toFloat32(noisy(shape))),
    ];
    for (const p of cases) {
      const crf = new LinearChainCRF(p, { lengths });
      const best = crf.argmaxDecoded();
      const top = crf.topk(4);
      expect(Array.from(top.labels.subarray(0, B * N))).toEqual(Array.from(best.labels));
      expect(data(top.score).slice(0, B)).toEqual(data(best.score));
    }
  });

  test('async equals sync', async () => {
    const crf = new LinearChainCRF(potentialsOf(form, randomOf(10)), { lengths });
    const a = await crf.topkAsync(7);
    const s = crf.topk(7);
    expect(Array.from(a.labels)).toEqual(Array.from(s.labels));
    expect(data(a.score)).toEqual(data(s.score));
    expect(partsRow(a.parts, 0)).toEqual(partsRow(s.parts, 0));
    for (let r = 0; r < 7 * B; r++) expect(partsRow(a.parts, r)).toEqual(partsRow(s.parts, r));
  });
});

describe('LinearChainCRF.topk: shapes and typed errors', () => {
  test('part shapes with a leading [k]', () => {
    const edges = new LinearChainCRF(randomTensor([B, N - 1, C, C], rng(11)), { lengths }).topk(5);
    expect((edges.parts as Tensor).shape).toEqual([5, B, N - 1, C, C]);
    const factored = new LinearChainCRF({ unary: randomTensor([B, N, C], rng(12)), transition: randomTensor([C, C], rng(13)) }).topk(5);
    expect(factored.parts.unary.shape).toEqual([5, B, N, C]);
    expect(factored.parts.transition.shape).toEqual([5, B, C, C]);
    expect(factored.score.shape).toEqual([5, B]);
  });
  test('k out of range or not a number; a sequence with no finite labelling; sizes that overflow', () => {
    const crf = new LinearChainCRF(randomTensor([B, N - 1, C, C], rng(14)), { lengths });
    for (const k of [0, -1, 1.5, 1025, Number.NaN, Infinity]) {
      expect(errorCode(() => crf.topk(k))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(() => crf.topk(k)).toThrow(/\bk\b/);
    }
    expect(errorCode(() => crf.topk('2' as unknown as number))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    const masked = randomTensor([B, N - 1, C, C], rng(15));
    masked.data.fill(-Infinity, 0, (N - 1) * C * C);
    expect(errorCode(() => new LinearChainCRF(masked, { lengths }).topk(2))).toBe('RangeError:ERR_INVALID_SCORES');
    const long = 2 ** 21 + 1;
    const huge = new LinearChainCRF({ unary: new Tensor(new Float32Array(long), [1, long, 1]), transition: new Tensor(new Float32Array(1), [1, 1]) });
    expect(errorCode(() => huge.topk(1024))).toBe('RangeError:ERR_SIZE_OVERFLOW');
  });
  test('async: the same typed errors, as rejections', async () => {
    const crf = new LinearChainCRF(randomTensor([B, N - 1, C, C], rng(16)), { lengths });
    await expect(crf.topkAsync(0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(crf.topkAsync(1025)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('HMM.topk', () => {
  const V = 4;
  const random = rng(21);
  const params = { transition: randomTensor([C, C], random), emission: randomTensor([V, C], random), init: randomTensor([C], random) };
  const obs = Int32Array.from({ length: B * N }, () => Math.floor(random() * V));

  const oracleOf = (p: typeof params): { ranked: Structure[][]; partCount: number } => ({
    ranked: lengths.map((L, b) => {
      const h: OracleHMM = {
        transition: p.transition.data,
        emission: p.emission.data,
        init: p.init.data,
        C,
        N,
        L,
        x: obs.subarray(b * N, (b + 1) * N),
      };
      return ranked(
        labellings(h).map((y) => ({ decoded: y, score: jointScore(h, y), parts: hmmPartsOf(h, y) })),
        L,
      );
    }),
    partCount: N * C + C * C,
  });

  test('every k against the enumerated joint log-probabilities, mixed lengths with length 1', () => {
    const hmm = new HMM(params, { data: obs, shape: [B, N] }, { lengths });
    const oracle = oracleOf(params);
    for (let k = 1; k <= most + 1; k++) {
      checkTopk(hmm.topk(k), k, B, N, oracle, { rtol: 1e-12, atol: 1e-12, exactOrder: true });
    }
  });
  test('−Infinity transitions (a forbidden move) are never listed; rank 0 is argmaxDecoded; async = sync', async () => {
    const masked = { ...params, transition: new Tensor(Float64Array.from(params.transition.data), [C, C]) };
    masked.transition.data[1 * C + 0] = -Infinity; // 0 → 1 forbidden
    masked.transition.data[2 * C + 2] = -Infinity; // 2 → 2 forbidden
    const hmm = new HMM(masked, { data: obs, shape: [B, N] }, { lengths });
    const oracle = oracleOf(masked);
    expect(oracle.ranked[0].length).toBeLessThan(most);
    for (const k of [1, 2, oracle.ranked[0].length, most]) checkTopk(hmm.topk(k), k, B, N, oracle, { rtol: 1e-12, atol: 1e-12, exactOrder: true });
    const best = hmm.argmaxDecoded();
    const top = hmm.topk(3);
    expect(Array.from(top.labels.subarray(0, B * N))).toEqual(Array.from(best.labels));
    expect(data(top.score).slice(0, B)).toEqual(data(best.score));
    const a = await hmm.topkAsync(3);
    expect(Array.from(a.labels)).toEqual(Array.from(top.labels));
    expect(data(a.score)).toEqual(data(top.score));
    expect(data(a.parts.unary)).toEqual(data(top.parts.unary));
    expect(data(a.parts.transition)).toEqual(data(top.parts.transition));
  });
  test('k out of range: typed errors', () => {
    const hmm = new HMM(params, { data: obs, shape: [B, N] }, { lengths });
    expect(errorCode(() => hmm.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => hmm.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });
});
