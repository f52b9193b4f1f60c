/**
 * CUDA/CPU parity of kl, crossEntropy, count and their gradients (issue 21) for every structure of the estimator
 * table, the factored chain with a shared transition and the HMM: with DeviceTensor scores (results computed
 * where the scores live, only O(B) scalars crossing) the values and gradients equal the host ones, in float64
 * and float32, with −Infinity masks (including the +Infinity case); the async forms equal the sync ones. Skips, saying so, when no GPU is usable.
 */
import { AnyTensor, DeviceTensor, DivergenceGrad, HMM, HMMParams, LinearChainCRF, Tensor } from '../../lib';
import { expectClose, randomTensor, rng, toFloat32 } from '../helpers';
import { latentCases } from '../oracles/latent';
import { native } from '../../lib/native';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('divergence parity');

interface Divergent {
  kl(other: Divergent): Float64Array;
  crossEntropy(other: Divergent): Float64Array;
  klBackward(other: Divergent, grad: ArrayLike<number>): DivergenceGrad<unknown>;
  crossEntropyBackward(other: Divergent, grad: ArrayLike<number>): DivergenceGrad<unknown>;
  count(): Float64Array;
  klAsync(other: Divergent): Promise<Float64Array>;
  crossEntropyAsync(other: Divergent): Promise<Float64Array>;
  dispose?(): void;
}

/** The host leaves of a gradient (one tensor or named tensors), in name order; device tensors copied and freed. */
function leaves(g: unknown): Tensor[] {
  const list = g instanceof Tensor || g instanceof DeviceTensor ? [g] : Object.keys(g as object).sort().map((k) => (g as Record<string, AnyTensor>)[k]);
  return list.map((t) => {
    if (!(t instanceof DeviceTensor)) return t as Tensor;
    const host = t.toHost();
    t.dispose();
    return host;
  });
}

const weights = [0.7, -1.3];

/** Every divergence of (p, q) on the host equals the device's, with the device results on the device. */
async function expectParity(host: [Divergent, Divergent], device: [Divergent, Divergent], float32: boolean): Promise<void> {
  const [rtol, atol] = float32 ? [2e-4, 2e-5] : [1e-9, 1e-11];
  const [p, q] = host;
  const [dp, dq] = device;
  expectClose(dp.kl(dq), p.kl(q), rtol, atol);
  expectClose(dp.crossEntropy(dq), p.crossEntropy(q), rtol, atol);
  expectClose(dp.count(), p.count(), float32 ? rtol : 1e-12, float32 ? atol : 1e-12);
  expect(Array.from(dp.kl(dp))).toEqual(new Array(weights.length).fill(0));
  expect(await dp.klAsync(dq)).toEqual(dp.kl(dq));
  expect(await dp.crossEntropyAsync(dq)).toEqual(dp.crossEntropy(dq));
  for (const which of ['klBackward', 'crossEntropyBackward'] as const) {
    const g = p[which](q, weights);
    const dg = dp[which](dq, weights);
    for (const side of ['self', 'other'] as const) {
      const [expected, got] = [leaves(g[side]), leaves(dg[side])];
      expect(got.length).toBe(expected.length);
      got.forEach((t, i) => {
        expect(t.shape).toEqual(expected[i].shape);
        expectClose(t.data, expected[i].data, rtol, atol);
      });
    }
  }
}

/** t with −Infinity at flat entry q. */
function masked(t: Tensor, q: number): Tensor {
  const data = Float64Array.from(t.data);
  data[q] = -Infinity;
  return new Tensor(data, t.shape);
}

describeGpu('divergences on CUDA equal the CPU', () => {
  test.each(latentCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const random = rng(77);
    const [sp, sq] = [randomTensor(c.shape, random), randomTensor(c.shape, random)];
    // An entry that p uses with probability in (0, 1): masked in both (contributes nothing) or in q only (+Infinity).
    const m = c.make(sp).marginals().data;
    const e = Array.from(m).findIndex((v) => v > 1e-6 && v < 1 - 1e-6);
    const pairs: [Tensor, Tensor][] = [
      [sp, sq],
      [masked(sp, e), masked(sq, e)],
      [sp, masked(sq, e)],
    ];
    for (const [a, b] of pairs) {
      for (const float32 of [false, true]) {
        const [x, y] = float32 ? [toFloat32(a), toFloat32(b)] : [a, b];
        const [dx, dy] = [x.toDevice(), y.toDevice()];
        await expectParity([c.make(x) as unknown as Divergent, c.make(y) as unknown as Divergent], [c.make(dx as unknown as Tensor) as unknown as Divergent, c.make(dy as unknown as Tensor) as unknown as Divergent], float32);
        dx.dispose();
        dy.dispose();
      }
    }
  });

  test('LinearChainCRF, factored with a shared transition', async () => {
    const random = rng(78);
    const [B, N, C] = [2, 4, 3];
    const lengths = [4, 2];
    const make = (u: AnyTensor, t: AnyTensor) => new LinearChainCRF({ unary: u, transition: t }, { lengths }) as unknown as Divergent;
    const [up, tp, uq, tq] = [randomTensor([B, N, C], random), randomTensor([C, C], random), randomTensor([B, N, C], random), randomTensor([C, C], random)];
    const device = [up, tp, uq, tq].map((t) => t.toDevice());
    await expectParity([make(up, tp), make(uq, tq)], [make(device[0], device[1]), make(device[2], device[3])], false);
    device.forEach((t) => t.dispose());
  });

  test('HMM', async () => {
    const random = rng(79);
    const [B, N, C, V] = [2, 4, 3, 5];
    const params = (): HMMParams<Tensor> => ({ transition: randomTensor([C, C], random), emission: randomTensor([V, C], random), init: randomTensor([C], random) });
    const [pp, pq] = [params(), params()];
    const onDevice = (p: HMMParams<Tensor>): HMMParams<DeviceTensor> => ({ transition: p.transition.toDevice(), emission: p.emission.toDevice(), init: p.init.toDevice() });
    const obs = { data: Int32Array.from({ length: B * N }, () => Math.floor(random() * V)), shape: [B, N] as [number, number] };
    const make = (p: HMMParams) => new HMM(p, obs, { lengths: [4, 1] }) as unknown as Divergent;
    const [dp, dq] = [onDevice(pp), onDevice(pq)];
    await expectParity([make(pp), make(pq)], [make(dp), make(dq)], false);
    for (const p of [dp, dq]) Object.values(p).forEach((t) => t.dispose());
  });

  test('nothing stays on the device but the returned gradients (the repeated shared transition is freed)', async () => {
    const random = rng(80);
    const [u, t] = [randomTensor([2, 4, 3], random).toDevice(), randomTensor([3, 3], random).toDevice()];
    const p = new LinearChainCRF({ unary: u, transition: t }) as unknown as Divergent;
    const hp = { transition: randomTensor([3, 3], random).toDevice(), emission: randomTensor([5, 3], random).toDevice(), init: randomTensor([3], random).toDevice() };
    const h = new HMM(hp, [[0, 1, 2, 3], [4, 3, 2, 1]]) as unknown as Divergent;
    const before = native.cudaMemoryInUse();
    for (const s of [p, h]) {
      s.kl(s);
      s.crossEntropy(s);
      s.count();
      await s.klAsync(s);
      for (const g of [s.klBackward(s, weights), s.crossEntropyBackward(s, weights)]) leaves(g.self).concat(leaves(g.other));
    }
    // A leak grows the memory in use; finalizers of earlier suites' garbage (same worker) may free some meanwhile.
    expect(native.cudaMemoryInUse()).toBeLessThanOrEqual(before);
    [u, t, ...Object.values(hp)].forEach((x) => x.dispose());
  });
});
