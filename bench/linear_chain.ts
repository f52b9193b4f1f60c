/**
 * The LinearChainCRF suite: every building block at the sizes of issue 3 ((B, N, C) = (32, 25, 20),
 * (256, 128, 32), (1024, 64, 16)), edge and factored forms, CPU and CUDA (host arrays and device-resident).
 *
 * Roofline (KERNELS.md): the edge form must read the potentials B·(N−1)·C² once and, for the ops that
 * return parts, write as many — memory-bound; the factored form moves only B·N·C + C² inputs and is
 * latency-bound on the chain of N steps, so its tokens/s is the figure to read. Each forward or backward
 * step costs C² exp per sequence; the table's GB/s counts only the compulsory bytes.
 */
import { AnyTensor, LinearChainCRF, Tensor } from '../lib';
import { resultToHost } from '../lib/ops/placement';
import { Row, SuiteOptions, argument, release, time } from './harness';

type Potentials = AnyTensor | { unary: AnyTensor; transition: AnyTensor };

interface ChainOp {
  name: string;
  /** Elements moved given the element counts of the inputs and of the parts output. */
  traffic: (inputs: number, parts: number, B: number) => number;
  run: (crf: LinearChainCRF) => unknown;
}

const OPS: ChainOp[] = [
  { name: 'logPartition', traffic: (i, _p, B) => i + B, run: (crf) => crf.logPartition() },
  { name: 'marginals', traffic: (i, p) => i + p, run: (crf) => crf.marginals() },
  { name: 'marginalsBackward', traffic: (i, p) => i + 2 * p, run: (crf) => crf.marginalsBackward(gradOf(crf)) },
  { name: 'entropy', traffic: (i, _p, B) => i + B, run: (crf) => crf.entropy() },
  { name: 'argmax', traffic: (i, p) => i + p, run: (crf) => crf.argmaxDecoded() },
  { name: 'sample(1)', traffic: (i, p) => i + p, run: (crf) => crf.sampleDecoded(1, { seed: 1 }) },
];

/** A fixed gradient over the parts (the marginals layout), cached per structure. */
const grads = new WeakMap<LinearChainCRF, unknown>();
function gradOf(crf: LinearChainCRF): never {
  if (!grads.has(crf)) grads.set(crf, crf.marginals());
  return grads.get(crf) as never;
}

function filled(size: number, dtype: string, seed: number): Tensor['data'] {
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin((i + seed) * 12.9898) * 2;
  return data;
}

function potentialsOf(form: string, B: number, N: number, C: number, dtype: string): Potentials {
  if (form === 'edges') return new Tensor(filled(B * (N - 1) * C * C, dtype, 1), [B, N - 1, C, C]);
  return { unary: new Tensor(filled(B * N * C, dtype, 2), [B, N, C]), transition: new Tensor(filled(C * C, dtype, 3), [C, C]) };
}

function toDevice(p: Potentials): Potentials {
  return 'unary' in p ? { unary: p.unary.toDevice(), transition: p.transition.toDevice() } : p.toDevice();
}

export function chainSuite(options: SuiteOptions): Row[] {
  const sizes = argument('chain-sizes', '32x25x20,256x128x32,1024x64x16')
    .split(',')
    .map((s) => s.split('x').map(Number) as [number, number, number]);
  const wanted = argument('chain-ops', OPS.map((o) => o.name).join(',')).split(',');
  const rows: Row[] = [];
  for (const dtype of options.dtypes) {
    const element = dtype === 'float64' ? 8 : 4;
    for (const [B, N, C] of sizes) {
      for (const form of ['edges', 'factored']) {
        const host = potentialsOf(form, B, N, C, dtype);
        const inputs = form === 'edges' ? B * (N - 1) * C * C : B * N * C + C * C;
        const parts = form === 'edges' ? inputs : B * N * C + B * C * C;
        const device = options.gpu ? toDevice(host) : undefined;
        const cpuCrf = new LinearChainCRF(host);
        const gpuCrf = device ? new LinearChainCRF(device) : undefined;
        for (const op of OPS.filter((o) => wanted.includes(o.name))) {
          const bytes = op.traffic(inputs, parts, B) * element;
          const record = (backend: string, ms: number, ceiling: number) => {
            const gbPerS = bytes / (ms * 1e6);
            rows.push({
              suite: `chain (${form})`,
              op: op.name,
              backend,
              size: `${B} × ${N} × ${C}`,
              dtype,
              medianMs: ms,
              gbPerS,
              itemsPerS: (B * N) / (ms / 1e3),
              rooflineFraction: gbPerS / ceiling,
            });
          };
          record('cpu', time(options.reps, () => op.run(cpuCrf), false), options.cpuCeiling);
          if (gpuCrf) {
            record('cuda (device-resident)', time(options.reps, () => op.run(gpuCrf), true), options.gpuCeiling);
            if (op.name !== 'marginalsBackward') {
              const roundTrip = () => {
                const crf = new LinearChainCRF(host, { device: 'cuda' });
                const result = resultToHost(op.run(crf));
                crf.dispose();
                return result;
              };
              record('cuda (host arrays)', time(options.reps, roundTrip, true), options.gpuCeiling);
            }
          }
        }
        release(grads.get(cpuCrf));
        if (gpuCrf) release(grads.get(gpuCrf));
        if (device) release(device);
      }
    }
  }
  return rows;
}
