/**
 * Gumbel noise and sampling: Philox known answers, determinism by seed, Gumbel moments, and chi-square
 * tests of Gumbel-max samples (and perturb-and-MAP with a temperature) against the exact distribution.
 */
import { Categorical, gumbelMax, gumbelNoise, ops, softmax, tensor } from '../lib';
import { backends, chiSquarePValue, chiSquareQuantileCheck, randomTensor, rng } from './helpers';
import * as oracle from './oracles/categorical';

test('the chi-square machinery reproduces known quantiles', () => {
  const [one, ten] = chiSquareQuantileCheck();
  expect(one).toBeCloseTo(0.05, 3);
  expect(ten).toBeCloseTo(0.05, 3);
  expect(chiSquarePValue([500, 500], [0.5, 0.5])).toBeCloseTo(1, 6);
  expect(chiSquarePValue([900, 100], [0.5, 0.5])).toBeLessThan(1e-10);
});

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  expect(Array.from(ops.philox4x32(new Uint32Array([0, 0, 0, 0]), 0n))).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  const ones = 0xffffffff;
  expect(Array.from(ops.philox4x32(new Uint32Array([ones, ones, ones, ones]), 0xffffffffffffffffn))).toEqual([
    0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
  ]);
  expect(
    // key words (k0, k1) = (0xa4093822, 0x299f31d0) as one 64-bit key k0 + 2^32 k1
    Array.from(ops.philox4x32(new Uint32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344]), 0x299f31d0_a4093822n)),
  ).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

describe.each(backends)('Gumbel on %s', (device) => {
  test('noise is deterministic in (seed, stream) and has Gumbel moments', () => {
    const a = gumbelNoise([200000], { seed: 7, device, dtype: 'float64' }).toHost();
    const b = gumbelNoise([200000], { seed: 7, device, dtype: 'float64' }).toHost();
    const c = gumbelNoise([200000], { seed: 7, stream: 1, device, dtype: 'float64' }).toHost();
    expect(Array.from(a.data.subarray(0, 100))).toEqual(Array.from(b.data.subarray(0, 100)));
    expect(a.data[0]).not.toBe(c.data[0]);
    const values = Array.from(a.data);
    const n = values.length;
    const mean = values.reduce((s, v) => s + v, 0) / n;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    // Gumbel(0, 1): mean = Euler–Mascheroni γ, variance π²/6; 5 standard errors.
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(5 * Math.sqrt(Math.PI ** 2 / 6 / n));
    expect(Math.abs(variance - Math.PI ** 2 / 6)).toBeLessThan(0.03);
    expect(a.data.every(Number.isFinite)).toBe(true);
  });

  test('float32 noise is float64 noise rounded', () => {
    const f64 = gumbelNoise([1000], { seed: 3, device, dtype: 'float64' }).toHost();
    const f32 = gumbelNoise([1000], { seed: 3, device, dtype: 'float32' }).toHost();
    expect(Array.from(f32.data)).toEqual(Array.from(Float32Array.from(f64.data)));
  });

  test('Gumbel-max samples pass a chi-square test against softmax', () => {
    const scores = tensor(Float64Array.from([1.5, 0.2, -0.7, 0.9, -Infinity, 0, -2, 2.2, -0.3, 0.4, 1, 1]), [2, 6]);
    const samples = 20000;
    const { index, onehot } = gumbelMax(scores, { samples, seed: 11, device });
    expect(onehot.shape).toEqual([samples, 2, 6]);
    for (let b = 0; b < 2; b++) {
      const counts = new Array<number>(6).fill(0);
      for (let s = 0; s < samples; s++) counts[index[s * 2 + b]]++;
      const p = oracle.probabilities(Array.from(scores.data.subarray(b * 6, b * 6 + 6)));
      expect(chiSquarePValue(counts, p)).toBeGreaterThan(1e-3);
    }
    expect(Array.from(index).every((k, i) => i % 2 !== 0 || k !== 4)).toBe(true); // the masked class never wins
  });

  test('perturb-and-MAP with temperature τ samples softmax(scores / τ); a wrong τ fails the test', () => {
    const scores = tensor(Float64Array.from([1, 0.5, -0.5, 0]), [1, 4]);
    const dist = new Categorical(scores, { device });
    const counts = new Array<number>(4).fill(0);
    for (let seed = 0; seed < 4000; seed++) {
      const z = dist.perturbAndMap({ seed, temperature: 2 }).toHost();
      counts[z.data.indexOf(1)]++;
    }
    const tempered = oracle.probabilities([0.5, 0.25, -0.25, 0]);
    expect(chiSquarePValue(counts, tempered)).toBeGreaterThan(1e-3);
    expect(chiSquarePValue(counts, oracle.probabilities([1, 0.5, -0.5, 0]))).toBeLessThan(1e-3);
    dist.dispose();
  });

  test('Categorical.sample frequencies match the marginals at random scores', () => {
    const random = rng(23);
    const scores = randomTensor([3, 5], random);
    const dist = new Categorical(scores, { device });
    const { index } = dist.sampleDecoded(20000, { seed: 99 });
    const marginals = softmax(scores).data;
    for (let b = 0; b < 3; b++) {
      const counts = new Array<number>(5).fill(0);
      for (let s = 0; s < 20000; s++) counts[index[s * 3 + b]]++;
      expect(chiSquarePValue(counts, Array.from(marginals.subarray(b * 5, b * 5 + 5)))).toBeGreaterThan(1e-3);
    }
    dist.dispose();
  });
});
