/**
 * The surrogate-gradient estimators of lib/estimators on every structure. They are biased by design, so each is
 * checked against its defining formula computed independently: straight-through (z = the enumerated MAP; gradScores
 * = ∂L/∂z, or Cov(z)·∂L/∂z by enumeration), perturb-and-MAP / ST-Gumbel (z = the enumerated MAP of scores + G),
 * and SPIGOT (gradScores = z − Π_M(z − η ∂L/∂z), the projection by the reference solver over every structure).
 */
import { LinearChainCRF, Tensor, estimators, gumbelNoise } from '../lib';
import { errorCode, expectClose, randomTensor, rng } from './helpers';
import { covarianceProduct } from './oracles/enumerate';
import { latentCases, quadraticLoss, vectorOf } from './oracles/latent';
import { sparsemapReference } from './oracles/sparsemap';

describe.each(latentCases)('surrogates on $name', (c) => {
  const random = rng(303 + c.name.length);
  const scores = randomTensor(c.shape, random, 1.5);
  const B = c.shape[0];
  const block = scores.size / B;
  const loss = quadraticLoss(randomTensor(c.shape, random).data as Float64Array, B, 0.5, 1);
  const instance = (t: Tensor, b: number) => t.data.subarray(b * block, (b + 1) * block);
  const bestOf = (s: Tensor, b: number) => vectorOf(c.distribution(s, b).best, block);

  test('straightThrough(identity): z = MAP, gradScores = ∂L/∂z', () => {
    const result = estimators.straightThrough().step(c.make(scores), loss.decoder);
    const z = result.samples[0];
    for (let b = 0; b < B; b++) expectClose(instance(z, b), bestOf(scores, b), 0);
    expectClose(result.gradScores.data, loss.decoder(z).gradZ.data, 0);
    expectClose(result.loss, loss.decoder(z).loss, 0);
  });

  test('straightThrough(marginals): gradScores = Cov(z)·∂L/∂z by enumeration', () => {
    const result = estimators.straightThrough({ backward: 'marginals' }).step(c.make(scores), loss.decoder);
    const g = loss.decoder(result.samples[0]).gradZ;
    for (let b = 0; b < B; b++) {
      expectClose(instance(result.gradScores, b), covarianceProduct(c.distribution(scores, b), instance(g, b)), 1e-9, 1e-12);
    }
  });

  test('perturbAndMap: z = MAP of scores + G for consecutive seeds; both backwards', () => {
    const identity = estimators.perturbAndMap({ seed: 40 });
    const relaxed = estimators.stGumbel({ seed: 40, backward: 'marginals', temperature: 0.5 });
    for (let step = 0; step < 3; step++) {
      const seed = 40 + step;
      const noise = gumbelNoise(c.shape, { seed, dtype: 'float64' }) as Tensor;
      const perturbed = new Tensor(Float64Array.from(scores.data, (v, i) => v + noise.data[i]), c.shape);
      const a = identity.step(c.make(scores), loss.decoder);
      const r = relaxed.step(c.make(scores), loss.decoder);
      for (let b = 0; b < B; b++) {
        expectClose(instance(a.samples[0], b), bestOf(perturbed, b), 0);
        expectClose(instance(r.samples[0], b), bestOf(perturbed, b), 0);
      }
      expectClose(a.gradScores.data, loss.decoder(a.samples[0]).gradZ.data, 0);
      const g = loss.decoder(r.samples[0]).gradZ;
      const expected = c.make(scores).perturbedMarginalsBackward(g, { seed, temperature: 0.5 });
      expectClose(r.gradScores.data, expected.data, 1e-12, 1e-15);
      // The same backward by enumeration: (1/τ) Cov(z)·g under the scores (s + G)/τ.
      const tempered = new Tensor(Float64Array.from(perturbed.data, (v) => v / 0.5), c.shape);
      for (let b = 0; b < B; b++) {
        const cov = covarianceProduct(c.distribution(tempered, b), instance(g, b));
        expectClose(instance(r.gradScores, b), Float64Array.from(cov, (v) => v / 0.5), 1e-8, 1e-11);
      }
    }
  });

  test.each([0.5, 2])('spigot(η = %p): gradScores = z − Π_M(z − η ∂L/∂z) (reference projection)', (step) => {
    const result = estimators.spigot({ step }).step(c.make(scores), loss.decoder);
    const z = result.samples[0];
    const g = loss.decoder(z).gradZ;
    for (let b = 0; b < B; b++) {
      expectClose(instance(z, b), bestOf(scores, b), 0);
      const d = c.distribution(scores, b);
      const target = Float64Array.from(instance(z, b), (v, q) => v - step * g.data[b * block + q]);
      const projection = sparsemapReference(d.structures, target, block).marginals;
      expectClose(instance(result.gradScores, b), Float64Array.from(projection, (p, q) => z.data[b * block + q] - p), 1e-6, 1e-8);
    }
  });
});

describe('surrogates: factored chains and options', () => {
  const random = rng(9);
  const unary = randomTensor([3, 3, 2], random);
  const transition = randomTensor([2, 2], random);
  type Parts = { unary: Tensor; transition: Tensor };
  const decoder = (z: Parts) => ({
    loss: new Float64Array(3).fill(1),
    gradZ: { unary: new Tensor(Float64Array.from(z.unary.data, (_, i) => i % 5), z.unary.shape), transition: new Tensor(Float64Array.from(z.transition.data, (_, i) => (i % 3) - 1), z.transition.shape) },
  });

  test('straight-through on a shared transition sums the per-sequence transition gradients', () => {
    const crf = new LinearChainCRF({ unary, transition }, { lengths: [3, 1, 2] });
    const result = estimators.straightThrough().step(crf, decoder);
    const g = decoder(result.samples[0]).gradZ;
    expect(result.gradScores.transition.shape).toEqual([2, 2]);
    expectClose(result.gradScores.unary.data, g.unary.data, 0);
    const summed = Array.from({ length: 4 }, (_, q) => g.transition.data[q] + g.transition.data[4 + q] + g.transition.data[8 + q]);
    expectClose(result.gradScores.transition.data, summed, 1e-15);
  });

  test('bad options are typed errors', () => {
    expect(errorCode(() => estimators.straightThrough({ backward: 'softmax' as never }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.spigot({ step: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.perturbAndMap({ temperature: Infinity }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.perturbAndMap({ seed: 1.5 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });
});
