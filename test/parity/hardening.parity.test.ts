/**
 * GPU faults and device inputs (issue 9), run when a GPU is usable (skipped, saying so, otherwise): an allocation
 * larger than the device becomes ERR_CUDA_OOM and the backend keeps working after it; disposed DeviceTensors and
 * mixed devices raise typed errors on every structure; the memory soak on `{ device: 'cuda' }` grows neither the
 * RSS nor the GPU memory in use. The fuzz (test/hardening/fuzz.test.ts) also compares every valid call with its
 * `{ device: 'cuda' }` form when a GPU is there.
 */
import * as path from 'node:path';

import {
  Categorical,
  DependencyCRF,
  DeviceTensor,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  Tensor,
  TreeCRF,
  gumbelNoise,
  softmax,
  synchronize,
  tensor,
} from '../../lib';
import { errorCode, randomTensor, rng } from '../helpers';
import { describeFailure, runTypeScript } from '../support/isolated';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('hardening');

describeGpu('GPU faults', () => {
  test('out of device memory is a JS error, and the backend works after it', () => {
    const scores = tensor(new Float64Array([0, 0, 1, 1]), [2, 2]);
    for (let attempt = 0; attempt < 3; attempt++) {
      // 2^36 float64 = 512 GiB, more than any device has.
      expect(errorCode(() => gumbelNoise([2 ** 31 - 1, 32], { seed: 1, dtype: 'float64', device: 'cuda' }))).toBe('Error:ERR_CUDA_OOM');
      synchronize();
      const onDevice = scores.toDevice();
      const p = softmax(onDevice) as DeviceTensor;
      expect(Array.from(p.toHost().data)).toEqual([0.5, 0.5, 0.5, 0.5]);
      p.dispose();
      onDevice.dispose();
    }
    const crf = new NonProjectiveDependencyCRF(randomTensor([4, 12, 12], rng(1)), { device: 'cuda' });
    const cpu = new NonProjectiveDependencyCRF(randomTensor([4, 12, 12], rng(1)));
    const [a, b] = [crf.logPartition() as Tensor, cpu.logPartition() as Tensor];
    a.data.forEach((v, i) => expect(Math.abs(v - b.data[i])).toBeLessThan(1e-9 * (1 + Math.abs(b.data[i]))));
    crf.dispose();
  });

  const structures: [string, (t: DeviceTensor | Tensor) => { logPartition(): unknown; marginalsBackward(g: never): unknown }, number[]][] = [
    ['Categorical', (t) => new Categorical(t), [3, 5]],
    ['LinearChainCRF', (t) => new LinearChainCRF(t), [3, 4, 3, 3]],
    ['TreeCRF', (t) => new TreeCRF(t), [3, 5, 5]],
    ['DependencyCRF', (t) => new DependencyCRF(t), [3, 5, 5]],
    ['NonProjectiveDependencyCRF', (t) => new NonProjectiveDependencyCRF(t), [3, 5, 5]],
  ];
  test.each(structures)('%s: disposed DeviceTensors and mixed devices raise typed errors', (_name, make, shape) => {
    const host = randomTensor(shape, rng(2));
    const device = host.toDevice();
    expect(errorCode(() => make(device).marginalsBackward(host as never))).toBe('TypeError:ERR_MIXED_DEVICES');
    device.dispose();
    expect(errorCode(() => make(device).logPartition())).toBe('TypeError:ERR_TENSOR_DISPOSED');
    expect(errorCode(() => make(host).marginalsBackward(device as never))).toMatch(/TypeError:ERR_(MIXED_DEVICES|TENSOR_DISPOSED)/);
  });

  // LATENT_STRUCT_SOAK_CALLS: fewer calls per site on the emulated device (`npm run test:emulated`), where a call
  // costs ~100x what it does on a GPU.
  const soakCalls = process.env.LATENT_STRUCT_SOAK_CALLS ?? '2000';
  test(`the memory soak on the device (${soakCalls} calls per site) grows neither the RSS nor the GPU memory in use`, () => {
    const result = runTypeScript(path.join(__dirname, '..', 'hardening', 'memory.ts'), ['--calls', soakCalls, '--device'], { nodeOptions: ['--expose-gc'] });
    if (result.status !== 0) throw new Error(describeFailure(result));
    const line = result.stdout.split('\n').find((l) => l.startsWith('MEMORY REPORT '));
    const report = JSON.parse(line!.slice('MEMORY REPORT '.length)) as { over: string[]; device: boolean };
    expect(report.device).toBe(true);
    expect(report.over).toEqual([]);
    const gpuGrowth = result.stdout.split('\n').flatMap((l) => (/GPU \+(\d+) MiB/.exec(l) ? [Number(/GPU \+(\d+) MiB/.exec(l)![1])] : []));
    expect(Math.max(0, ...gpuGrowth)).toBeLessThanOrEqual(64);
  });
});
