/**
 * CUDA/CPU parity of every categorical kernel on random inputs (float32 and float64, masks, long rows),
 * device-resident chaining, and bit-identical Gumbel noise. Skips, saying so, when no GPU is usable.
 */
import {
  DeviceTensor,
  Tensor,
  argmax,
  entmax15,
  entmaxBisect,
  entmaxBisectBackward,
  entropy,
  gumbelMax,
  gumbelNoise,
  gumbelSoftmax,
  logProb,
  logsumexp,
  logsumexpBackward,
  softmax,
  softmaxAsync,
  softmaxBackward,
  sparsemax,
  sparsemaxBackward,
} from '../../lib';
import { errorMessage, expectClose, randomTensor, rng, toFloat32 } from '../helpers';
import { expectedInvalidMessage, invalidRowCases, randomInvalidRows } from '../invalid_scores';
import { cuda, gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('parity');

function masked(t: Tensor, random: () => number): Tensor {
  const data = Float64Array.from(t.data);
  const K = t.shape[1];
  for (let i = 0; i < data.length; i++) if (i % K !== 0 && random() < 0.2) data[i] = -Infinity;
  return new Tensor(data, t.shape);
}

describeGpu('CUDA matches the CPU backend', () => {
  const random = rng(2024);
  const sizes = [[1, 1], [7, 3], [33, 40], [5, 1025], [2, 70000], [300, 17]];
  const ops: [string, (x: Tensor, device: 'cpu' | 'cuda') => Tensor][] = [
    ['logsumexp', (x, device) => logsumexp(x, { device })],
    ['softmax', (x, device) => softmax(x, { device })],
    ['entropy', (x, device) => entropy(x, { device })],
    ['sparsemax', (x, device) => sparsemax(x, { device })],
    ['entmax15', (x, device) => entmax15(x, { device })],
    ['entmaxBisect(1.3)', (x, device) => entmaxBisect(x, 1.3, { device })],
    ['gumbelSoftmax', (x, device) => gumbelSoftmax(x, { temperature: 0.5, seed: 3, device })],
  ];

  test.each(ops)('%s', (_name, op) => {
    for (const [B, K] of sizes) {
      const x = masked(randomTensor([B, K], random, 3), random);
      expectClose(op(x, 'cuda').data, op(x, 'cpu').data, 1e-11, 1e-14);
      const x32 = toFloat32(x);
      expectClose(op(x32, 'cuda').data, op(x32, 'cpu').data, 2e-5, 1e-7);
    }
  });

  test('backwards', () => {
    for (const [B, K] of sizes) {
      const x = randomTensor([B, K], random, 2);
      const g = randomTensor([B, K], random);
      const gRow = randomTensor([B], random);
      const p = softmax(x);
      const s = sparsemax(x);
      const e = entmaxBisect(x, 1.7);
      expectClose(softmaxBackward(p, g, { device: 'cuda' }).data, softmaxBackward(p, g).data, 1e-11, 1e-14);
      expectClose(sparsemaxBackward(s, g, { device: 'cuda' }).data, sparsemaxBackward(s, g).data, 1e-11, 1e-14);
      expectClose(entmaxBisectBackward(e, g, 1.7, { device: 'cuda' }).data, entmaxBisectBackward(e, g, 1.7).data, 1e-11, 1e-14);
      expectClose(logsumexpBackward(x, gRow, { device: 'cuda' }).data, logsumexpBackward(x, gRow).data, 1e-11, 1e-14);
    }
  });

  test('argmax, logProb and Gumbel-max agree exactly', () => {
    for (const [B, K] of sizes) {
      const x = masked(randomTensor([B, K], random), random);
      expect(Array.from(argmax(x, { device: 'cuda' }).index)).toEqual(Array.from(argmax(x).index));
      const gpu = gumbelMax(x, { samples: 3, seed: 42, device: 'cuda' });
      const cpu = gumbelMax(x, { samples: 3, seed: 42 });
      expect(Array.from(gpu.index)).toEqual(Array.from(cpu.index));
      expect(Array.from(gpu.onehot.data)).toEqual(Array.from(cpu.onehot.data));
      const index = argmax(x).index;
      expectClose(logProb(x, index, { device: 'cuda' }).data, logProb(x, index).data, 1e-11, 1e-14);
    }
  });

  test('Gumbel noise is bit-identical in float64 and float32', () => {
    // Same Philox uniforms, same log (repro_log, cpp/include/latent_struct/reproducible.h), no FMA contraction:
    // equal bits, not just close values.
    for (const dtype of ['float64', 'float32'] as const) {
      const cpu = gumbelNoise([100003], { seed: 77, stream: 5, dtype }).toHost().data;
      const gpu = gumbelNoise([100003], { seed: 77, stream: 5, dtype, device: 'cuda' }).toHost().data;
      const bytes = (a: Float32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      expect(bytes(gpu).equals(bytes(cpu))).toBe(true);
    }
  });

  test('device-resident chains stay on the device and match the host', async () => {
    const x = randomTensor([64, 100], random);
    const onDevice = x.toDevice();
    const p = softmax(onDevice);
    expect(p).toBeInstanceOf(DeviceTensor);
    const back = softmaxBackward(p, p);
    expect(back).toBeInstanceOf(DeviceTensor);
    expectClose(back.toHost().data, softmaxBackward(softmax(x), softmax(x)).data, 1e-11, 1e-14);
    const asyncResult = await softmaxAsync(onDevice);
    expectClose(asyncResult.toHost().data, softmax(x).data, 1e-12, 1e-15);
    [onDevice, p, back, asyncResult].forEach((t) => t.dispose());
  });

  test('invalid scores: the same first bad index as the CPU (warp per row to 32 and to 1024 columns, block per row)', () => {
    // A lane used to stop at its first NaN / +inf without telling the row, whose finite flag it then missed:
    // [-inf, NaN, -inf] was "row 1 has no finite entry" instead of "scores[1][1] is NaN".
    for (const { label, scores } of invalidRowCases()) {
      for (const x of [scores, toFloat32(scores)]) {
        const cpu = errorMessage(() => logsumexp(x, { device: 'cpu' }));
        expect(`${label}: ${cpu.slice(0, expectedInvalidMessage(x).length)}`).toBe(`${label}: ${expectedInvalidMessage(x)}`);
        expect(`${label}: ${errorMessage(() => logsumexp(x, { device: 'cuda' }))}`).toBe(`${label}: ${cpu}`);
      }
    }
    const device = invalidRowCases()[0].scores.toDevice();
    expect(errorMessage(() => softmax(device))).toBe(errorMessage(() => softmax(invalidRowCases()[0].scores)));
    device.dispose();
    const random = rng(31);
    for (let trial = 0; trial < 150; trial++) {
      const cols = [1 + Math.floor(random() * 40), 33 + Math.floor(random() * 992), 1025 + Math.floor(random() * 1200)][trial % 3];
      const x = randomInvalidRows(1 + Math.floor(random() * 4), cols, random);
      expect(errorMessage(() => logsumexp(x, { device: 'cuda' }))).toBe(errorMessage(() => logsumexp(x, { device: 'cpu' })));
    }
  });

  test('a huge allocation fails with a JS error and the backend keeps working', () => {
    let thrown: unknown;
    try {
      gumbelNoise([2 ** 31 - 1, 2 ** 14], { seed: 1, device: 'cuda', dtype: 'float64' });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toMatch(/ERR_CUDA_OOM|ERR_CUDA/);
    const x = randomTensor([4, 8], random);
    expectClose(softmax(x, { device: 'cuda' }).data, softmax(x).data, 1e-12);
  });
});

test('the parity suite knows whether it ran', () => {
  expect(typeof cuda.available).toBe('boolean');
});
