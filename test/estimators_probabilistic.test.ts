/**
 * The probabilistic estimators of lib/estimators on every structure, against the exact E_p[L(z)] and its gradient
 * Σ_z p(z) L(z) (z − μ) computed by enumeration (test/oracles/latent.ts):
 * - exact marginalization (Categorical) equals them to rounding;
 * - sparse marginalization is exact for the SparseMAP distribution: linear losses give ⟨c, μ*⟩ and the SparseMAP
 *   backward, nonlinear ones match finite differences;
 * - REINFORCE with each baseline and REBAR are unbiased: the mean over many steps is within 5 standard errors of the
 *   exact gradient on every coordinate; the entropy bonus adds exactly β Cov(z)·scores;
 * - the variance of REINFORCE falls with each baseline, and REBAR's is lower still (measured and asserted).
 */
import { Categorical, LinearChainCRF, Tensor, TreeCRF, estimators } from '../lib';
import { errorCode, expectClose, finiteDifferenceVjp, randomTensor, rng } from './helpers';
import { covarianceProduct } from './oracles/enumerate';
import { enumerateChain, oracleChain, partsOf } from './oracles/linear_chain';
import { LatentCase, TensorStructure, batchExpectedLoss, latentCases, quadraticLoss } from './oracles/latent';
import { stableFiniteDifferenceVjp } from './oracles/sparsemap';

/** Mean and standard error per coordinate of a list of vectors. */
function moments(draws: ArrayLike<number>[]): { mean: Float64Array; stderr: Float64Array; totalVariance: number } {
  const n = draws.length;
  const size = draws[0].length;
  const mean = new Float64Array(size);
  const second = new Float64Array(size);
  for (const d of draws) {
    for (let q = 0; q < size; q++) {
      mean[q] += d[q] / n;
      second[q] += (d[q] * d[q]) / n;
    }
  }
  const variance = Float64Array.from(mean, (m, q) => Math.max(0, (second[q] - m * m) * (n / (n - 1))));
  return { mean, stderr: Float64Array.from(variance, (v) => Math.sqrt(v / n)), totalVariance: variance.reduce((a, v) => a + v, 0) };
}

/** Expects every coordinate of the mean within 5 standard errors (plus rounding) of the exact value. */
function expectUnbiased(draws: ArrayLike<number>[], exact: ArrayLike<number>): void {
  const { mean, stderr } = moments(draws);
  for (let q = 0; q < exact.length; q++) {
    const allowed = 5 * stderr[q] + 1e-9 * (1 + Math.abs(exact[q]));
    if (!(Math.abs(mean[q] - exact[q]) <= allowed)) {
      throw new Error(`coordinate ${q}: mean ${mean[q]} vs exact ${exact[q]} (allowed ${allowed}, stderr ${stderr[q]})`);
    }
  }
}

/** gradScores of `steps` steps of one estimator. */
function gradients(estimator: estimators.Estimator, structure: TensorStructure, decoder: (z: Tensor) => { loss: Float64Array; gradZ: Tensor }, steps: number) {
  const grads: Float64Array[] = [];
  const losses: Float64Array[] = [];
  for (let s = 0; s < steps; s++) {
    const r = estimator.step(structure, decoder);
    grads.push(Float64Array.from(r.gradScores.data));
    losses.push(r.loss);
  }
  return { grads, losses };
}

describe.each(latentCases)('probabilistic estimators on $name', (c: LatentCase) => {
  const random = rng(505 + c.name.length);
  const scores = randomTensor(c.shape, random, 1.2);
  const B = c.shape[0];
  const loss = quadraticLoss(randomTensor(c.shape, random).data as Float64Array, B, 0.4, 3);
  const exact = batchExpectedLoss(c, scores, loss);

  test.each([
    ['none', 2],
    ['movingAverage', 2],
    ['leaveOneOut', 3],
  ] as const)('REINFORCE(%s, k = %i) is unbiased for E_p[L] and its gradient', (baseline, samples) => {
    const estimator = estimators.reinforce({ samples, baseline, seed: 1 });
    const { grads, losses } = gradients(estimator, c.make(scores), loss.decoder, 600);
    expectUnbiased(grads, exact.grad);
    expectUnbiased(losses, exact.value);
  });

  test('REINFORCE returns its samples with weights 1/k and per-sample baselines', () => {
    const r = estimators.reinforce({ samples: 3, baseline: 'leaveOneOut', seed: 2 }).step(c.make(scores), loss.decoder);
    expect(r.samples).toHaveLength(3);
    expect(r.weights).toEqual([0, 1, 2].map(() => new Float64Array(B).fill(1 / 3)));
    const losses = r.samples.map((z) => loss.decoder(z).loss);
    for (let b = 0; b < B; b++) {
      expectClose(r.loss.subarray(b, b + 1), [(losses[0][b] + losses[1][b] + losses[2][b]) / 3], 1e-12);
      expectClose(r.baselines.map((x) => x[b]), [0, 1, 2].map((s) => (losses[(s + 1) % 3][b] + losses[(s + 2) % 3][b]) / 2), 1e-12);
    }
    const same = estimators.reinforce({ samples: 3, seed: 2 }).step(c.make(scores), loss.decoder);
    r.samples.forEach((z, s) => expectClose(z.data, same.samples[s].data, 0));
  });

  test('the entropy bonus adds exactly −β∇H = β Cov(z)·scores and −βH to the loss', () => {
    const beta = 0.3;
    const plain = estimators.reinforce({ samples: 2, seed: 9 }).step(c.make(scores), loss.decoder);
    const bonus = estimators.reinforce({ samples: 2, seed: 9, entropyBonus: beta }).step(c.make(scores), loss.decoder);
    const block = scores.size / B;
    for (let b = 0; b < B; b++) {
      const d = c.distribution(scores, b);
      const cov = covarianceProduct(d, scores.data.subarray(b * block, (b + 1) * block));
      const difference = Float64Array.from(cov, (_, q) => bonus.gradScores.data[b * block + q] - plain.gradScores.data[b * block + q]);
      expectClose(difference, Float64Array.from(cov, (v) => beta * v), 1e-8, 1e-10);
      expectClose([plain.loss[b] - bonus.loss[b]], [beta * d.entropy], 1e-9, 1e-12);
      expectClose([(bonus.entropy as Float64Array)[b]], [d.entropy], 1e-9, 1e-12);
    }
  });

  test('sparse marginalization: a linear loss gives ⟨c, μ*⟩ and the SparseMAP backward', () => {
    const c0 = randomTensor(c.shape, random);
    const block = scores.size / B;
    const linear = (z: Tensor) => ({
      loss: Float64Array.from({ length: B }, (_, b) => {
        let s = 0;
        for (let q = b * block; q < (b + 1) * block; q++) s += c0.data[q] * z.data[q];
        return s;
      }),
    });
    const structure = c.make(scores);
    const r = estimators.sparseMarginalization().step(structure, linear);
    const mu = structure.sparsemap().marginals;
    expectClose(r.loss, linear(mu).loss, 1e-9, 1e-12);
    expectClose(r.gradScores.data, structure.sparsemapBackward(c0).data, 1e-8, 1e-10);
    r.weights.reduce((acc, w) => acc.map((a, b) => a + w[b]), new Float64Array(B)).forEach((total) => expect(total).toBeCloseTo(1, 12));
  });

  test('sparse marginalization: a nonlinear loss matches finite differences of Σ_z ξ_z L(z)', () => {
    const total = (x: Float64Array) => [estimators.sparseMarginalization().step(c.make(new Tensor(x, c.shape)), loss.decoder).loss.reduce((a, v) => a + v, 0)];
    const key = (x: Float64Array) => {
      const { support } = c.make(new Tensor(x, c.shape)).sparsemap() as unknown as { support: unknown };
      return JSON.stringify(support, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : v));
    };
    const x = scores.data as Float64Array;
    const r = estimators.sparseMarginalization().step(c.make(scores), loss.decoder);
    const { grad, stable } = stableFiniteDifferenceVjp((v) => ({ values: total(v), key: key(v) }), x, [1], 1e-6);
    expect(stable.filter((s) => s).length).toBeGreaterThan(x.length / 2);
    expectClose(r.gradScores.data.filter((_, i) => stable[i]), grad.filter((_, i) => stable[i]), 1e-5, 1e-6);
  });
});

describe('exact marginalization and REBAR (Categorical)', () => {
  const c = latentCases[0];
  const random = rng(77);
  const scores = randomTensor([3, 4], random, 1.5);
  const cat = { ...c, shape: [3, 4] };
  const loss = quadraticLoss(randomTensor([3, 4], random).data as Float64Array, 3, 0.2, 5);
  const exact = batchExpectedLoss(cat, scores, loss);

  test('exact marginalization equals the enumerated E_p[L] and gradient', () => {
    const r = estimators.exactMarginalization().step(new Categorical(scores), loss.decoder);
    expectClose(r.loss, exact.value, 1e-12);
    expectClose(r.gradScores.data, exact.grad, 1e-10, 1e-13);
    expect(r.samples).toHaveLength(4);
    expectClose(r.weights.map((w) => w[0]), new Categorical(scores).marginals().data.subarray(0, 4), 1e-12);
  });

  test('exact marginalization ignores masked classes and needs enumerate()', () => {
    const masked = new Tensor(Float64Array.from(scores.data, (v, i) => (i % 4 === 1 ? -Infinity : v)), [3, 4]);
    const r = estimators.exactMarginalization().step(new Categorical(masked), loss.decoder);
    const e = batchExpectedLoss(cat, masked, loss);
    expectClose(r.loss, e.value, 1e-12);
    expectClose(r.gradScores.data, e.grad, 1e-10, 1e-13);
    expect(errorCode(() => estimators.exactMarginalization().step(new TreeCRF(randomTensor([1, 3, 3], random)), loss.decoder))).toBe(
      'TypeError:ERR_INVALID_ARG_TYPE',
    );
  });

  test('REBAR is unbiased', () => {
    const { grads, losses } = gradients(estimators.rebar({ temperature: 0.5, seed: 3 }), new Categorical(scores), loss.decoder, 3000);
    expectUnbiased(grads, exact.grad);
    expectUnbiased(losses, exact.value);
  });

  test('the conditional noise of gumbelPair is the conditional law: its argmax is the sample, its VJP matches differences', () => {
    const pair = new Categorical(scores).gumbelPair({ seed: 5 });
    const argmaxOf = (t: Tensor, b: number) => {
      const row = Array.from(t.data.subarray(b * 4, b * 4 + 4));
      return row.indexOf(Math.max(...row));
    };
    for (let b = 0; b < 3; b++) expect(argmaxOf(pair.conditional, b)).toBe(argmaxOf(pair.perturbed, b));
    const w = randomTensor([3, 4], random).data;
    const fd = finiteDifferenceVjp((x) => new Categorical(new Tensor(x, [3, 4])).gumbelPair({ seed: 5 }).conditional.data, scores.data as Float64Array, w);
    expectClose(pair.conditionalBackward(new Tensor(Float64Array.from(w), [3, 4])).data, fd, 1e-6, 1e-8);
    expect(errorCode(() => estimators.rebar().step(new TreeCRF(randomTensor([1, 3, 3], random)), loss.decoder))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('variance falls with each baseline, and REBAR lowers it further (measured)', () => {
    const structure = new Categorical(scores);
    const variance = (estimator: estimators.Estimator) => moments(gradients(estimator, structure, loss.decoder, 2000).grads).totalVariance;
    const none = variance(estimators.reinforce({ samples: 2, seed: 1 }));
    const average = variance(estimators.reinforce({ samples: 2, baseline: 'movingAverage', seed: 1 }));
    const leaveOneOut = variance(estimators.reinforce({ samples: 2, baseline: 'leaveOneOut', seed: 1 }));
    const single = variance(estimators.reinforce({ samples: 1, seed: 1 }));
    const rebar = variance(estimators.rebar({ seed: 1 }));
    const report = { none, average, leaveOneOut, single, rebar };
    expect(average).toBeLessThan(none / 4);
    expect(leaveOneOut).toBeLessThan(none / 4);
    expect(rebar).toBeLessThan(single / 4);
    if (process.env.LATENT_STRUCT_REPORT) console.log(report);
  });
});

describe('REINFORCE options and masks', () => {
  test('bad options are typed errors', () => {
    expect(errorCode(() => estimators.reinforce({ samples: 0 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.reinforce({ samples: 1, baseline: 'leaveOneOut' }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.reinforce({ baseline: 'mean' as never }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.reinforce({ decay: 1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.reinforce({ entropyBonus: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => estimators.rebar({ eta: NaN }))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });

  test('−inf masks and large scores: finite gradients, zero on forbidden parts, unbiased with the entropy bonus', () => {
    const random = rng(31);
    const c = latentCases[2];
    const data = Float64Array.from(randomTensor(c.shape, random, 1).data);
    data[1] = -Infinity; // span (0, 1) of sentence 0 is forbidden
    data[9 + 0] += 1000; // a large score on a part every tree uses
    const scores = new Tensor(data, c.shape);
    const loss = quadraticLoss(randomTensor(c.shape, random).data as Float64Array, 2, 0, 1);
    const exact = batchExpectedLoss(c, scores, loss);
    const beta = 0.5;
    const block = 9;
    const entropyGrad = Float64Array.from({ length: 18 }, () => 0);
    for (let b = 0; b < 2; b++) {
      const finite = Float64Array.from(data.subarray(b * block, (b + 1) * block), (v) => (v === -Infinity ? 0 : v));
      covarianceProduct(c.distribution(scores, b), finite).forEach((v, q) => (entropyGrad[b * block + q] = beta * v));
    }
    const { grads } = gradients(estimators.reinforce({ samples: 2, baseline: 'leaveOneOut', entropyBonus: beta }), c.make(scores), loss.decoder, 600);
    grads.forEach((g) => {
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g[1]).toBe(0);
    });
    expectUnbiased(grads, Float64Array.from(exact.grad, (v, q) => v + entropyGrad[q]));
  });
});

describe('REINFORCE on a factored LinearChainCRF (parts { unary, transition }, a shared transition)', () => {
  test('is unbiased for the gradient of the unary and of the shared transition', () => {
    const random = rng(61);
    const [B, N, C] = [2, 3, 2];
    const unary = randomTensor([B, N, C], random);
    const transition = randomTensor([C, C], random);
    const lengths = [3, 2];
    const w = randomTensor([B, N * C + C * C], random).data;
    type Parts = { unary: Tensor; transition: Tensor };
    // L_b = (⟨w_b, (unary indicators, transition counts)⟩ − 0.5)² + 2, over the oracle's flat layout.
    const value = (block: ArrayLike<number>, b: number) => {
      let s = 0;
      for (let q = 0; q < block.length; q++) s += w[b * (N * C + C * C) + q] * block[q];
      return (s - 0.5) ** 2 + 2;
    };
    const decoder = (z: Parts) => ({
      loss: Float64Array.from({ length: B }, (_, b) =>
        value([...z.unary.data.subarray(b * N * C, (b + 1) * N * C), ...z.transition.data.subarray(b * C * C, (b + 1) * C * C)], b),
      ),
    });
    const exactUnary = new Float64Array(B * N * C);
    const exactTransition = new Float64Array(C * C);
    for (let b = 0; b < B; b++) {
      const x = oracleChain({ unary, transition }, b, lengths);
      const e = enumerateChain(x);
      e.labellings.forEach((y, k) => {
        const z = new Float64Array(N * C + C * C);
        for (const q of partsOf(x, y)) z[q] += 1;
        const l = value(z, b);
        z.forEach((v, q) => {
          const g = e.probs[k] * l * (v - e.marginals[q]);
          if (q < N * C) exactUnary[b * N * C + q] += g;
          else exactTransition[q - N * C] += g;
        });
      });
    }
    const estimator = estimators.reinforce({ samples: 2, baseline: 'leaveOneOut', seed: 4 });
    const crf = new LinearChainCRF({ unary, transition }, { lengths });
    const draws: Float64Array[] = [];
    for (let s = 0; s < 600; s++) {
      const g = estimator.step(crf, decoder).gradScores;
      expect(g.transition.shape).toEqual([C, C]);
      draws.push(Float64Array.from([...g.unary.data, ...g.transition.data]));
    }
    expectUnbiased(draws, [...exactUnary, ...exactTransition]);
  });
});
