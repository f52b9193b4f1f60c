/**
 * Categorical building blocks on every available backend: float64 against the enumeration oracle (1e-9),
 * backwards against finite differences, float32 against float64, masks, one-class rows, huge scores,
 * long rows, async = sync.
 */
import {
  Categorical,
  Device,
  Tensor,
  argmax,
  argmaxAsync,
  entmax15,
  entmax15Backward,
  entmaxBisect,
  entmaxBisectBackward,
  entropy,
  gumbelSoftmax,
  gumbelSoftmaxBackward,
  logProb,
  logsumexp,
  logsumexpAsync,
  logsumexpBackward,
  softmax,
  softmaxAsync,
  softmaxBackward,
  sparsemax,
  sparsemaxAsync,
  sparsemaxBackward,
  tensor,
} from '../lib';
import { backends, errorMessage, expectClose, finiteDifferenceVjp, randomTensor, rng, toFloat32 } from './helpers';
import { expectedInvalidMessage, invalidRowCases, randomInvalidRows } from './invalid_scores';
import * as oracle from './oracles/categorical';

type RowOp = (scores: Tensor, device: Device) => Tensor;

const normalizers: { name: string; alpha: number; forward: RowOp; backward: (p: Tensor, g: Tensor, d: Device) => Tensor }[] = [
  {
    name: 'softmax',
    alpha: 1,
    forward: (x, device) => softmax(x, { device }),
    backward: (p, g, device) => softmaxBackward(p, g, { device }),
  },
  {
    name: 'sparsemax',
    alpha: 2,
    forward: (x, device) => sparsemax(x, { device }),
    backward: (p, g, device) => sparsemaxBackward(p, g, { device }),
  },
  {
    name: 'entmax15',
    alpha: 1.5,
    forward: (x, device) => entmax15(x, { device }),
    backward: (p, g, device) => entmax15Backward(p, g, { device }),
  },
  ...[1.25, 1.5, 2, 3].map((alpha) => ({
    name: `entmaxBisect(${alpha})`,
    alpha,
    forward: (x: Tensor, device: Device) => entmaxBisect(x, alpha, { device }),
    backward: (p: Tensor, g: Tensor, device: Device) => entmaxBisectBackward(p, g, alpha, { device }),
  })),
];

/** Rows exercising the edge cases: masks, a single class, ties, huge magnitudes. */
function edgeCaseRows(): { rows: number[][]; label: string }[] {
  return [
    { label: 'masked', rows: [[0.3, -Infinity, 1.2, -0.5], [-Infinity, -Infinity, 2, -Infinity]] },
    { label: 'ties', rows: [[1, 1, 1, 1], [0, 2, 2, -1]] },
    { label: 'scores of ±1e4', rows: [[1e4, -1e4, 9999.5, 0], [-1e4, -1e4 + 0.25, -1e4 - 3, -1e4 + 0.5]] },
    { label: 'scores of ±1e3', rows: [[1e3, 999.9, -1e3, 1e3 - 0.7], [-1e3, -999, -998.5, -1e3]] },
  ];
}

describe.each(backends)('Categorical building blocks on %s', (device) => {
  const random = rng(17);

  describe.each(normalizers)('$name', ({ alpha, forward, backward }) => {
    test('float64 matches the oracle (1e-9), sums to 1, with mixed sizes', () => {
      for (const [B, K] of [[1, 1], [3, 2], [4, 7], [2, 33], [5, 100]]) {
        const x = randomTensor([B, K], random, 2);
        const p = forward(x, device);
        expectClose(p.data, oracle.mapRows(x.data, K, (row) => oracle.entmax(row, alpha)), 1e-9, 1e-12);
        for (let b = 0; b < B; b++) {
          const row = Array.from(p.data.subarray(b * K, (b + 1) * K));
          expect(Math.abs(row.reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-12);
          expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
        }
      }
    });

    test.each(edgeCaseRows())('$label rows are finite and exact', ({ rows }) => {
      const K = rows[0].length;
      const x = tensor(Float64Array.from(rows.flat()), [rows.length, K]);
      const p = forward(x, device);
      expect(p.data.every(Number.isFinite)).toBe(true);
      expectClose(p.data, oracle.mapRows(x.data, K, (row) => oracle.entmax(row, alpha)), 1e-9, 1e-12);
      rows.flat().forEach((v, i) => {
        if (v === -Infinity) expect(p.data[i]).toBe(0);
      });
    });

    test('backward matches finite differences', () => {
      for (const [B, K] of [[2, 5], [3, 9]]) {
        const x = randomTensor([B, K], random, 1.5);
        const g = randomTensor([B, K], random);
        const p = forward(x, device);
        const vjp = backward(p, g, device);
        const numeric = finiteDifferenceVjp((v) => forward(new Tensor(v, [B, K]), device).data, x.data as Float64Array, g.data);
        expectClose(vjp.data, numeric, 1e-5, 1e-7);
      }
    });

    test('float32 matches float64 (1e-4) at random sizes', () => {
      for (let trial = 0; trial < 4; trial++) {
        const B = 1 + Math.floor(random() * 6);
        const K = 1 + Math.floor(random() * 300);
        const x = randomTensor([B, K], random, 3);
        const p64 = forward(x, device);
        const p32 = forward(toFloat32(x), device);
        expect(p32.dtype).toBe('float32');
        expectClose(p32.data, p64.data, 1e-4, 1e-6);
        const g = randomTensor([B, K], random);
        expectClose(backward(p32, toFloat32(g), device).data, backward(p64, g, device).data, 1e-3, 1e-5);
      }
    });

    test('long rows (K = 100000)', () => {
      const x = randomTensor([2, 100000], random, 2);
      const p = forward(x, device);
      expectClose(p.data, oracle.mapRows(x.data, 100000, (row) => oracle.entmax(row, alpha)), 1e-9, 1e-13);
    });
  });

  test('logsumexp and entropy match enumeration, with masks, one class and huge scores', () => {
    const cases = [randomTensor([6, 5], random, 3), ...edgeCaseRows().map(({ rows }) => tensor(Float64Array.from(rows.flat()), [rows.length, rows[0].length])), tensor(new Float64Array([4.5, -2]), [2, 1])];
    for (const x of cases) {
      const K = x.shape[1];
      expectClose(logsumexp(x, { device }).data, oracle.perRow(x.data, K, oracle.logPartition), 1e-9, 1e-12);
      expectClose(entropy(x, { device }).data, oracle.perRow(x.data, K, oracle.entropy), 1e-9, 1e-12);
      expect(entropy(x, { device }).data.every((h) => h >= 0)).toBe(true);
    }
  });

  test('logsumexp backward = grad · softmax, and matches finite differences', () => {
    const x = randomTensor([3, 6], random, 2);
    const g = randomTensor([3], random);
    const vjp = logsumexpBackward(x, g, { device });
    const numeric = finiteDifferenceVjp((v) => logsumexp(new Tensor(v, [3, 6]), { device }).data, x.data as Float64Array, g.data);
    expectClose(vjp.data, numeric, 1e-6, 1e-8);
    const p = softmax(x, { device });
    expectClose(vjp.data, Array.from(p.data, (v, i) => v * g.data[Math.floor(i / 6)]), 1e-12, 1e-15);
  });

  test('argmax is the first maximum, one-hot', () => {
    const x = tensor(Float64Array.from([0, 3, 3, -Infinity, -Infinity, -Infinity, -Infinity, -1, 5, 1, 1, 5]), [3, 4]);
    const { index, onehot } = argmax(x, { device });
    expect(Array.from(index)).toEqual([1, 3, 0]);
    expect(Array.from(onehot.data)).toEqual([0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
    const r = randomTensor([7, 13], random);
    expect(Array.from(argmax(r, { device }).index)).toEqual(oracle.perRow(r.data, 13, oracle.argmax));
  });

  test('logProb = score − logZ for given classes, [S, B]', () => {
    const x = randomTensor([3, 4], random);
    const index = Int32Array.from([0, 1, 2, 3, 3, 0]);
    const lp = logProb(x, index, { device });
    expect(lp.shape).toEqual([2, 3]);
    const logZ = oracle.perRow(x.data, 4, oracle.logPartition);
    expectClose(lp.data, Array.from(index, (k, i) => x.data[(i % 3) * 4 + k] - logZ[i % 3]), 1e-12, 1e-14);
  });

  test('gumbelSoftmax backward matches finite differences at fixed noise', () => {
    const x = randomTensor([2, 6], random);
    const g = randomTensor([2, 6], random);
    const temperature = 0.7;
    const y = gumbelSoftmax(x, { temperature, seed: 5, device });
    const vjp = gumbelSoftmaxBackward(y, g, temperature, { device });
    const numeric = finiteDifferenceVjp(
      (v) => gumbelSoftmax(new Tensor(v, [2, 6]), { temperature, seed: 5, device }).data,
      x.data as Float64Array,
      g.data,
    );
    expectClose(vjp.data, numeric, 1e-5, 1e-8);
  });

  test('async forms equal the sync forms', async () => {
    const x = randomTensor([4, 50], random);
    const [p, l, s, a] = await Promise.all([
      softmaxAsync(x, { device }),
      logsumexpAsync(x, { device }),
      sparsemaxAsync(x, { device }),
      argmaxAsync(x, { device }),
    ]);
    expect(Array.from(p.data)).toEqual(Array.from(softmax(x, { device }).data));
    expect(Array.from(l.data)).toEqual(Array.from(logsumexp(x, { device }).data));
    expect(Array.from(s.data)).toEqual(Array.from(sparsemax(x, { device }).data));
    expect(Array.from(a.index)).toEqual(Array.from(argmax(x, { device }).index));
  });
});

describe('Categorical class', () => {
  const random = rng(3);

  test.each(backends)('building blocks agree with enumeration on %s', (device) => {
    const x = tensor(Float64Array.from([0.5, -1, 2, -Infinity, 1, 1, 0, 3]), [2, 4]);
    const dist = new Categorical(x, { device });
    expectClose(dist.logPartition().toHost().data, oracle.perRow(x.data, 4, oracle.logPartition), 1e-12);
    expectClose(dist.marginals().toHost().data, oracle.mapRows(x.data, 4, oracle.probabilities), 1e-12, 1e-15);
    expectClose(dist.entropy().toHost().data, oracle.perRow(x.data, 4, oracle.entropy), 1e-12);
    expect(Array.from(dist.argmax().toHost().data)).toEqual([0, 0, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(dist.argmaxDecoded().index)).toEqual([2, 3]);
    const lp = dist.logProb(dist.argmax());
    expect(lp.shape).toEqual([2]);
    const logZ = oracle.perRow(x.data, 4, oracle.logPartition);
    expectClose(lp.toHost().data, [2 - logZ[0], 3 - logZ[1]], 1e-12);
    dist.dispose();
  });

  test('marginalsBackward is the Hessian-vector product of logZ (finite differences of the marginals)', () => {
    const x = randomTensor([3, 5], random);
    const g = randomTensor([3, 5], random);
    const hvp = new Categorical(x).marginalsBackward(g);
    const numeric = finiteDifferenceVjp((v) => softmax(new Tensor(v, [3, 5])).data, x.data as Float64Array, g.data);
    expectClose(hvp.data, numeric, 1e-6, 1e-9);
  });

  test('sparsemap is sparsemax with its support and weights', () => {
    const x = tensor(Float64Array.from([1, 0.9, -2, 0.1, 3, -Infinity]), [2, 3]);
    const result = new Categorical(x).sparsemap();
    expectClose(result.marginals.data, oracle.mapRows(x.data, 3, (row) => oracle.entmax(row, 2)), 1e-12, 1e-15);
    expect(result.support.map((s) => Array.from(s))).toEqual([[0, 1], [1]]);
    result.weights.forEach((w) => expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12));
    expect(result.converged).toEqual([true, true]);
    const g = randomTensor([2, 3], random);
    expectClose(new Categorical(x).sparsemapBackward(g).data, sparsemaxBackward(result.marginals, g).data, 1e-15);
  });

  test('logProb of sampled one-hots, [S, B]', () => {
    const x = randomTensor([2, 3], random);
    const dist = new Categorical(x);
    const samples = dist.sample(4, { seed: 9 });
    expect(samples.shape).toEqual([4, 2, 3]);
    const lp = dist.logProb(samples);
    expect(lp.shape).toEqual([4, 2]);
    const decoded = dist.sampleDecoded(4, { seed: 9 });
    expectClose(lp.data, dist.logProb(decoded.index).data, 0);
  });
});

describe('invalid scores on cpu', () => {
  test('the error names the first bad row, its first NaN or +inf, else the row with no finite entry', () => {
    for (const { label, scores } of invalidRowCases()) {
      const expected = expectedInvalidMessage(scores);
      for (const x of [scores, toFloat32(scores)]) {
        const got = errorMessage(() => logsumexp(x, { device: 'cpu' }));
        expect(`${label}: ${got.slice(0, expected.length)}`).toBe(`${label}: ${expected}`);
        expect(errorMessage(() => softmax(x, { device: 'cpu' }))).toBe(got);
      }
    }
    const random = rng(31);
    for (let trial = 0; trial < 200; trial++) {
      const x = randomInvalidRows(1 + Math.floor(random() * 4), 1 + Math.floor(random() * 70), random);
      const expected = expectedInvalidMessage(x);
      expect(errorMessage(() => logsumexp(x, { device: 'cpu' })).slice(0, expected.length)).toBe(expected);
    }
  });
});
