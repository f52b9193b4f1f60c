/**
 * The CPU kernels of the estimators' parts arithmetic (cpp/cpu/parts_ops.cc through lib/estimators/parts.ts)
 * against plain JS loops in float64: per-instance combinations (zero coefficients skipping −Infinity entries),
 * per-instance dots over z ≠ 0, finite parts, masks, rows of stacked parts and one-hot parts, in float32 and
 * float64, for one tensor and for named tensors.
 */
import { Categorical, Tensor, gumbelNoise } from '../lib';
import { combine, finitePart, masked, oneHotParts, row, scoreOf, subtract, sum } from '../lib/estimators/parts';
import { native } from '../lib/native';
import { errorCode, expectClose, randomTensor, rng, toFloat32 } from './helpers';

/** A copy of t with −Infinity at every entry where random() < p. */
function withMinusInfinity(t: Tensor, random: () => number, p: number): Tensor {
  return new Tensor(Float64Array.from(t.data, (v) => (random() < p ? -Infinity : v)), t.shape);
}

/** Σ_t coef_t[b] · x_t[b, ...] in float64, skipping zero coefficients (the loops parts.ts used to run). */
function plainCombine(terms: { coef: number | Float64Array; parts: Tensor }[], size: number, batch: number): Float64Array {
  const out = new Float64Array(size);
  const stride = size / batch;
  for (const { coef, parts } of terms) {
    for (let b = 0; b < batch; b++) {
      const c = typeof coef === 'number' ? coef : coef[b];
      if (c === 0) continue;
      for (let q = b * stride; q < (b + 1) * stride; q++) out[q] += c * parts.data[q];
    }
  }
  return out;
}

describe('parts ops (CPU kernels) match plain JS', () => {
  const random = rng(20);
  const B = 3;
  const shape = [B, 4, 5];

  test.each(['float64', 'float32'] as const)('combine with per-instance and scalar coefficients (%s)', (dtype) => {
    const cast = (t: Tensor): Tensor => (dtype === 'float32' ? toFloat32(t) : t);
    const a = cast(randomTensor(shape, random, 2));
    const b = cast(withMinusInfinity(randomTensor(shape, random, 2), random, 0.3));
    const c = cast(randomTensor(shape, random, 2));
    const coefB = new Float64Array([0.5, 0, -1.25]); // instance 1 skips b, whose −Infinity entries must not leak
    const terms = [
      { coef: 1.5, parts: a },
      { coef: coefB, parts: b },
      { coef: new Float64Array([2, -3, 0.25]), parts: c },
    ];
    const result = combine(a, terms) as Tensor;
    expect(result.dtype).toBe(dtype);
    expect(result.shape).toEqual(shape);
    const expected = plainCombine(terms, a.size, B);
    expect(Array.from(result.data)).toEqual(Array.from(dtype === 'float32' ? Float32Array.from(expected) : expected));
  });

  test('a zero coefficient skips −Infinity entries', () => {
    const a = randomTensor([2, 3], random);
    const b = new Tensor(new Float64Array([-Infinity, 1, 2, 3, -Infinity, 5]), [2, 3]);
    const result = combine(a, [
      { coef: 1, parts: a },
      { coef: new Float64Array([0, 0]), parts: b },
    ]) as Tensor;
    expect(Array.from(result.data)).toEqual(Array.from(a.data));
    expect(Array.from((subtract(a, a) as Tensor).data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from((sum(a, a) as Tensor).data)).toEqual(Array.from(a.data, (v) => 2 * v));
  });

  test('named parts combine leaf by leaf', () => {
    const z = { unary: randomTensor([2, 3, 2], random), transition: randomTensor([2, 2, 2], random) };
    const w = { unary: randomTensor([2, 3, 2], random), transition: randomTensor([2, 2, 2], random) };
    const coef = new Float64Array([2, -1]);
    const result = combine(z, [{ coef: 1, parts: z }, { coef, parts: w }]);
    for (const key of ['unary', 'transition'] as const) {
      const expected = plainCombine([{ coef: 1, parts: z[key] }, { coef, parts: w[key] }], z[key].size, 2);
      expect(Array.from((result[key] as Tensor).data)).toEqual(Array.from(expected));
    }
  });

  test.each(['float64', 'float32'] as const)('scoreOf: per-instance dots over z ≠ 0 (%s)', (dtype) => {
    const cast = (t: Tensor): Tensor => (dtype === 'float32' ? toFloat32(t) : t);
    const z = cast(new Tensor(Float64Array.from({ length: B * 20 }, () => (random() < 0.5 ? 0 : random())), shape));
    const scores = cast(withMinusInfinity(randomTensor(shape, random), random, 0.2));
    const masked0 = new Tensor(Float64Array.from(z.data, (v, q) => (scores.data[q] === -Infinity ? 0 : v)), shape);
    const zz = cast(masked0);
    const dots = scoreOf(zz, scores, B);
    const expected = new Float64Array(B);
    for (let b = 0; b < B; b++) for (let q = b * 20; q < (b + 1) * 20; q++) if (zz.data[q] !== 0) expected[b] += zz.data[q] * scores.data[q];
    expect(Array.from(dots)).toEqual(Array.from(expected));
  });

  test('finitePart, masked, row and one-hot parts', () => {
    const x = withMinusInfinity(randomTensor(shape, random), random, 0.3);
    expect(Array.from((finitePart(x) as Tensor).data)).toEqual(Array.from(x.data, (v) => (v === -Infinity ? 0 : v)));
    const y = randomTensor(shape, random);
    expect(Array.from((masked(y, x) as Tensor).data)).toEqual(Array.from(y.data, (v, q) => (x.data[q] === -Infinity ? -Infinity : v)));
    const stacked = randomTensor([3, 2, 5], random);
    for (let s = 0; s < 3; s++) {
      const r = row(stacked, s) as Tensor;
      expect(r.shape).toEqual([2, 5]);
      expect(Array.from(r.data)).toEqual(Array.from(stacked.data.subarray(s * 10, (s + 1) * 10)));
    }
    const like = toFloat32(randomTensor([1], random));
    const onehot = oneHotParts(like, new Int32Array([0, 7, 7, 11]), [3, 4]) as Tensor;
    expect(onehot.dtype).toBe('float32');
    expect(Array.from(onehot.data)).toEqual([1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(errorCode(() => oneHotParts(like, new Int32Array([12]), [3, 4]))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => combine(x, [{ coef: 1, parts: randomTensor([2, 2], random) }]))).toBe('RangeError:ERR_SHAPE_MISMATCH');
  });

  test('REBAR\'s Gumbel pair and its VJP (native rows) match the plain JS formulas', () => {
    const [B, K] = [3, 6];
    const scores = withMinusInfinity(randomTensor([B, K], random, 2), random, 0.2);
    for (let b = 0; b < B; b++) scores.data[b * K] = 0.5; // every row keeps a finite class
    const seed = 77;
    const theta = scores.data;
    const first = (gumbelNoise([B, K], { seed, dtype: 'float64' }) as Tensor).data;
    const second = (gumbelNoise([B, K], { seed, stream: 1, dtype: 'float64' }) as Tensor).data;
    const logAddExp = (a: number, c: number): number => {
      const top = Math.max(a, c);
      return top === -Infinity ? -Infinity : top + Math.log1p(Math.exp(Math.min(a, c) - top));
    };
    const perturbed = new Float64Array(B * K);
    const conditional = new Float64Array(B * K);
    const grad = randomTensor([B, K], random);
    const vjp = new Float64Array(B * K);
    for (let b = 0; b < B; b++) {
      const o = b * K;
      let k = 0;
      let top = -Infinity;
      for (let i = 0; i < K; i++) {
        perturbed[o + i] = theta[o + i] + first[o + i];
        if (perturbed[o + i] > perturbed[o + k]) k = i;
        top = Math.max(top, theta[o + i]);
      }
      let total = 0;
      for (let i = 0; i < K; i++) total += Math.exp(theta[o + i] - top);
      const maximum = top + Math.log(total) + second[o + k];
      for (let i = 0; i < K; i++) conditional[o + i] = i === k ? maximum : -logAddExp(-(theta[o + i] + second[o + i]), -maximum);
      let shared = grad.data[o + k];
      for (let i = 0; i < K; i++) {
        if (i === k || theta[o + i] === -Infinity) continue;
        const a = 1 / (1 + Math.exp(theta[o + i] + second[o + i] - maximum));
        shared += grad.data[o + i] * (1 - a);
        vjp[o + i] += grad.data[o + i] * a;
      }
      for (let j = 0; j < K; j++) vjp[o + j] += (Math.exp(theta[o + j] - top) / total) * shared;
    }
    const pair = new Categorical(scores).gumbelPair({ seed });
    expectClose(pair.perturbed.data, perturbed, 1e-14, 1e-14);
    expectClose(pair.conditional.data, conditional, 1e-14, 1e-14);
    expectClose(pair.conditionalBackward(grad).data, vjp, 1e-13, 1e-14);
  });

  test.each(['float64', 'float32'] as const)('partsConcatRows joins blocks row by row; partsSliceRows takes one back (%s)', (dtype) => {
    const cast = (t: Tensor): Tensor => (dtype === 'float32' ? toFloat32(t) : t);
    const blocks = [cast(randomTensor([3, 2, 2], random)), cast(randomTensor([3, 5], random)), cast(randomTensor([3, 1], random))];
    const joined = native.partsConcatRows(blocks.map((t) => ({ data: t.data, shape: t.shape })), 3) as Float32Array | Float64Array;
    const expected = [0, 1, 2].flatMap((r) => [...blocks[0].data.slice(r * 4, r * 4 + 4), ...blocks[1].data.slice(r * 5, r * 5 + 5), blocks[2].data[r]]);
    expect(Array.from(joined)).toEqual(expected);
    const middle = native.partsSliceRows({ data: joined, shape: [3, 10] }, 3, 4, 5) as Float32Array | Float64Array;
    expect(Array.from(middle)).toEqual(Array.from(blocks[1].data));
    expect(errorCode(() => native.partsConcatRows([{ data: blocks[1].data, shape: [3, 5] }], 2))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(() => native.partsSliceRows({ data: joined, shape: [3, 10] }, 3, 8, 5))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });

  test('partsTile repeats a shared tensor; partsSumRows sums over the leading dimension (float64 sums)', () => {
    const shared = randomTensor([3, 2], random);
    const tiled = native.partsTile({ data: shared.data, shape: shared.shape }, 4) as Float64Array;
    expect(Array.from(tiled)).toEqual([0, 1, 2, 3].flatMap(() => Array.from(shared.data)));
    const x = toFloat32(randomTensor([5, 3, 2], random));
    const summed = native.partsSumRows({ data: x.data, shape: x.shape }) as Float32Array;
    const expected = Array.from({ length: 6 }, (_, q) => {
      let total = 0;
      for (let r = 0; r < 5; r++) total += x.data[r * 6 + q];
      return Math.fround(total);
    });
    expect(Object.prototype.toString.call(summed)).toBe('[object Float32Array]');
    expect(Array.from(summed)).toEqual(expected);
  });

  test('partsGatherSum adds the member rows of each group in order (float64 sums)', () => {
    const x = randomTensor([5, 3], random);
    const offsets = Int32Array.of(0, 2, 2, 5);
    const members = Int32Array.of(4, 1, 0, 0, 3);
    const out = native.partsGatherSum({ data: x.data, shape: x.shape }, 3, offsets, members) as Float64Array;
    const expected = new Float64Array(9);
    for (let g = 0; g < 3; g++) {
      for (let m = offsets[g]; m < offsets[g + 1]; m++) for (let w = 0; w < 3; w++) expected[g * 3 + w] += x.data[members[m] * 3 + w];
    }
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect(errorCode(() => native.partsGatherSum({ data: x.data, shape: x.shape }, 3, Int32Array.of(0, 1), Int32Array.of(5)))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });

  test('partsSumRowsTransposed sums a stack of matrices and transposes (float64 sums)', () => {
    const x = randomTensor([3, 2, 4], random);
    const out = native.partsSumRowsTransposed({ data: x.data, shape: x.shape }) as Float64Array;
    const expected = new Float64Array(8);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) expected[j * 2 + i] += x.data[(r * 2 + i) * 4 + j];
    expect(Array.from(out)).toEqual(Array.from(expected));
  });
});
