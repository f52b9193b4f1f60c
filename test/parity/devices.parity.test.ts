/**
 * Several CUDA devices (issue 20): `toDevice(N)`, `{ device: 'cuda:N' }`, `DeviceTensor.deviceIndex`, results on
 * cuda:1 equal to cuda:0 and the CPU, async jobs on both devices at once, mixed devices and bad indices, and
 * `backendInfo().cuda.devices`. `npm run test:emulated` runs it with two emulated devices
 * (LATENT_STRUCT_EMULATED_DEVICES=2); on a machine with one GPU the two-device tests are skipped, saying so.
 */
import {
  AnyTensor,
  AlignmentCRF,
  Categorical,
  DeviceTensor,
  HMM,
  LinearChainCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
  backendInfo,
  defaultDevice,
  estimators,
  setDefaultDevice,
} from '../../lib';
import { errorCode, errorMessage, expectClose, randomTensor, rng } from '../helpers';
import { cuda, gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('multi-device');
const deviceCount = cuda.devices?.length ?? 0;
if (cuda.available && deviceCount < 2 && process.env.LATENT_STRUCT_REQUIRE_CUDA === '1' && cuda.emulated) {
  throw new Error('the multi-device tests need two emulated devices: run them with LATENT_STRUCT_EMULATED_DEVICES=2');
}
if (cuda.available && deviceCount < 2) {
  // eslint-disable-next-line no-console
  console.log(`multi-device tests skipped: ${deviceCount} CUDA device(s)`);
}
const describeTwo = cuda.available && deviceCount >= 2 ? describeGpu : describe.skip;

/** The values of a result, freeing it when it is a DeviceTensor. */
function values(x: AnyTensor): number[] {
  if (x instanceof DeviceTensor) {
    const host = x.toHost();
    x.dispose();
    return Array.from(host.data);
  }
  return Array.from(x.data);
}

function onDevice(x: AnyTensor, index: number): AnyTensor {
  expect(x).toBeInstanceOf(DeviceTensor);
  expect((x as DeviceTensor).deviceIndex).toBe(index);
  return x;
}

describeGpu('backendInfo().cuda.devices', () => {
  test('lists every device with its index, name, compute capability and memory', () => {
    const info = backendInfo().cuda;
    expect(info.devices).toHaveLength(info.deviceCount ?? 0);
    (info.devices ?? []).forEach((d, i) => {
      expect(d.index).toBe(i);
      expect(typeof d.name).toBe('string');
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(d.totalMemory).toBeGreaterThan(0);
    });
    expect(info.devices?.[0].name).toBe(info.device?.name);
  });

  test('an index that does not exist is a RangeError ERR_NO_DEVICE; a malformed one ERR_OUT_OF_RANGE', () => {
    const x = randomTensor([2, 3], rng(1));
    expect(errorCode(() => x.toDevice(deviceCount))).toBe('RangeError:ERR_NO_DEVICE');
    expect(errorMessage(() => x.toDevice(deviceCount))).toContain(`cuda:${deviceCount} does not exist`);
    expect(errorCode(() => x.toDevice(63))).toBe('RangeError:ERR_NO_DEVICE');
    expect(errorCode(() => new Categorical(x, { device: `cuda:${deviceCount}` }))).toBe('RangeError:ERR_NO_DEVICE');
    expect(errorCode(() => x.toDevice(-1))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => x.toDevice(1.5))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => new Categorical(x, { device: 'cuda:x' as 'cuda' }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => new Categorical(x, { device: 'cuda:01' as 'cuda' }))).toBe('RangeError:ERR_OUT_OF_RANGE');
  });
});

describeTwo('two CUDA devices', () => {
  const random = rng(2020);

  test('toDevice(1) / toHost round trips, deviceIndex, copies between devices, the default device', () => {
    const x = randomTensor([3, 5], random);
    const d1 = x.toDevice(1);
    expect(d1.deviceIndex).toBe(1);
    expect(d1.device).toBe('cuda');
    expect(Array.from(d1.toHost().data)).toEqual(Array.from(x.data));
    expect(x.toDevice('cuda:1').deviceIndex).toBe(1);
    expect(x.toDevice().deviceIndex).toBe(0);
    expect(x.toDevice('cuda').deviceIndex).toBe(0);
    expect(d1.toDevice()).toBe(d1);
    expect(d1.toDevice(1)).toBe(d1);
    const d0 = d1.toDevice(0);
    expect(d0.deviceIndex).toBe(0);
    expect(Array.from(d0.toHost().data)).toEqual(Array.from(x.data));
    expect(d1.reshape([5, 3]).deviceIndex).toBe(1);
    setDefaultDevice(1);
    try {
      expect(defaultDevice()).toBe(1);
      expect(x.toDevice().deviceIndex).toBe(1);
      const c = new Categorical(x, { device: 'cuda' });
      expect(values(c.logPartition())).toHaveLength(3);
      c.dispose();
    } finally {
      setDefaultDevice(0);
    }
    expect(errorCode(() => setDefaultDevice(-2))).toBe('RangeError:ERR_OUT_OF_RANGE');
    [d0, d1].forEach((t) => t.dispose());
  });

  test('Categorical on cuda:1 equals cuda:0 and the CPU', () => {
    const x = randomTensor([6, 9], random, 2);
    const cpu = new Categorical(x);
    const results = [0, 1].map((index) => {
      const c = new Categorical(x.toDevice(index));
      const out = {
        logZ: values(onDevice(c.logPartition(), index)),
        marginals: values(onDevice(c.marginals(), index)),
        argmax: values(onDevice(c.argmax(), index)),
        entropy: values(onDevice(c.entropy(), index)),
      };
      c.dispose();
      return out;
    });
    expect(results[1]).toEqual(results[0]);
    expectClose(results[1].logZ, values(cpu.logPartition()), 1e-12, 1e-12);
    expectClose(results[1].marginals, values(cpu.marginals()), 1e-12, 1e-12);
    expect(results[1].argmax).toEqual(values(cpu.argmax()));
    // { device: 'cuda:1' } on host scores: computed there, results back on the host.
    const placed = new Categorical(x, { device: 'cuda:1' });
    const host = placed.marginals();
    expect(host).toBeInstanceOf(Tensor);
    expectClose(values(host), values(cpu.marginals()), 1e-12, 1e-12);
    placed.dispose();
  });

  test('LinearChainCRF on cuda:1 equals cuda:0 and the CPU (both forms, lengths)', () => {
    const [B, N, C] = [3, 6, 4];
    const lengths = [6, 3, 1];
    const edges = randomTensor([B, N - 1, C, C], random, 2);
    const unary = randomTensor([B, N, C], random, 2);
    const transition = randomTensor([C, C], random, 2);
    const cpuEdges = new LinearChainCRF(edges, { lengths });
    const cpuFactored = new LinearChainCRF({ unary, transition }, { lengths });
    const run = (index: number): number[][] => {
      const e = new LinearChainCRF(edges.toDevice(index), { lengths });
      const f = new LinearChainCRF({ unary: unary.toDevice(index), transition: transition.toDevice(index) }, { lengths });
      const fm = f.marginals();
      const out = [
        values(onDevice(e.logPartition(), index)),
        values(onDevice(e.marginals(), index)),
        values(onDevice(e.argmax(), index)),
        values(onDevice(f.logPartition(), index)),
        values(onDevice(fm.unary, index)),
        values(onDevice(fm.transition, index)),
      ];
      return out;
    };
    const [r0, r1] = [run(0), run(1)];
    expect(r1).toEqual(r0);
    expectClose(r1[0], values(cpuEdges.logPartition()), 1e-10, 1e-10);
    expectClose(r1[1], values(cpuEdges.marginals()), 1e-10, 1e-10);
    expect(r1[2]).toEqual(values(cpuEdges.argmax()));
    expectClose(r1[3], values(cpuFactored.logPartition()), 1e-10, 1e-10);
    const placed = new LinearChainCRF(edges, { lengths, device: 'cuda:1' });
    expectClose(values(placed.marginals()), values(cpuEdges.marginals()), 1e-10, 1e-10);
    placed.dispose();
  });

  test('TreeCRF on cuda:1 equals cuda:0 and the CPU', () => {
    const spans = randomTensor([2, 5, 5], random, 1);
    const cpu = new TreeCRF(spans, { lengths: [5, 3] });
    const run = (index: number): number[][] => {
      const t = new TreeCRF(spans.toDevice(index), { lengths: [5, 3] });
      return [values(onDevice(t.logPartition(), index)), values(onDevice(t.marginals(), index))];
    };
    const [r0, r1] = [run(0), run(1)];
    expect(r1).toEqual(r0);
    expectClose(r1[0], values(cpu.logPartition()), 1e-10, 1e-10);
    expectClose(r1[1], values(cpu.marginals()), 1e-10, 1e-10);
  });

  test('SemiMarkovCRF, AlignmentCRF and HMM on cuda:1 equal cuda:0 and the CPU', () => {
    const edges = randomTensor([2, 4, 3, 2, 2], random);
    const moves = randomTensor([2, 4, 3, 3], random);
    const lengths = [5, 3];
    const semi = (x: AnyTensor): SemiMarkovCRF<AnyTensor> => new SemiMarkovCRF(x, { lengths });
    const align = (x: AnyTensor): AlignmentCRF<AnyTensor> => new AlignmentCRF(x, { lengths: [4, 2], targetLengths: [3, 2] });
    const run = (x: AnyTensor, index: number | undefined, y: AnyTensor): number[][] => {
      const [s, a] = [semi(x), align(y)];
      const out = [s.logPartition(), s.marginals(), a.logPartition(), a.marginals()];
      if (index !== undefined) out.forEach((t) => onDevice(t, index));
      return out.map(values);
    };
    const cpu = run(edges, undefined, moves);
    const r0 = run(edges.toDevice(0), 0, moves.toDevice(0));
    const r1 = run(edges.toDevice(1), 1, moves.toDevice(1));
    expect(r1).toEqual(r0);
    r1.forEach((v, i) => expectClose(v, cpu[i], 1e-10, 1e-10));
    // HMM parameters on the host, run on cuda:1: results come back to the host.
    const params = { transition: randomTensor([3, 3], random), emission: randomTensor([4, 3], random), init: randomTensor([3], random) };
    const observations = { data: Int32Array.from([0, 1, 2, 3, 3, 2]), shape: [2, 3] as [number, number] };
    const hostHmm = new HMM(params, observations);
    const onOne = new HMM(params, observations, { device: 'cuda:1' });
    expectClose(values(onOne.logPartition()), values(hostHmm.logPartition()), 1e-10, 1e-10);
    onOne.dispose();
    const deviceParams = { transition: params.transition.toDevice(1), emission: params.emission.toDevice(1), init: params.init.toDevice(1) };
    const hmm1 = new HMM(deviceParams, observations);
    expectClose(values(onDevice(hmm1.logPartition(), 1)), values(hostHmm.logPartition()), 1e-10, 1e-10);
    hmm1.dispose();
  });

  test('estimator steps on cuda:1 stay there and equal the CPU', () => {
    const [B, N, C] = [2, 4, 3];
    const scores = randomTensor([B, N - 1, C, C], random, 1.5);
    const target = randomTensor([B, N - 1, C, C], random);
    const decoder = (t: AnyTensor): estimators.Decoder<AnyTensor> => (z) => {
      const [zh, th] = [z instanceof DeviceTensor ? z.toHost() : z, target.toHost()];
      const per = zh.size / B;
      const loss = Array.from({ length: B }, (_, b) => {
        let sum = 0;
        for (let i = b * per; i < (b + 1) * per; i++) sum += zh.data[i] * th.data[i];
        return sum;
      });
      return { loss, gradZ: t };
    };
    const target1 = target.toDevice(1);
    for (const make of [() => estimators.marginals(), () => estimators.spigot({ step: 0.5 }), () => estimators.sparseMarginalization(), () => estimators.reinforce({ samples: 2, seed: 7 })]) {
      const expected = make().step(new LinearChainCRF(scores), decoder(target));
      const result = make().step(new LinearChainCRF(scores.toDevice(1)), decoder(target1));
      expectClose(Array.from(result.loss), Array.from(expected.loss), 1e-9, 1e-9);
      expectClose(values(onDevice(result.gradScores as AnyTensor, 1)), values(expected.gradScores as AnyTensor), 1e-8, 1e-8);
    }
    target1.dispose();
  });

  test('async jobs on both devices at once run on the device of their inputs', async () => {
    const x = randomTensor([5, 33], random, 2);
    const expected = values(new Categorical(x).marginals());
    const edges = randomTensor([2, 4, 3, 3], random, 2);
    const chainExpected = values(new LinearChainCRF(edges).marginals());
    const jobs: Promise<[number, number[], number[]]>[] = [];
    for (let i = 0; i < 8; i++) {
      const index = i % 2;
      const c = new Categorical(x.toDevice(index));
      const crf = new LinearChainCRF(edges.toDevice(index));
      jobs.push(
        Promise.all([c.marginalsAsync(), crf.marginalsAsync()]).then(([m, cm]) => {
          onDevice(m, index);
          onDevice(cm as AnyTensor, index);
          const result: [number, number[], number[]] = [index, values(m), values(cm as AnyTensor)];
          c.dispose();
          crf.dispose();
          return result;
        }),
      );
    }
    for (const [, m, cm] of await Promise.all(jobs)) {
      expectClose(m, expected, 1e-12, 1e-12);
      expectClose(cm, chainExpected, 1e-10, 1e-10);
    }
  });

  test('inputs on different devices raise TypeError ERR_MIXED_DEVICES naming them', () => {
    const x = randomTensor([2, 4], random);
    const on0 = new Categorical(x.toDevice(0));
    const grad1 = x.toDevice(1);
    expect(errorCode(() => on0.marginalsBackward(grad1))).toBe('TypeError:ERR_MIXED_DEVICES');
    expect(() => on0.marginalsBackward(grad1)).toThrow(TypeError);
    expect(errorMessage(() => on0.marginalsBackward(grad1))).toMatch(/cuda:1.*cuda:0|cuda:0.*cuda:1/);
    const unary = randomTensor([2, 3, 2], random).toDevice(0);
    const transition = randomTensor([2, 2], random).toDevice(1);
    expect(errorCode(() => new LinearChainCRF({ unary, transition }))).toBe('TypeError:ERR_MIXED_DEVICES');
    expect(errorMessage(() => new LinearChainCRF({ unary, transition }))).toContain('cuda:1');
    // A device option naming another device than the DeviceTensors are on.
    expect(errorCode(() => new Categorical(grad1, { device: 'cuda:0' }))).toBe('TypeError:ERR_MIXED_DEVICES');
    // { device: 'cuda' } keeps device tensors where they are.
    const kept = new Categorical(grad1, { device: 'cuda' });
    onDevice(kept.logPartition(), 1);
    [unary, transition, grad1].forEach((t) => t.dispose());
  });
});
