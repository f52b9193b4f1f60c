/**
 * What the topk parity suites share (test/parity/topk.parity.test.ts, topk_trees.parity.test.ts): the comparison of a
 * device result with the CPU's and the scores they run on.
 */
import { AnyTensor, DeviceTensor, Tensor } from '../../lib';
import { randomTensor, rng } from '../helpers';

export const hostData = (t: AnyTensor): number[] => Array.from((t instanceof DeviceTensor ? t.toHost() : (t as Tensor)).data);

/** topk(k)'s rows, whatever the structure calls its decoded form. */
export interface Top {
  decoded: Int32Array;
  score: AnyTensor;
  parts: AnyTensor;
}

/** The device's rows equal the CPU's exactly; its score and parts live on the device when `deviceResident`. */
export function expectSame(device: Top, cpu: Top, deviceResident: boolean): void {
  expect(device.score instanceof DeviceTensor).toBe(deviceResident);
  expect(device.parts instanceof DeviceTensor).toBe(deviceResident);
  expect(Array.from(device.decoded)).toEqual(Array.from(cpu.decoded));
  expect(hostData(device.score)).toEqual(hostData(cpu.score));
  expect(hostData(device.parts)).toEqual(hostData(cpu.parts));
  expect(device.parts.shape).toEqual(cpu.parts.shape);
}

/** Random scores with some −Infinity entries (never on `keep`'s), or integer scores (ties). */
export function scoresOf(shape: number[], seed: number, mode: 'continuous' | 'masked' | 'ties', keep: (x: Tensor) => void): Tensor {
  const random = rng(seed);
  const x =
    mode === 'ties'
      ? new Tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 2)), shape)
      : randomTensor(shape, random);
  if (mode === 'masked') {
    for (let i = 0; i < x.data.length; i++) if (random() < 0.3) x.data[i] = -Infinity;
    keep(x);
  }
  return x;
}

export const modes = ['continuous', 'masked', 'ties'] as const;
export const dtypes = ['float64', 'float32'] as const;
