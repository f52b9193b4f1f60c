/**
 * The continuous relaxations of lib/estimators on every structure: the returned z is the building block's value
 * (marginals against the enumeration oracle), and gradScores is the exact gradient of Σ_b L_b(z(scores)) — checked
 * against central finite differences of that composite, for a nonlinear decoder. SparseMAP is piecewise linear,
 * so its differences are compared only where the support is the same at ±h.
 */
import { Categorical, LinearChainCRF, Tensor, TreeCRF, estimators } from '../lib';
import { errorCode, expectClose, finiteDifferenceVjp, randomTensor, rng } from './helpers';
import { LatentCase, latentCases, quadraticLoss } from './oracles/latent';
import { stableFiniteDifferenceVjp } from './oracles/sparsemap';

/** Σ_b L_b(z) of one forward pass on scores x. */
function composite(c: LatentCase, make: () => estimators.LayerEstimator, decoder: (z: Tensor) => { loss: Float64Array }) {
  return (x: Float64Array): number[] => {
    const { z } = make().forward(c.make(new Tensor(x, c.shape)));
    return [decoder(z).loss.reduce((a, v) => a + v, 0)];
  };
}

/** A key of the SparseMAP support (which structures), to detect kinks. */
function supportKey(c: LatentCase, x: Float64Array): string {
  const { support } = c.make(new Tensor(x, c.shape)).sparsemap() as unknown as { support: unknown };
  return JSON.stringify(support, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : v));
}

const relaxations: { name: string; make: () => estimators.LayerEstimator; value: (s: estimators.LatentStructure<Tensor, Tensor>) => Tensor }[] = [
  { name: 'marginals', make: () => estimators.marginals(), value: (s) => s.marginals() },
  { name: 'sparsemap', make: () => estimators.sparsemap(), value: (s) => s.sparsemap().marginals },
  {
    name: 'perturbedMarginals',
    make: () => estimators.perturbedMarginals({ temperature: 0.7, seed: 11 }),
    value: (s) => s.perturbedMarginals({ seed: 11, temperature: 0.7 }),
  },
];

describe.each(latentCases)('relaxations on $name', (c) => {
  const random = rng(101 + c.name.length);
  const scores = randomTensor(c.shape, random, 1.5);
  const coefficients = randomTensor(c.shape, random).data as Float64Array;
  const loss = quadraticLoss(coefficients, c.shape[0], 0.3, 2);

  test('softmax / structured attention: z = μ (enumeration), loss = L(μ)', () => {
    const result = estimators.marginals().step(c.make(scores), loss.decoder);
    const B = c.shape[0];
    const block = scores.size / B;
    for (let b = 0; b < B; b++) {
      expectClose(result.samples[0].data.subarray(b * block, (b + 1) * block), c.distribution(scores, b).marginals, 1e-9, 1e-12);
    }
    expectClose(result.loss, loss.decoder(result.samples[0]).loss, 1e-12);
    expect(result.weights).toEqual([new Float64Array(B).fill(1)]);
  });

  test.each(relaxations)('$name: z is the building block, gradScores matches finite differences', ({ name, make, value }) => {
    const result = make().step(c.make(scores), loss.decoder);
    expectClose(result.samples[0].data, value(c.make(scores)).data, 1e-12, 1e-15);
    const x = scores.data as Float64Array;
    if (name !== 'sparsemap') {
      const fd = finiteDifferenceVjp(composite(c, make, loss.decoder), x, [1], 1e-6);
      expectClose(result.gradScores.data, fd, 1e-5, 1e-6);
      return;
    }
    const { grad, stable } = stableFiniteDifferenceVjp(
      (v) => ({ values: composite(c, make, loss.decoder)(v), key: supportKey(c, v) }),
      x,
      [1],
      1e-6,
    );
    expect(stable.filter((s) => s).length).toBeGreaterThan(x.length / 2);
    expectClose(
      result.gradScores.data.filter((_, i) => stable[i]),
      grad.filter((_, i) => stable[i]),
      1e-5,
      1e-6,
    );
  });

  test('the layer form: forward(structure).backward(g) is the step gradient for any g', () => {
    const g = randomTensor(c.shape, random);
    for (const { make } of relaxations) {
      const layer = make().forward(c.make(scores));
      const viaDecoder = make().step(c.make(scores), () => ({ loss: new Float64Array(c.shape[0]), gradZ: g }));
      expectClose(layer.backward(g).data, viaDecoder.gradScores.data, 1e-12, 1e-15);
    }
  });
});

describe('relaxations specific to a structure', () => {
  const random = rng(7);
  const scores = randomTensor([3, 5], random, 2);
  const loss = quadraticLoss(randomTensor([3, 5], random).data as Float64Array, 3, -0.2, 1);

  test('entmax15 on Categorical: z = 1.5-entmax, gradScores = finite differences', () => {
    const result = estimators.entmax15().step(new Categorical(scores), loss.decoder);
    expectClose(result.samples[0].data, new Categorical(scores).entmax15().data, 1e-12);
    const fd = finiteDifferenceVjp(
      (x) => [loss.decoder(new Categorical(new Tensor(x, [3, 5])).entmax15()).loss.reduce((a, v) => a + v, 0)],
      scores.data as Float64Array,
      [1],
      1e-6,
    );
    expectClose(result.gradScores.data, fd, 1e-5, 1e-6);
  });

  test('gumbelSoftmax on Categorical is softmax((scores + G)/τ) with G = gumbelNoise(seed)', () => {
    const result = estimators.gumbelSoftmax({ temperature: 0.5, seed: 3 }).step(new Categorical(scores), loss.decoder);
    const expected = new Categorical(scores).gumbelSoftmax({ temperature: 0.5, seed: 3 });
    expectClose(result.samples[0].data, expected.data, 1e-12);
  });

  test('each step of a perturbed relaxation draws new noise', () => {
    const estimator = estimators.perturbedMarginals({ seed: 1 });
    const first = estimator.forward(new Categorical(scores)).z;
    const second = estimator.forward(new Categorical(scores)).z;
    expect(Array.from(first.data)).not.toEqual(Array.from(second.data));
  });

  test('entmax15 on a structure without it is a TypeError naming the structure', () => {
    const tree = new TreeCRF(randomTensor([1, 3, 3], random));
    expect(errorCode(() => estimators.entmax15().step(tree, loss.decoder))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(() => estimators.entmax15().forward(tree)).toThrow(/TreeCRF/);
  });

  test('factored LinearChainCRF: marginals relaxation over { unary, transition } matches finite differences', () => {
    const unary = randomTensor([2, 3, 2], random);
    const transition = randomTensor([2, 2], random);
    const w = randomTensor([2, 3, 2], random).data;
    const v = randomTensor([2, 2, 2], random).data;
    type Parts = { unary: Tensor; transition: Tensor };
    const decoder = (z: Parts) => {
      const loss = new Float64Array(2);
      const gu = new Float64Array(z.unary.size);
      const gt = new Float64Array(z.transition.size);
      for (let b = 0; b < 2; b++) {
        let s = 0;
        for (let q = 0; q < 6; q++) s += w[b * 6 + q] * z.unary.data[b * 6 + q];
        for (let q = 0; q < 4; q++) s += v[b * 4 + q] * z.transition.data[b * 4 + q];
        loss[b] = s * s;
        for (let q = 0; q < 6; q++) gu[b * 6 + q] = 2 * s * w[b * 6 + q];
        for (let q = 0; q < 4; q++) gt[b * 4 + q] = 2 * s * v[b * 4 + q];
      }
      return { loss, gradZ: { unary: new Tensor(gu, z.unary.shape), transition: new Tensor(gt, z.transition.shape) } };
    };
    const crf = (u: Float64Array, t: Float64Array) =>
      new LinearChainCRF({ unary: new Tensor(u, [2, 3, 2]), transition: new Tensor(t, [2, 2]) }, { lengths: [3, 2] });
    const result = estimators.marginals().step(crf(unary.data as Float64Array, transition.data as Float64Array), decoder);
    const total = (u: Float64Array, t: Float64Array) => decoder(crf(u, t).marginals()).loss.reduce((a, x) => a + x, 0);
    const fdUnary = finiteDifferenceVjp((x) => [total(x, transition.data as Float64Array)], unary.data as Float64Array, [1]);
    const fdTransition = finiteDifferenceVjp((x) => [total(unary.data as Float64Array, x)], transition.data as Float64Array, [1]);
    expect(result.gradScores.transition.shape).toEqual([2, 2]);
    expectClose(result.gradScores.unary.data, fdUnary, 1e-5, 1e-7);
    expectClose(result.gradScores.transition.data, fdTransition, 1e-5, 1e-7);
    expect(errorCode(() => estimators.sparsemap().step(crf(unary.data as Float64Array, transition.data as Float64Array), decoder))).toBe(
      'TypeError:ERR_INVALID_ARG_TYPE',
    );
  });

  test('a decoder without gradZ, with a wrong loss, or not a function is a typed error', () => {
    const cat = new Categorical(scores);
    expect(errorCode(() => estimators.marginals().step(cat, () => ({ loss: [1, 2, 3] })))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => estimators.marginals().step(cat, (z) => ({ loss: [1, 2], gradZ: z })))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => estimators.marginals().step(cat, (z) => ({ loss: [1, NaN, 2], gradZ: z })))).toBe('RangeError:ERR_NOT_FINITE');
    expect(errorCode(() => estimators.marginals().step(cat, 3 as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => estimators.perturbedMarginals({ temperature: 0 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.perturbedMarginals({ seed: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });
});
