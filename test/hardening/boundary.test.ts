/**
 * Regression tests of the N-API boundary for what the hardening fuzz (issue 9) found: inputs that crashed the
 * process (run in a child process, see boundary_cases.ts) and inputs that raised errors without a `code`.
 */
import * as path from 'node:path';

import { Categorical, HMM, Tensor, gumbelMax, gumbelNoise, gumbelSoftmax, softmax, tensor } from '../../lib';
import { native } from '../../lib/native';
import { errorCode } from '../helpers';
import { describeFailure, runTypeScript } from '../support/isolated';

const script = path.join(__dirname, 'boundary_cases.ts');

describe('inputs that crashed the process', () => {
  test('async ops read their inputs as they were at the call, whatever JS does to them meanwhile', () => {
    const result = runTypeScript(
      script,
      [
        'async op, input detached while it runs',
        'async op, resizable input shrunk while it runs',
        'async op, input overwritten while it runs',
        'async logProb, index detached while it runs',
        'sync call, input detached by a later argument',
        'host result larger than a typed array',
        'async semi-Markov and alignment ops, inputs detached while they run',
        'sync alignment call, input detached by targetLengths or local',
        'semi-Markov and alignment results larger than a typed array',
      ],
      { nodeOptions: ['--expose-gc'] },
    );
    if (result.status !== 0) throw new Error(describeFailure(result));
    expect(result.stdout.match(/^pass /gm)).toHaveLength(9);
  });

  test('a host result larger than memory raises ERR_OUT_OF_MEMORY instead of a V8 abort', () => {
    const result = runTypeScript(script, ['host result larger than memory'], { addressSpaceKiB: 4_000_000 });
    if (result.status !== 0) throw new Error(describeFailure(result));
    expect(result.stdout).toMatch(/^pass host result larger than memory$/m);
  });
});

describe('inputs that raised errors without a code', () => {
  test('Tensor.zeros of a dtype that is not a float dtype', () => {
    expect(errorCode(() => Tensor.zeros([2], 'int8' as 'float32'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('a tree structure name that is not a string', () => {
    const spec = { structure: Symbol('cky'), scores: { data: new Float32Array(4), shape: [1, 2, 2] }, lengths: null, singleRoot: true };
    expect(errorCode(() => native.treeLogPartition(spec as never, false))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('an object made from DeviceBuffer.prototype is not a device tensor', () => {
    const fake = Object.create((native.DeviceBuffer as unknown as { prototype: object }).prototype) as never;
    expect(errorCode(() => native.softmax({ handle: fake, shape: [2, 2] }, false))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('tensors over a SharedArrayBuffer are read like any other', () => {
    const shared = new Float64Array(new SharedArrayBuffer(16));
    shared.set([1, 1]);
    expect(Array.from(softmax(tensor(shared, [1, 2])).data)).toEqual([0.5, 0.5]);
  });
});

describe('what the fuzz found in the TypeScript layer', () => {
  const scores = tensor(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);

  test('ops that need options raise a TypeError without them', async () => {
    expect(errorCode(() => gumbelNoise([2], undefined as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => gumbelMax(scores, null as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => gumbelSoftmax(scores, undefined as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('Categorical sampling and perturbation check k and their options', async () => {
    const dist = new Categorical(scores);
    expect(errorCode(() => dist.sample(null as never, { seed: 1 }))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => dist.sampleDecoded(2, null as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => dist.perturbAndMap(undefined as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => dist.gumbelPair(null as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    await expect(dist.sampleAsync(1, null as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  test('Categorical.gumbelPair refuses NaN and +Infinity scores instead of returning NaN', () => {
    for (const bad of [Number.NaN, Infinity]) {
      const dist = new Categorical(tensor(new Float64Array([0, bad, 1, 2]), [2, 2]));
      expect(errorCode(() => dist.gumbelPair({ seed: 1 }))).toBe('RangeError:ERR_INVALID_SCORES');
    }
  });

  test('HMM refuses a parameter Tensor whose data or shape were replaced instead of reading it in JS', () => {
    // The HMM reads its parameters on the host (the gather of emission rows): the addon's checks of a tensor's data
    // against its shape never see them.
    const host = (shape: number[]): Tensor => tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)), shape);
    const tampered = (field: 'data' | 'shape', value: unknown): Tensor => Object.defineProperty(host([3, 2]), field, { value });
    const make = (emission: Tensor) => () => new HMM({ transition: host([2, 2]), emission, init: host([2]) }, [[0, 1]]);
    expect(errorCode(make(tampered('data', new Int32Array(6))))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(make(tampered('data', new Float64Array(5))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    expect(errorCode(make(tampered('shape', [Number.NaN, 2])))).toBe('RangeError:ERR_INVALID_SHAPE');
    expect(errorCode(make(tampered('shape', [2 ** 31 - 1, 2])))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    const hmm = new HMM({ transition: host([2, 2]), emission: host([3, 2]), init: host([2]) }, [[0, 1]]);
    const grad = { unary: Object.defineProperty(host([1, 2, 2]), 'data', { value: [1, 2, 3, 4] }), transition: host([1, 2, 2]) };
    expect(errorCode(() => hmm.partsBackward(grad))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('Categorical.supportParts refuses supports that are not classes instead of reading them as class 0', () => {
    const dist = new Categorical(scores);
    expect(errorCode(() => dist.supportParts({ support: [[new Int32Array(1)], [new Int32Array(1)]] } as never))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => dist.supportParts({ support: [Int32Array.of(3), Int32Array.of(0)] } as never))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => dist.supportParts({ support: [{}, {}] } as never))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });
});
