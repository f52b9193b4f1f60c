/**
 * Bad input raises a typed error (TypeError / RangeError with a `code`, naming the argument), through the
 * public API and straight at the N-API boundary; never a crash.
 */
import { Categorical, DeviceTensor, LinearChainCRF, Tensor, TreeCRF, backendInfo, estimators, entmaxBisect, gumbelMax, gumbelSoftmax, logProb, logsumexpBackward, softmax, softmaxAsync, softmaxBackward, tensor } from '../lib';
import { native } from '../lib/native';

function expectCoded(fn: () => unknown, type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string, mention: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  // By name, not instanceof: errors from the addon come from Node's main realm, not jest's sandbox.
  expect((thrown as Error).name).toBe(type.name);
  expect((thrown as { code?: string }).code).toBe(code);
  expect((thrown as Error).message).toMatch(mention);
}

const good = tensor(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);

describe('tensor construction', () => {
  test('wrong data kind, shape mismatch, bad dims', () => {
    expectCoded(() => new Tensor(new Int32Array(4) as unknown as Float32Array, [4]), TypeError, 'ERR_INVALID_ARG_TYPE', /data/);
    expectCoded(() => tensor(new Float32Array(5), [2, 3]), RangeError, 'ERR_SHAPE_MISMATCH', /shape \[2, 3\]/);
    expectCoded(() => tensor(new Float32Array(0), [0]), RangeError, 'ERR_INVALID_SHAPE', /shape\[0\]/);
    expectCoded(() => tensor(new Float32Array(2), [-1, -2]), RangeError, 'ERR_INVALID_SHAPE', /shape\[0\]/);
    expectCoded(() => tensor(new Float32Array(2), [1.5]), RangeError, 'ERR_INVALID_SHAPE', /integer/);
    expectCoded(() => Tensor.zeros([2 ** 31 - 1, 2 ** 31 - 1]), RangeError, 'ERR_SIZE_OVERFLOW', /too many/);
    expectCoded(() => tensor(new Float32Array(1), []), RangeError, 'ERR_INVALID_SHAPE', /1 to 8/);
  });
});

describe('ops', () => {
  test('scores must be [B, K], finite or -Infinity, with a finite entry per row', () => {
    expectCoded(() => softmax(tensor(new Float64Array(8), [2, 2, 2])), RangeError, 'ERR_INVALID_SHAPE', /scores must have shape \[B, K\]/);
    expectCoded(() => softmax(tensor(new Float64Array([1, NaN]), [1, 2])), RangeError, 'ERR_INVALID_SCORES', /scores\[0\]\[1\] is NaN/);
    expectCoded(() => softmax(tensor(new Float64Array([1, 2, Infinity, 0]), [2, 2])), RangeError, 'ERR_INVALID_SCORES', /scores\[1\]\[0\] is Infinity/);
    expectCoded(() => softmax(tensor(new Float32Array([1, 2, -Infinity, -Infinity]), [2, 2])), RangeError, 'ERR_INVALID_SCORES', /row 1 of scores has no finite entry/);
    expectCoded(() => softmax('scores' as unknown as Tensor), TypeError, 'ERR_INVALID_ARG_TYPE', /scores must be a Tensor/);
  });

  test('gradients must match in shape, dtype and be finite', () => {
    expectCoded(() => softmaxBackward(good, tensor(new Float64Array(3), [1, 3])), RangeError, 'ERR_SHAPE_MISMATCH', /grad must have shape \[2, 3\]/);
    expectCoded(() => softmaxBackward(good, tensor(new Float32Array(6), [2, 3])), TypeError, 'ERR_DTYPE_MISMATCH', /grad is float32/);
    expectCoded(() => softmaxBackward(good, tensor(new Float64Array([0, 0, NaN, 0, 0, 0]), [2, 3])), RangeError, 'ERR_NOT_FINITE', /grad\[0\]\[2\]/);
    expectCoded(() => logsumexpBackward(good, tensor(new Float64Array(3), [3])), RangeError, 'ERR_SHAPE_MISMATCH', /grad must have shape \[2\]/);
  });

  test('parameters are range-checked', () => {
    expectCoded(() => entmaxBisect(good, 0.5), RangeError, 'ERR_OUT_OF_RANGE', /alpha must be >= 1/);
    expectCoded(() => entmaxBisect(good, NaN), RangeError, 'ERR_OUT_OF_RANGE', /alpha/);
    expectCoded(() => gumbelSoftmax(good, { temperature: 0, seed: 1 }), RangeError, 'ERR_OUT_OF_RANGE', /temperature/);
    expectCoded(() => gumbelSoftmax(good, { temperature: 1, seed: -1 }), RangeError, 'ERR_OUT_OF_RANGE', /seed/);
    expectCoded(() => gumbelSoftmax(good, { temperature: 1, seed: 1.5 }), RangeError, 'ERR_OUT_OF_RANGE', /seed/);
    expectCoded(() => gumbelMax(good, { seed: 1, samples: 0 }), RangeError, 'ERR_OUT_OF_RANGE', /samples/);
    expectCoded(() => logProb(good, new Int32Array([0, 3])), RangeError, 'ERR_OUT_OF_RANGE', /index\[1\] = 3/);
    expectCoded(() => logProb(good, new Int32Array([0, 1, 2])), RangeError, 'ERR_SHAPE_MISMATCH', /index must hold/);
    expectCoded(() => softmax(good, { device: 'tpu' as 'cpu' }), RangeError, 'ERR_OUT_OF_RANGE', /device/);
  });

  test('async forms reject with the same typed errors', async () => {
    await expect(softmaxAsync(tensor(new Float64Array([NaN, 1]), [1, 2]))).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_INVALID_SCORES',
    });
  });

  test('a fractional length says it must be an integer; an integer out of range says outside', () => {
    const edges = tensor(new Float64Array(2 * 3 * 2 * 2), [2, 3, 2, 2]);
    expectCoded(() => new LinearChainCRF(edges, { lengths: [2.5, 4] }), RangeError, 'ERR_OUT_OF_RANGE', /^lengths\[0\] = 2\.5 must be an integer in \[1, 4\]$/);
    expectCoded(() => new TreeCRF(tensor(new Float64Array(18), [2, 3, 3]), { lengths: [3, Number.NaN] }), RangeError, 'ERR_OUT_OF_RANGE', /^lengths\[1\] = NaN must be an integer in \[1, 3\]$/);
    expectCoded(() => new LinearChainCRF(edges, { lengths: [5, 4] }), RangeError, 'ERR_OUT_OF_RANGE', /^lengths\[0\] = 5 is outside \[1, 4\]$/);
  });

  test('a decoder gradZ of the wrong layout: the message gives both shapes', () => {
    const decoder = (z: Tensor): { loss: number[]; gradZ: Tensor } => ({ loss: [0, 0], gradZ: tensor(new Float64Array(4), [2, 2]) });
    expectCoded(
      () => estimators.marginals().step(new Categorical(good), decoder as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^decoder call 0: gradZ must be laid out like z: expected \[2, 3\], got \[2, 2\]$/,
    );
    const chain = new LinearChainCRF({ unary: tensor(new Float64Array(12), [2, 3, 2]), transition: tensor(new Float64Array(4), [2, 2]) });
    const factoredDecoder = (): unknown => ({ loss: [0, 0], gradZ: { unary: tensor(new Float64Array(12), [2, 3, 2]), transition: tensor(new Float64Array(4), [2, 2]) } });
    expectCoded(
      () => estimators.marginals().step(chain, factoredDecoder as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /expected \{ transition: \[2, 2, 2\], unary: \[2, 3, 2\] \}, got \{ transition: \[2, 2\], unary: \[2, 3, 2\] \}$/,
    );
  });

  test('Categorical checks its scores and structures', () => {
    expectCoded(() => new Categorical(tensor(new Float64Array(4), [4])), RangeError, 'ERR_INVALID_SHAPE', /\[B, K\]/);
    const dist = new Categorical(good);
    expectCoded(() => dist.logProb(tensor(new Float64Array([1, 1, 0, 0, 0, 1]), [2, 3])), RangeError, 'ERR_OUT_OF_RANGE', /not one-hot/);
    expectCoded(() => dist.logProb(tensor(new Float64Array(4), [2, 2])), RangeError, 'ERR_SHAPE_MISMATCH', /z must have shape/);
  });
});

describe('the N-API boundary itself', () => {
  const calls: [string, () => unknown][] = [
    ['no arguments', () => (native.softmax as unknown as () => unknown)()],
    ['null', () => native.softmax(null as never, false)],
    ['object without data', () => native.softmax({} as never, false)],
    ['data of the wrong kind', () => native.softmax({ data: new Uint8Array(4), shape: [2, 2] } as never, false)],
    ['shape not an array', () => native.softmax({ data: new Float32Array(4), shape: 4 } as never, false)],
    ['shape entries not numbers', () => native.softmax({ data: new Float32Array(4), shape: ['2', 2] } as never, false)],
    ['shape/length mismatch', () => native.softmax({ data: new Float32Array(4), shape: [3, 2] } as never, false)],
    ['overflowing shape', () => native.softmax({ data: new Float32Array(4), shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1] } as never, false)],
    ['huge dims', () => native.softmax({ data: new Float32Array(4), shape: [2 ** 40, 1] } as never, false)],
    ['alpha a string', () => native.entmaxBisect({ data: new Float32Array(4), shape: [2, 2] }, '1.5' as never, false)],
    ['seed a bigint over 64 bits', () => native.gumbelSoftmax({ data: new Float32Array(4), shape: [2, 2] }, 1, 2n ** 70n, false)],
    ['samples over the limit', () => native.gumbelMax({ data: new Float32Array(4), shape: [2, 2] }, 2 ** 40, 1, 1, false)],
    ['index not Int32Array', () => native.logProb({ data: new Float32Array(4), shape: [2, 2] }, new Float32Array(2) as never, false)],
    ['gumbel dtype', () => native.gumbel([2], 'int8' as never, 1, 0, false, false)],
    ['philox counter', () => native.philox4x32(new Uint32Array(3), 0)],
  ];
  test.each(calls)('%s throws a coded TypeError or RangeError', (_label, call) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeDefined();
    expect(['TypeError', 'RangeError']).toContain((thrown as Error).name);
    expect((thrown as { code?: string }).code).toMatch(/^ERR_/);
  });
});

describe('devices', () => {
  const info = backendInfo();
  test('backendInfo describes both backends without throwing', () => {
    expect(info.cpu.available).toBe(true);
    expect(info.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda.compiled).toBe('boolean');
    if (!info.cuda.available) expect(info.cuda.reason).toMatch(/CUDA/);
    else expect(info.cuda.device?.name).toBeTruthy();
  });

  (info.cuda.available ? test.skip : test)('without a usable GPU, toDevice() raises ERR_NO_CUDA', () => {
    expectCoded(() => good.toDevice(), Error, 'ERR_NO_CUDA', /CUDA/);
    expectCoded(() => softmax(good, { device: 'cuda' }), Error, 'ERR_NO_CUDA', /CUDA/);
  });

  (info.cuda.available ? test.skip : test)('without a usable GPU, device indices raise ERR_NO_CUDA and no device is listed', () => {
    expectCoded(() => good.toDevice(1), Error, 'ERR_NO_CUDA', /CUDA/);
    expectCoded(() => good.toDevice('cuda:1'), Error, 'ERR_NO_CUDA', /CUDA/);
    expectCoded(() => softmax(good, { device: 'cuda:1' }), Error, 'ERR_NO_CUDA', /CUDA/);
    expectCoded(() => new Categorical(good, { device: 'cuda:0' }), Error, 'ERR_NO_CUDA', /CUDA/);
    expect(info.cuda.devices ?? []).toEqual([]);
  });

  test('a malformed device is RangeError ERR_OUT_OF_RANGE in every build', () => {
    expectCoded(() => good.toDevice(-1), RangeError, 'ERR_OUT_OF_RANGE', /device/);
    expectCoded(() => good.toDevice(0.5), RangeError, 'ERR_OUT_OF_RANGE', /device/);
    expectCoded(() => good.toDevice('cuda:x' as 'cuda'), RangeError, 'ERR_OUT_OF_RANGE', /device/);
    expectCoded(() => good.toDevice('cpu'), RangeError, 'ERR_OUT_OF_RANGE', /CUDA device/);
    expectCoded(() => softmax(good, { device: 'gpu' as 'cuda' }), RangeError, 'ERR_OUT_OF_RANGE', /device/);
    expectCoded(() => new Categorical(good, { device: 'cuda:64' as 'cuda' }), RangeError, 'ERR_OUT_OF_RANGE', /device/);
  });

  (info.cuda.compiled ? test.skip : test)('a build without CUDA says so, and why as far as the build knows', () => {
    // Not "nvcc was not found" alone: the build may have had nvcc and been built with CUDA switched off.
    expect(info.cuda.reason).toMatch(/^this build has no CUDA backend \((nvcc was not found when the addon was built|it was built with CUDA off: LATENT_STRUCT_CUDA=0 or --cpu, no NVIDIA driver visible at install, or a failed CUDA build; LATENT_STRUCT_CUDA=1 npm install compiles it with nvcc|a CPU-only build: node-gyp's binding.gyp, no nvcc at install, or LATENT_STRUCT_CUDA=0 \/ --cpu)\)$/);
    let thrown: unknown;
    try {
      good.toDevice();
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toBe('ERR_NO_CUDA');
    expect((thrown as Error).message).toBe(info.cuda.reason);
  });

  (info.cuda.compiled && !info.cuda.available && info.cuda.driverVersion === 0 ? test : test.skip)(
    'CUDA compiled in but no driver at all: the reason says no NVIDIA driver, not "driver version is insufficient"',
    () => {
      expect(info.cuda.reason).toMatch(/^CUDA is compiled in but cannot run: no NVIDIA driver was found \(no GPU on this machine\?\); the CUDA runtime says: /);
    },
  );

  (info.cuda.available ? test : test.skip)('disposed and mixed-device tensors raise typed errors', () => {
    const onDevice: DeviceTensor = good.toDevice();
    expectCoded(() => softmaxBackward(onDevice, good as unknown as DeviceTensor), TypeError, 'ERR_MIXED_DEVICES', /grad is on cpu/);
    onDevice.dispose();
    expect(onDevice.disposed).toBe(true);
    expectCoded(() => softmax(onDevice), TypeError, 'ERR_TENSOR_DISPOSED', /disposed/);
    expectCoded(() => onDevice.toHost(), TypeError, 'ERR_TENSOR_DISPOSED', /disposed/);
  });
});
