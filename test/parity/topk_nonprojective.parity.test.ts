/**
 * CUDA/CPU parity of NonProjectiveDependencyCRF.topk(k) (Lawler's partition over the constrained Chu-Liu-Edmonds,
 * arborescence_kbest.h: serial on one thread of a block per sentence), with a single root and with any number of
 * roots, on random scores in float32 and float64 with mixed lengths (length 1 included), −Infinity masks, integer
 * scores (ties, whose order must agree too) and k past the number of trees (the −Infinity tail): the CPU backend,
 * DeviceTensor scores (device-resident results, sync and async) and `{ device: 'cuda' }` on host scores (host
 * results) give identical heads, scores and parts. Correctness of the CPU results is
 * test/topk_nonprojective.test.ts's job. Sizes stay small: the emulated device runs a fiber per thread.
 */
import { AnyTensor, DeviceTensor, NonProjectiveDependencyCRF, Tensor } from '../../lib';
import { randomTensor, rng, toFloat32 } from '../helpers';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('non-projective topk parity');

const hostData = (t: AnyTensor): number[] => Array.from((t instanceof DeviceTensor ? t.toHost() : (t as Tensor)).data);

interface Top {
  heads: Int32Array;
  score: AnyTensor;
  parts: AnyTensor;
}

function expectSame(device: Top, cpu: Top, deviceResident: boolean): void {
  expect(device.score instanceof DeviceTensor).toBe(deviceResident);
  expect(device.parts instanceof DeviceTensor).toBe(deviceResident);
  expect(Array.from(device.heads)).toEqual(Array.from(cpu.heads));
  expect(hostData(device.score)).toEqual(hostData(cpu.score));
  expect(hostData(device.parts)).toEqual(hostData(cpu.parts));
  expect(device.parts.shape).toEqual(cpu.parts.shape);
}

const modes = ['continuous', 'masked', 'ties'] as const;
const dtypes = ['float64', 'float32'] as const;

describeGpu('CUDA NonProjectiveDependencyCRF.topk matches the CPU backend', () => {
  test.each([true, false].flatMap((singleRoot) => dtypes.flatMap((dtype) => modes.map((mode) => [singleRoot, dtype, mode] as const))))(
    'singleRoot %s, %s, %s',
    async (singleRoot, dtype, mode) => {
      // N = 5, lengths 5, 1, 4: 625 / 1296, 1 and 64 / 125 trees
      const [B, N] = [3, 5];
      const lengths = [5, 1, 4];
      const random = rng(1 + Number(singleRoot));
      let x =
        mode === 'ties'
          ? new Tensor(Float64Array.from({ length: B * N * N }, () => Math.floor(random() * 2)), [B, N, N])
          : randomTensor([B, N, N], random);
      if (mode === 'masked') {
        for (let i = 0; i < x.data.length; i++) if (random() < 0.5) x.data[i] = -Infinity;
        // keep the chain root → 0 → 1 → … so that every sentence has a tree
        for (let b = 0; b < B; b++) {
          x.data[b * N * N] = 0;
          for (let m = 1; m < N; m++) x.data[(b * N + m - 1) * N + m] = 0;
        }
      }
      if (dtype === 'float32') x = toFloat32(x);
      for (const k of [1, 7, 70, 130]) {
        const cpu = new NonProjectiveDependencyCRF(x, { lengths, singleRoot }).topk(k);
        const resident = x.toDevice();
        const crf = new NonProjectiveDependencyCRF(resident, { lengths, singleRoot });
        expectSame(crf.topk(k), cpu, true);
        expectSame(await crf.topkAsync(k), cpu, true);
        resident.dispose();
        const moved = new NonProjectiveDependencyCRF(x, { lengths, singleRoot, device: 'cuda' });
        expectSame(moved.topk(k), cpu, false);
        moved.dispose();
      }
    },
  );
});
