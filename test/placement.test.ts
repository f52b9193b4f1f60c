/** resultToHost: what a `{ device: 'cuda' }` call hands back keeps its shape — tensors, arrays, nested objects. */
import { Tensor } from '../lib';
import { resultToHost } from '../lib/ops/placement';

test('resultToHost keeps arrays as arrays and host tensors and typed arrays as they are', () => {
  const t = new Tensor(new Float64Array([1, 2]), [2]);
  const heads = new Int32Array([0, 1]);
  const result = resultToHost({ marginals: t, support: [[heads], [heads, heads]], converged: [true, false], iterations: new Int32Array([3, 4]), name: 'x' });
  expect(Array.isArray(result.support)).toBe(true);
  expect(Array.isArray(result.support[1])).toBe(true);
  expect(result.support[1][1]).toBe(heads);
  expect(result.converged).toEqual([true, false]);
  expect(Array.isArray(result.converged)).toBe(true);
  expect(result.marginals).toBe(t);
  expect(result.iterations).toBeInstanceOf(Int32Array);
  expect(result.name).toBe('x');
});
