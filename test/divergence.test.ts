/**
 * kl, crossEntropy and count of every structure (issue 21), on the CPU, in float64: against brute-force
 * enumeration over the oracles' distributions (1e-9), KL(p‖p) = 0 and KL ≥ 0, count = log of the number of
 * structures, gradients w.r.t. both distributions' potentials against finite differences, −Infinity masks (a part
 * p never uses that q forbids contributes nothing; a part p uses that q forbids gives +Infinity and zero
 * gradients for that instance), mixed lengths (the table's second instances are shorter), and typed errors for a
 * structure of another family. The factored chain (shared transition) and the HMM have their own blocks.
 */
import { DivergenceGrad, HMM, HMMParams, LinearChainCRF, Tensor, TreeCRF, DependencyCRF, Categorical } from '../lib';
import { errorCode, expectClose, finiteDifferenceVjp, randomTensor, rng } from './helpers';
import { keyOf } from './oracles/enumerate';
import { enumerateHMM } from './oracles/hmm';
import { LatentCase, latentCases } from './oracles/latent';
import { enumerateChain, oracleChain } from './oracles/linear_chain';

/** What the tests call: the divergence methods over tensors of the scores' layout. */
interface Divergent {
  kl(other: Divergent): Float64Array;
  crossEntropy(other: Divergent): Float64Array;
  klBackward(other: Divergent, grad: ArrayLike<number>): DivergenceGrad<Tensor>;
  crossEntropyBackward(other: Divergent, grad: ArrayLike<number>): DivergenceGrad<Tensor>;
  count(): Float64Array;
}

/** One instance's structures by key, with their scores. */
type Scored = Map<string, number>;

function logSumExp(values: number[]): number {
  const top = Math.max(...values);
  if (top === -Infinity) return -Infinity;
  return top + Math.log(values.reduce((s, v) => s + Math.exp(v - top), 0));
}

/** Brute-force cross-entropy and KL of p against q, over the same keys. */
function bruteForce(p: Scored, q: Scored): { ce: number; kl: number } {
  expect([...q.keys()].sort()).toEqual([...p.keys()].sort());
  const logZp = logSumExp([...p.values()]);
  const logZq = logSumExp([...q.values()]);
  let ce = 0;
  let kl = 0;
  for (const [key, sp] of p) {
    const prob = Math.exp(sp - logZp);
    if (prob === 0) continue;
    const logQ = (q.get(key) as number) - logZq;
    ce -= prob * logQ;
    kl += prob * (sp - logZp - logQ);
  }
  return { ce, kl };
}

function scoredOf(c: LatentCase, scores: Tensor, b: number): Scored {
  const d = c.distribution(scores, b);
  return new Map(d.structures.map((s) => [keyOf(s.decoded), s.score]));
}

const asDivergent = (s: unknown): Divergent => s as Divergent;
const weights = [0.7, -1.3];

function randomPair(shape: number[], seed: number): [Tensor, Tensor] {
  const random = rng(seed);
  return [randomTensor(shape, random), randomTensor(shape, random)];
}

/** A flat entry of instance 0's block whose marginal under `scores` is in (lo, hi). */
function entryWithMarginal(c: LatentCase, scores: Tensor, lo: number, hi: number): number {
  const m = c.make(scores).marginals().data;
  const size = scores.size / scores.shape[0];
  for (let q = 0; q < size; q++) if (m[q] > lo + 1e-6 && m[q] < hi - 1e-6) return q;
  throw new Error('no such entry');
}

function withEntry(t: Tensor, q: number, value: number): Tensor {
  const data = Float64Array.from(t.data);
  data[q] = value;
  return new Tensor(data, t.shape);
}

function checkAgainstOracle(c: LatentCase, sp: Tensor, sq: Tensor): void {
  const p = asDivergent(c.make(sp));
  const q = asDivergent(c.make(sq));
  const kl = p.kl(q);
  const ce = p.crossEntropy(q);
  for (let b = 0; b < sp.shape[0]; b++) {
    const expected = bruteForce(scoredOf(c, sp, b), scoredOf(c, sq, b));
    expectClose([ce[b], kl[b]], [expected.ce, expected.kl], 1e-9, 1e-9);
  }
}

/** Finite differences of Σ_b w_b D_b w.r.t. p's and q's scores (−Infinity entries skipped: their gradient is 0). */
function checkGradients(c: LatentCase, sp: Tensor, sq: Tensor, which: 'kl' | 'crossEntropy'): void {
  const value = (a: Tensor, b: Tensor) => asDivergent(c.make(a))[which](asDivergent(c.make(b)));
  const backward = which === 'kl' ? 'klBackward' : 'crossEntropyBackward';
  const g = asDivergent(c.make(sp))[backward](asDivergent(c.make(sq)), weights);
  const fdSelf = finiteDifferenceVjp((x) => value(new Tensor(x, sp.shape), sq), Float64Array.from(sp.data), weights);
  const fdOther = finiteDifferenceVjp((x) => value(sp, new Tensor(x, sq.shape)), Float64Array.from(sq.data), weights);
  expect(g.self.shape).toEqual(sp.shape);
  expect(g.other.shape).toEqual(sq.shape);
  expectClose(g.self.data, fdSelf, 1e-5, 1e-6);
  expectClose(g.other.data, fdOther, 1e-5, 1e-6);
}

describe.each(latentCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  const [sp, sq] = randomPair(c.shape, 21);

  test('kl and crossEntropy equal enumeration (float64, 1e-9), mixed lengths', () => {
    checkAgainstOracle(c, sp, sq);
  });

  test('KL(p‖p) = 0 exactly and KL ≥ 0', () => {
    const p = asDivergent(c.make(sp));
    expect(Array.from(p.kl(asDivergent(c.make(sp))))).toEqual(new Array(sp.shape[0]).fill(0));
    for (let seed = 0; seed < 4; seed++) {
      const [a, b] = randomPair(c.shape, 100 + seed);
      for (const v of asDivergent(c.make(a)).kl(asDivergent(c.make(b)))) expect(v).toBeGreaterThanOrEqual(0);
    }
  });

  test('count = log of the number of structures, whatever the scores forbid', () => {
    const masked = withEntry(sp, entryWithMarginal(c, sp, 0, 1), -Infinity);
    for (const scores of [sp, masked]) {
      const count = asDivergent(c.make(scores)).count();
      for (let b = 0; b < sp.shape[0]; b++) expectClose([count[b]], [Math.log(c.distribution(sp, b).structures.length)], 1e-12, 1e-12);
    }
  });

  test.each(['kl', 'crossEntropy'] as const)('%s gradients w.r.t. both scores equal finite differences', (which) => {
    checkGradients(c, sp, sq, which);
  });

  test('a part p never uses contributes nothing where q forbids it (values and gradients)', () => {
    const e = entryWithMarginal(c, sp, 0, 1);
    const [mp, mq] = [withEntry(sp, e, -Infinity), withEntry(sq, e, -Infinity)];
    checkAgainstOracle(c, mp, mq);
    checkAgainstOracle(c, mp, sq);
    checkGradients(c, mp, mq, 'kl');
    checkGradients(c, mp, mq, 'crossEntropy');
  });

  test('a part p uses that q forbids: +Infinity, zero gradients for that instance only', () => {
    const e = entryWithMarginal(c, sp, 0, 1);
    const mq = withEntry(sq, e, -Infinity);
    const p = asDivergent(c.make(sp));
    const q = asDivergent(c.make(mq));
    const [kl, ce] = [p.kl(q), p.crossEntropy(q)];
    expect(kl[0]).toBe(Infinity);
    expect(ce[0]).toBe(Infinity);
    expect(Number.isFinite(kl[1]) && Number.isFinite(ce[1])).toBe(true);
    const size = sp.size / sp.shape[0];
    for (const which of ['klBackward', 'crossEntropyBackward'] as const) {
      const g = p[which](q, weights);
      for (const t of [g.self, g.other]) {
        expect(Array.from(t.data.subarray(0, size)).every((v) => v === 0)).toBe(true);
        expect(Array.from(t.data.subarray(size)).every(Number.isFinite)).toBe(true);
      }
    }
  });
});

describe('typed errors name the argument', () => {
  const scores = randomPair([2, 3, 3], 5)[0];
  test('another kind of structure', () => {
    const tree = new TreeCRF(scores);
    expect(errorCode(() => tree.kl(new DependencyCRF(scores) as unknown as typeof tree))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => new Categorical(scores.reshape([2, 9])).crossEntropy(null as unknown as Categorical<Tensor>))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });
  test('other lengths, options or shapes', () => {
    const dep = new DependencyCRF(scores, { lengths: [3, 2] });
    expect(errorCode(() => dep.kl(new DependencyCRF(scores)))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(() => dep.kl(new DependencyCRF(scores))).toThrow(/other\.lengths/);
    expect(() => dep.kl(new DependencyCRF(scores, { lengths: [3, 2], singleRoot: false }))).toThrow(/other\.singleRoot/);
    const tree = new TreeCRF(scores);
    expect(errorCode(() => tree.crossEntropy(new TreeCRF(randomPair([2, 4, 4], 6)[0])))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => tree.klBackward(new TreeCRF(scores), [1]))).toBe('RangeError:ERR_SHAPE_MISMATCH');
  });
});

describe('LinearChainCRF, factored with a shared transition', () => {
  const [B, N, C] = [2, 3, 2];
  const lengths = [3, 2];
  const random = rng(8);
  const make = (unary: Tensor, transition: Tensor) => new LinearChainCRF({ unary, transition }, { lengths });
  const [up, tp, uq, tq] = [randomTensor([B, N, C], random), randomTensor([C, C], random), randomTensor([B, N, C], random), randomTensor([C, C], random)];
  const scored = (unary: Tensor, transition: Tensor, b: number): Scored => {
    const e = enumerateChain(oracleChain({ unary, transition }, b, lengths));
    return new Map(e.labellings.map((y, k) => [keyOf(y), e.scores[k]]));
  };

  test('values equal enumeration; KL(p‖p) = 0; count', () => {
    const p = make(up, tp);
    const q = make(uq, tq);
    const [kl, ce] = [p.kl(q), p.crossEntropy(q)];
    for (let b = 0; b < B; b++) {
      const expected = bruteForce(scored(up, tp, b), scored(uq, tq, b));
      expectClose([ce[b], kl[b]], [expected.ce, expected.kl], 1e-9, 1e-9);
    }
    expect(Array.from(p.kl(make(up, tp)))).toEqual([0, 0]);
    expectClose(p.count(), [3 * Math.log(C), 2 * Math.log(C)], 1e-12);
  });

  test.each(['kl', 'crossEntropy'] as const)('%s gradients w.r.t. unary and the shared transition', (which) => {
    const value = (a: LinearChainCRF, b: LinearChainCRF) => a[which](b);
    const g = make(up, tp)[which === 'kl' ? 'klBackward' : 'crossEntropyBackward'](make(uq, tq), weights);
    const grads = g as DivergenceGrad<{ unary: Tensor; transition: Tensor }>;
    const cases: [Tensor, (x: Tensor) => Float64Array, Tensor][] = [
      [up, (x) => value(make(x, tp), make(uq, tq)), grads.self.unary],
      [tp, (x) => value(make(up, x), make(uq, tq)), grads.self.transition],
      [uq, (x) => value(make(up, tp), make(x, tq)), grads.other.unary],
      [tq, (x) => value(make(up, tp), make(uq, x)), grads.other.transition],
    ];
    for (const [x, f, got] of cases) {
      expect(got.shape).toEqual(x.shape);
      expectClose(got.data, finiteDifferenceVjp((v) => f(new Tensor(v, x.shape)), Float64Array.from(x.data), weights), 1e-5, 1e-6);
    }
  });
});

describe('HMM', () => {
  const [B, N, C, V] = [2, 3, 2, 3];
  const lengths = [3, 1];
  const random = rng(9);
  const params = (): HMMParams<Tensor> => ({ transition: randomTensor([C, C], random), emission: randomTensor([V, C], random), init: randomTensor([C], random) });
  const [pp, pq] = [params(), params()];
  const obs = Int32Array.from([0, 2, 1, 1, 0, 0]);
  const make = (p: HMMParams<Tensor>) => new HMM(p, { data: obs, shape: [B, N] }, { lengths });
  const scored = (p: HMMParams<Tensor>, b: number): Scored => {
    const e = enumerateHMM({ transition: p.transition.data, emission: p.emission.data, init: p.init.data, C, N, L: lengths[b], x: obs.subarray(b * N, (b + 1) * N) });
    return new Map(e.labellings.map((y, k) => [keyOf(y), e.scores[k]]));
  };

  test('values equal enumeration; KL(p‖p) = 0; count', () => {
    const [kl, ce] = [make(pp).kl(make(pq)), make(pp).crossEntropy(make(pq))];
    for (let b = 0; b < B; b++) {
      const expected = bruteForce(scored(pp, b), scored(pq, b));
      expectClose([ce[b], kl[b]], [expected.ce, expected.kl], 1e-9, 1e-9);
    }
    expect(Array.from(make(pp).kl(make(pp)))).toEqual([0, 0]);
    expectClose(make(pp).count(), [3 * Math.log(C), Math.log(C)], 1e-12);
  });

  test.each(['kl', 'crossEntropy'] as const)('%s gradients w.r.t. both parameter sets', (which) => {
    const g = make(pp)[which === 'kl' ? 'klBackward' : 'crossEntropyBackward'](make(pq), weights);
    for (const side of ['self', 'other'] as const) {
      for (const name of ['transition', 'emission', 'init'] as const) {
        const x = (side === 'self' ? pp : pq)[name];
        const f = (v: Float64Array): Float64Array => {
          const changed = { ...(side === 'self' ? pp : pq), [name]: new Tensor(v, x.shape) };
          return side === 'self' ? make(changed)[which](make(pq)) : make(pp)[which](make(changed));
        };
        const got = g[side][name] as Tensor;
        expect(got.shape).toEqual(x.shape);
        expectClose(got.data, finiteDifferenceVjp(f, Float64Array.from(x.data), weights), 1e-5, 1e-6);
      }
    }
  });
});

describe('async forms equal the sync ones', () => {
  test.each(latentCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [sp, sq] = randomPair(c.shape, 31);
    const [p, q] = [c.make(sp) as unknown as Divergent & AsyncDivergent, c.make(sq) as unknown as Divergent];
    expect(await p.klAsync(q)).toEqual(p.kl(q));
    expect(await p.crossEntropyAsync(q)).toEqual(p.crossEntropy(q));
    expect(await p.countAsync()).toEqual(p.count());
    for (const [sync, async] of [['klBackward', 'klBackwardAsync'], ['crossEntropyBackward', 'crossEntropyBackwardAsync']] as const) {
      const [a, b] = [p[sync](q, weights), await p[async](q, weights)];
      expect(b.self.data).toEqual(a.self.data);
      expect(b.other.data).toEqual(a.other.data);
    }
    await expect(p.klAsync(null as unknown as Divergent)).rejects.toThrow(/other must be/);
  });
});

interface AsyncDivergent {
  klAsync(other: Divergent): Promise<Float64Array>;
  crossEntropyAsync(other: Divergent): Promise<Float64Array>;
  klBackwardAsync(other: Divergent, grad: ArrayLike<number>): Promise<DivergenceGrad<Tensor>>;
  crossEntropyBackwardAsync(other: Divergent, grad: ArrayLike<number>): Promise<DivergenceGrad<Tensor>>;
  countAsync(): Promise<Float64Array>;
}
