/**
 * CUDA/CPU parity of the linear chain's topk(k) (k-best Viterbi, a block per sequence and a thread per label of each
 * position): LinearChainCRF in the edge form and the factored form with a shared [C, C] and a per-sequence
 * [B, C, C] transition, and HMM, in float32 and float64, with mixed lengths (length 1 included), −Infinity masks,
 * integer scores (ties), C above a warp (several warps per block) and k past the number of labellings (the
 * −Infinity tail): DeviceTensor potentials (device-resident results) and `{ device: 'cuda' }` on host potentials
 * (host results) give the CPU backend's labels, scores and parts exactly (the sweep only adds, in the same order on
 * both backends). Correctness of the CPU results is test/topk_chain.test.ts's job. Sizes stay small: the emulated
 * device runs a fiber per thread.
 */
import { AnyTensor, ChainTopk, DeviceTensor, HMM, LinearChainCRF, Tensor } from '../../lib';
import { randomTensor, rng, toFloat32 } from '../helpers';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('linear-chain topk parity');

const hostData = (t: AnyTensor): number[] => Array.from((t instanceof DeviceTensor ? t.toHost() : (t as Tensor)).data);

type Potentials = Tensor | { unary: Tensor; transition: Tensor };
type Placed = AnyTensor | { unary: AnyTensor; transition: AnyTensor };

/** The result's tensors (score, then the parts) in a fixed order. */
function tensorsOf(r: ChainTopk<Placed>): AnyTensor[] {
  const parts = r.parts as AnyTensor | { unary: AnyTensor; transition: AnyTensor };
  return [r.score, ...('unary' in parts ? [parts.unary, parts.transition] : [parts])];
}

function expectSame(device: ChainTopk<Placed>, cpu: ChainTopk<Placed>, deviceResident: boolean): void {
  expect(Array.from(device.labels)).toEqual(Array.from(cpu.labels));
  const [d, c] = [tensorsOf(device), tensorsOf(cpu)];
  expect(d.length).toBe(c.length);
  d.forEach((t, i) => {
    expect(t instanceof DeviceTensor).toBe(deviceResident);
    expect(t.shape).toEqual(c[i].shape);
    expect(hostData(t)).toEqual(hostData(c[i]));
  });
}

const modes = ['continuous', 'masked', 'ties'] as const;
const dtypes = ['float64', 'float32'] as const;
const forms = ['edges', 'shared', 'batched'] as const;

/** Random potentials of a form (one stream), with 30% −Infinity entries off the all-0 labelling, or integer scores. */
function potentialsOf(form: (typeof forms)[number], B: number, N: number, C: number, seed: number, mode: (typeof modes)[number]): Potentials {
  const random = rng(seed);
  const make = (shape: number[], zeroFirst: number): Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = mode === 'ties' ? new Tensor(Float64Array.from({ length: size }, () => Math.floor(random() * 2)), shape) : randomTensor(shape, random);
    if (mode === 'masked') {
      for (let i = 0; i < size; i++) if (random() < 0.3) t.data[i] = -Infinity;
      for (let i = 0; i < size; i += zeroFirst) t.data[i] = 0;
    }
    return t;
  };
  if (form === 'edges') return make([B, N - 1, C, C], C * C);
  return { unary: make([B, N, C], C), transition: make(form === 'shared' ? [C, C] : [B, C, C], C * C) };
}

const float32 = (p: Potentials): Potentials => (p instanceof Tensor ? toFloat32(p) : { unary: toFloat32(p.unary), transition: toFloat32(p.transition) });
const toDevice = (p: Potentials): DeviceTensor | { unary: DeviceTensor; transition: DeviceTensor } =>
  p instanceof Tensor ? p.toDevice() : { unary: p.unary.toDevice(), transition: p.transition.toDevice() };
const dispose = (p: DeviceTensor | { unary: DeviceTensor; transition: DeviceTensor }): void =>
  p instanceof DeviceTensor ? p.dispose() : (p.unary.dispose(), p.transition.dispose());

describeGpu('CUDA linear-chain topk matches the CPU backend', () => {
  test.each(forms.flatMap((form) => dtypes.flatMap((dtype) => modes.map((mode) => [form, dtype, mode] as const))))(
    'LinearChainCRF (%s), %s, %s',
    async (form, dtype, mode) => {
      // N = 5, C = 3: 243, 3 and 27 labellings; then C = 40 (two warps per block), 1600 and 40.
      const shapes: [number, number, number, number[], number[]][] = [
        [3, 5, 3, [5, 1, 3], [1, 40, 300]],
        [2, 2, 40, [2, 1], [7]],
      ];
      for (const [B, N, C, lengths, ks] of shapes) {
        let p = potentialsOf(form, B, N, C, 1 + C, mode);
        if (dtype === 'float32') p = float32(p);
        for (const k of ks) {
          const cpu = new LinearChainCRF(p, { lengths }).topk(k);
          const resident = toDevice(p);
          const crf = new LinearChainCRF(resident, { lengths });
          expectSame(k === 40 ? await crf.topkAsync(k) : crf.topk(k), cpu, true);
          dispose(resident);
          const moved = new LinearChainCRF(p, { lengths, device: 'cuda' });
          expectSame(moved.topk(k), cpu, false);
          moved.dispose();
        }
      }
    },
  );

  test.each(dtypes)('HMM, %s', (dtype) => {
    const [B, N, C, V] = [3, 4, 3, 4];
    const random = rng(7);
    const cast = (t: Tensor): Tensor => (dtype === 'float32' ? toFloat32(t) : t);
    const params = { transition: cast(randomTensor([C, C], random)), emission: cast(randomTensor([V, C], random)), init: cast(randomTensor([C], random)) };
    params.transition.data[1] = -Infinity;
    const observations = { data: Int32Array.from({ length: B * N }, () => Math.floor(random() * V)), shape: [B, N] as [number, number] };
    const lengths = [4, 1, 2];
    for (const k of [1, 5, 90]) {
      const cpu = new HMM(params, observations, { lengths }).topk(k);
      const resident = { transition: params.transition.toDevice(), emission: params.emission.toDevice(), init: params.init.toDevice() };
      const hmm = new HMM(resident, observations, { lengths });
      expectSame(hmm.topk(k), cpu, true);
      hmm.dispose();
      Object.values(resident).forEach((t) => t.dispose());
      const moved = new HMM(params, observations, { lengths, device: 'cuda' });
      expectSame(moved.topk(k), cpu, false);
      moved.dispose();
    }
  });
});
