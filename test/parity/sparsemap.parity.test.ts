/**
 * CUDA/CPU parity of SparseMAP on the tree structures (TreeCRF unlabelled and labelled, DependencyCRF and
 * NonProjectiveDependencyCRF with one root or any number) and on LinearChainCRF (edges): the same solver runs on a block per instance with the
 * MAP oracles on the device, so μ, the supports, weights, iterations and the backward must equal the CPU ones.
 * Host potentials with `{ device: 'cuda' }` and DeviceTensor potentials are both compared. Skips, saying so,
 * when no GPU is usable.
 */
import { AnyTensor, DependencyCRF, DeviceTensor, LinearChainCRF, NonProjectiveDependencyCRF, Tensor, TreeCRF, TreeSparseMap } from '../../lib';
import { values } from '../arcs';
import { errorCode, errorMessage, expectClose, randomTensor, rng, toFloat32 } from '../helpers';
import { cuda, gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('SparseMAP parity');

interface Solver {
  readonly potentials: AnyTensor;
  sparsemap(): TreeSparseMap<AnyTensor>;
  sparsemapAsync(): Promise<TreeSparseMap<AnyTensor>>;
  sparsemapBackward(grad: AnyTensor, solution?: TreeSparseMap<AnyTensor>): AnyTensor;
  dispose(): void;
}

type Make = (p: AnyTensor, lengths: number[], device?: 'cpu' | 'cuda') => Solver;

const structures: [string, number[], Make][] = [
  ['TreeCRF', [4, 9, 9], (p, lengths, device) => new TreeCRF(p, { lengths, device })],
  ['TreeCRF labelled', [3, 7, 7, 3], (p, lengths, device) => new TreeCRF(p, { lengths, device })],
  ['DependencyCRF', [4, 9, 9], (p, lengths, device) => new DependencyCRF(p, { lengths, device })],
  ['DependencyCRF any roots', [4, 9, 9], (p, lengths, device) => new DependencyCRF(p, { lengths, device, singleRoot: false })],
  ['NonProjectiveDependencyCRF', [4, 9, 9], (p, lengths, device) => new NonProjectiveDependencyCRF(p, { lengths, device })],
  ['LinearChainCRF edges', [4, 6, 3, 3], (p, lengths, device) => new LinearChainCRF(p, { lengths, device })],
  [
    'NonProjectiveDependencyCRF any roots',
    [4, 9, 9],
    (p, lengths, device) => new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot: false }),
  ],
];

describeGpu('CUDA SparseMAP matches the CPU backend', () => {
  test.each(structures)('%s', (_name, shape, make) => {
    const random = rng(shape.reduce((a, b) => a * b, 7));
    const B = shape[0];
    const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? shape[1] : b === B - 1 ? 1 : 1 + Math.floor(random() * shape[1])));
    const p64 = randomTensor(shape, random, 1.5);
    const g64 = randomTensor(shape, random);
    for (const dtype of ['float64', 'float32'] as const) {
      const p = dtype === 'float64' ? p64 : toFloat32(p64);
      const g = dtype === 'float64' ? g64 : toFloat32(g64);
      const tol = dtype === 'float64' ? 1e-9 : 1e-4;
      const cpu = make(p, lengths, 'cpu');
      const expected = cpu.sparsemap();
      const expectedBackward = values(cpu.sparsemapBackward(g, expected));
      const device = p.toDevice();
      const gDevice = g.toDevice();
      for (const gpu of [make(p, lengths, 'cuda'), make(device, lengths)]) {
        const onDevice = gpu.potentials === device; // DeviceTensor potentials: results stay on the GPU
        const got = gpu.sparsemap();
        expect(got.marginals instanceof DeviceTensor).toBe(onDevice);
        expectClose(values(got.marginals), values(expected.marginals as Tensor), tol, tol);
        expect(Array.from(got.iterations)).toEqual(Array.from(expected.iterations));
        expect(got.converged).toEqual(expected.converged);
        for (let b = 0; b < B; b++) {
          expect(got.support[b].map((s) => Array.from(s))).toEqual(expected.support[b].map((s) => Array.from(s)));
          expectClose(Array.from(got.weights[b]), Array.from(expected.weights[b]), tol, tol);
        }
        expectClose(values(gpu.sparsemapBackward(onDevice ? gDevice : g, got)), expectedBackward, tol, tol);
        gpu.dispose();
      }
      cpu.dispose();
      device.dispose();
      gDevice.dispose();
    }
  });
});

describeGpu('CUDA SparseMAP part count', () => {
  // An instance of more than 2^31 - 1 parts needs scores of 2^31 elements (8 GiB of float32) on the device: run
  // where the device has the room (a GPU, or the emulated device with LATENT_STRUCT_EMULATED_MEMORY_MB=9000).
  const room = (cuda.device?.totalMemory ?? 0) >= 8.5 * 2 ** 30;
  const roomTest = room ? test : test.skip;
  if (!room) console.log(`CUDA SparseMAP part-count tests skipped: the device has ${cuda.device?.totalMemory} bytes, under 8.5 GiB`);

  const cases: [string, number[], string, (p: AnyTensor) => Solver][] = [
    ['LinearChainCRF (N-1)·C²', [1, 1, 46341, 46341], '^edges \\[1, 1, 46341, 46341\\] has \\(N-1\\)·C² = 2147488281 parts', (p) => new LinearChainCRF(p)],
    ['TreeCRF N²·L', [1, 2, 2, 2 ** 29], '^spans \\[1, 2, 2, 536870912\\] has N²·L = 2147483648 parts', (p) => new TreeCRF(p)],
  ];
  roomTest.each(cases)('%s past 2^31 - 1: RangeError ERR_SIZE_OVERFLOW naming the scores, before any allocation or kernel', async (_name, shape, message, make) => {
    const host = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const device = host.toDevice();
    try {
      const crf = make(device);
      expect(errorCode(() => crf.sparsemap())).toBe('RangeError:ERR_SIZE_OVERFLOW');
      expect(errorMessage(() => crf.sparsemap())).toMatch(new RegExp(message));
      await expect(crf.sparsemapAsync()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SIZE_OVERFLOW' });
      const width = shape.length === 4 && shape[1] === 2 && shape[2] === 2 ? 9 : 2;
      const solution = { support: [[new Int32Array(width)]], weights: [Float64Array.of(1)] } as unknown as TreeSparseMap<AnyTensor>;
      expect(errorCode(() => crf.sparsemapBackward(device, solution))).toBe('RangeError:ERR_SIZE_OVERFLOW');
    } finally {
      device.dispose();
    }
  });
});
