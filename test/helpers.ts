/**
 * Test utilities shared by every suite: seeded randomness, tolerances, finite differences, chi-square, and the
 * name, code and message of a thrown error.
 */
import { backendInfo, Device, Tensor } from '../lib';
import { uniformSource } from '../lib/demo/random';

/** Backends to run each test on: the CPU always, CUDA when a device is usable. */
export const backends: Device[] = backendInfo().cuda.available ? ['cpu', 'cuda'] : ['cpu'];

/** A small deterministic PRNG (mulberry32) for test data: uniforms in [0, 1). */
export function rng(seed: number): () => number {
  return uniformSource(seed);
}

/** A standard normal variate from a uniform source (Box-Muller). */
export function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A float64 tensor of `shape` with entries scale · N(0, 1). */
export function randomTensor(shape: number[], random: () => number, scale = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: size }, () => scale * normal(random)), shape);
}

/** The float32 copy of a tensor. */
export function toFloat32(t: Tensor): Tensor {
  return new Tensor(Float32Array.from(t.data), t.shape);
}

/** Expects |a - b| <= atol + rtol |b| elementwise, reporting the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol = 0): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** `name:code` of the error f throws (`RangeError:ERR_INVALID_SHAPE`), or 'no error'. */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return `${(error as Error).name}:${(error as { code?: string }).code}`;
  }
  return 'no error';
}

/** The message of the error f throws, or 'no error'. */
export function errorMessage(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
}

/**
 * Central finite differences of the scalar ⟨w, f(x)⟩ in every coordinate of x (float64), i.e. the
 * vector-Jacobian product wᵀ J_f(x) that a backward must return.
 */
export function finiteDifferenceVjp(
  f: (x: Float64Array) => ArrayLike<number>,
  x: Float64Array,
  w: ArrayLike<number>,
  h = 1e-6,
): Float64Array {
  const grad = new Float64Array(x.length);
  const dot = (y: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) continue;
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[i] += h;
    minus[i] -= h;
    grad[i] = (dot(f(plus)) - dot(f(minus))) / (2 * h);
  }
  return grad;
}

/** log Γ(x) (Lanczos, g = 7). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (Numerical Recipes, series / continued fraction). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  let b = x + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/**
 * Pearson's chi-square goodness-of-fit p-value of observed counts against expected probabilities. Cells
 * with expected count below 5 are pooled into one cell; a cell observed with probability 0 gives p = 0.
 */
export function chiSquarePValue(counts: ArrayLike<number>, probs: ArrayLike<number>): number {
  const n = Array.from(counts).reduce((a, b) => a + b, 0);
  let statistic = 0;
  let cells = 0;
  let pooledObserved = 0;
  let pooledExpected = 0;
  for (let i = 0; i < probs.length; i++) {
    const expected = n * probs[i];
    if (expected === 0) {
      if (counts[i] > 0) return 0;
      continue;
    }
    if (expected < 5) {
      pooledObserved += counts[i];
      pooledExpected += expected;
      continue;
    }
    statistic += (counts[i] - expected) ** 2 / expected;
    cells++;
  }
  if (pooledExpected > 0) {
    statistic += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
    cells++;
  }
  if (cells < 2) return 1;
  return gammaQ((cells - 1) / 2, statistic / 2);
}

/** Sanity check of the chi-square machinery itself: known quantiles. */
export function chiSquareQuantileCheck(): [number, number] {
  // P(X > 3.841) = 0.05 for 1 dof; P(X > 18.307) = 0.05 for 10 dof.
  return [gammaQ(0.5, 3.841 / 2), gammaQ(5, 18.307 / 2)];
}
