/**
 * CUDA/CPU parity of the LinearChainCRF kernels on random inputs: both forms, float32 and float64, the
 * warp-per-sequence (C ≤ 32) and block-per-sequence (C > 32) paths, mixed lengths, masks; device-resident
 * results; the same samples from the same seed. Skips, saying so, when no GPU is usable.
 */
import * as path from 'node:path';

import { AnyTensor, DeviceTensor, LinearChainCRF, Tensor } from '../../lib';
import { errorCode, errorMessage, expectClose, randomTensor, rng, toFloat32 } from '../helpers';
import { describeFailure, runTypeScript } from '../support/isolated';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('linear-chain parity');

type Potentials = Tensor | { unary: Tensor; transition: Tensor };

function hostValues(x: unknown): number[] {
  if (x instanceof DeviceTensor) {
    const h = x.toHost();
    x.dispose();
    return Array.from(h.data);
  }
  if (x instanceof Tensor) return Array.from(x.data);
  const parts = x as { unary: AnyTensor; transition: AnyTensor };
  return [...hostValues(parts.unary), ...hostValues(parts.transition)];
}

function convert(p: Potentials, f: (t: Tensor) => Tensor): Potentials {
  return p instanceof Tensor ? f(p) : { unary: f(p.unary), transition: f(p.transition) };
}

describeGpu('CUDA LinearChainCRF matches the CPU backend', () => {
  const random = rng(77);
  const cases: [string, number, number, number][] = [
    ['edges', 9, 7, 5],
    ['edges', 3, 12, 40],
    ['shared', 17, 10, 32],
    ['batched', 4, 6, 70],
    ['edges', 5, 2, 1],
  ];

  test.each(cases)('%s B=%i N=%i C=%i', (form, B, N, C) => {
    let p: Potentials =
      form === 'edges'
        ? randomTensor([B, N - 1, C, C], random, 2)
        : { unary: randomTensor([B, N, C], random, 2), transition: randomTensor(form === 'shared' ? [C, C] : [B, C, C], random, 2) };
    const mask = p instanceof Tensor ? p : p.transition;
    for (let i = 0; i < mask.data.length; i += 7) if (i % (C + 1) !== 0) mask.data[i] = -Infinity;
    const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? N : 1 + Math.floor(random() * N)));
    for (const dtype of ['float64', 'float32']) {
      if (dtype === 'float32') p = convert(p, toFloat32);
      const [rtol, atol] = dtype === 'float64' ? [1e-10, 1e-12] : [1e-4, 1e-5];
      const cpu = new LinearChainCRF(p, { lengths, device: 'cpu' });
      const gpu = new LinearChainCRF(p, { lengths, device: 'cuda' });
      expectClose(hostValues(gpu.logPartition()), hostValues(cpu.logPartition()), rtol, atol);
      expectClose(hostValues(gpu.entropy()), hostValues(cpu.entropy()), rtol, atol);
      expectClose(hostValues(gpu.marginals()), hostValues(cpu.marginals()), rtol, atol);
      const g = cpu.marginals();
      const gDevice = g instanceof Tensor ? g.toDevice() : { unary: (g as { unary: Tensor }).unary.toDevice(), transition: (g as { transition: Tensor }).transition.toDevice() };
      expectClose(hostValues(gpu.marginalsBackward(gDevice as never)), hostValues(cpu.marginalsBackward(g)), rtol * 10, atol * 10);
      const best = gpu.argmaxDecoded();
      expect(best.labels).toEqual(cpu.argmaxDecoded().labels);
      expect(hostValues(best.parts)).toEqual(hostValues(cpu.argmax()));
      expectClose(hostValues(gpu.logProb(best.labels)), hostValues(cpu.logProb(best.labels)), rtol, atol);
      // Same seed, same uniforms: the draws agree except where exp's last bits flip a boundary.
      const a = gpu.sampleDecoded(64, { seed: 5 }).labels;
      const b = cpu.sampleDecoded(64, { seed: 5 }).labels;
      const same = a.reduce((n, v, i) => n + (v === b[i] ? 1 : 0), 0);
      expect(same / a.length).toBeGreaterThan(0.99);
      gpu.dispose();
    }
  });

  test('a sequence with no sample raises the CPU error (ERR_INVALID_SCORES), never reading outside the potentials', () => {
    // float32 unary scores near 3e9: log Z is finite but every weight of a backward step underflows. The kernel
    // used to go on with label -1 (reading unary[-1], transition[-1]) and return labels -1.
    const B = 2, N = 3;
    for (const C of [4, 40]) {
      const unary = new Tensor(new Float32Array(B * N * C), [B, N, C]);
      unary.data.subarray(N * C).forEach((_, i, row) => (row[i] = 3e9 + (i % 7) * 1e3));
      const transition = new Tensor(new Float32Array(C * C), [C, C]);
      const cpu = new LinearChainCRF({ unary, transition }, { device: 'cpu' });
      const gpu = new LinearChainCRF({ unary, transition }, { device: 'cuda' });
      expect(errorCode(() => gpu.sampleDecoded(5, { seed: 3 }))).toBe('RangeError:ERR_INVALID_SCORES');
      expect(errorMessage(() => gpu.sampleDecoded(5, { seed: 3 }))).toBe(errorMessage(() => cpu.sampleDecoded(5, { seed: 3 })));
      const masked = randomTensor([B, N - 1, C, C], random);
      masked.data.fill(-Infinity, (N - 1) * C * C);
      const gpuMasked = new LinearChainCRF(masked, { device: 'cuda' });
      expect(errorMessage(() => gpuMasked.sample(2, { seed: 3 }))).toBe(errorMessage(() => new LinearChainCRF(masked).sample(2, { seed: 3 })));
      // The sequence that has samples still samples, on the device as on the CPU.
      const one = new LinearChainCRF({ unary, transition }, { device: 'cuda', lengths: [N, 1] });
      expect(Array.from(one.sampleDecoded(5, { seed: 3 }).labels)).toEqual(
        Array.from(new LinearChainCRF({ unary, transition }, { lengths: [N, 1] }).sampleDecoded(5, { seed: 3 }).labels),
      );
      [gpu, gpuMasked, one].forEach((crf) => crf.dispose());
    }
    // With the guard page before each allocation (emulated device), a read before the potentials faults
    // (cudaErrorIllegalAddress, ERR_CUDA) instead of passing silently.
    const child = runTypeScript(path.join(__dirname, 'children', 'chain_sample_no_sample.ts'), [], {
      env: { LATENT_STRUCT_EMULATED_GUARD: 'before' },
      timeoutMs: 120_000,
    });
    if (child.status !== 0) throw new Error(describeFailure(child));
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(describeFailure(child));
    const result = JSON.parse(line.slice('RESULT '.length)) as Record<string, string>;
    expect(Object.keys(result)).toHaveLength(8);
    for (const [name, code] of Object.entries(result)) expect(`${name}: ${code}`).toBe(`${name}: RangeError:ERR_INVALID_SCORES`);
  });

  test('device-resident potentials give device-resident results', async () => {
    const edges = randomTensor([4, 5, 6, 6], random).toDevice();
    const crf = new LinearChainCRF(edges);
    const logZ = crf.logPartition();
    expect(logZ).toBeInstanceOf(DeviceTensor);
    const marginals = await crf.marginalsAsync();
    expect(marginals).toBeInstanceOf(DeviceTensor);
    const back = crf.marginalsBackward(marginals);
    expect(back).toBeInstanceOf(DeviceTensor);
    expect(back.shape).toEqual([4, 5, 6, 6]);
    [logZ, marginals, back].forEach((t) => t.dispose());
    edges.dispose();
  });
});
