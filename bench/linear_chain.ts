/**
 * The LinearChainCRF suite: every building block at the sizes of issue 3 ((B, N, C) = (32, 25, 20),
 * (256, 128, 32), (1024, 64, 16)), edge and factored forms, CPU and CUDA (host arrays and device-resident).
 *
 * Roofline (KERNELS.md): the edge form must read the potentials B·(N−1)·C² once and, for the ops that
 * return parts, write as many — memory-bound; the factored form moves only B·N·C + C² inputs and is
 * latency-bound on the chain of N steps, so its tokens/s is the figure to read. Each forward or backward
 * step costs C² exp per sequence; the table's GB/s counts only the compulsory bytes.
 */
import { AnyTensor, DType, LinearChainCRF } from '../lib';
import { Row, SuiteContext, bytesPerElement, filledTensor, hostRoundTrip, release, selected, fixedReps, throughputOf, timeOnBackends } from './harness';

type Potentials = AnyTensor | { unary: AnyTensor; transition: AnyTensor };

interface ChainOp {
  name: string;
  /** Elements moved given the element counts of the inputs and of the parts output. */
  traffic: (inputs: number, parts: number, B: number) => number;
  /** One call; `key` names the caller's buffers that outlive the call (the structure, or the host potentials). */
  run: (crf: LinearChainCRF, key: object) => unknown;
}

/** The `out` that 'marginals(out)' reuses, one per key (made by a first call without it). */
const outs = new WeakMap<object, unknown>();
function outFor(key: object, crf: LinearChainCRF): never {
  if (!outs.has(key)) outs.set(key, crf.marginals());
  return outs.get(key) as never;
}

const OPS: ChainOp[] = [
  { name: 'logPartition', traffic: (i, _p, B) => i + B, run: (crf) => crf.logPartition() },
  { name: 'marginals', traffic: (i, p) => i + p, run: (crf) => crf.marginals() },
  // The same with a reused output (a training loop's buffers): no new result, no first touch of its pages.
  { name: 'marginals(out)', traffic: (i, p) => i + p, run: (crf, key) => crf.marginals({ out: outFor(key, crf) }) },
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

type Form = 'edges' | 'factored';

function potentialsOf(form: Form, B: number, N: number, C: number, dtype: DType): Potentials {
  if (form === 'edges') return filledTensor([B, N - 1, C, C], dtype, 1);
  return { unary: filledTensor([B, N, C], dtype, 2), transition: filledTensor([C, C], dtype, 3) };
}

function toDevice(p: Potentials): Potentials {
  return 'unary' in p ? { unary: p.unary.toDevice(), transition: p.transition.toDevice() } : p.toDevice();
}

/** The ops measured for the requested ones: 'marginals' brings 'marginals(out)' beside it. */
export function chainOpsMeasured(requested: readonly string[]): string[] {
  return requested.includes('marginals') ? [...requested, 'marginals(out)'] : [...requested];
}

/** Every chain op at `options.chain.sizes`, both forms; tokens/s = B·N / time. */
export function chainSuite(context: SuiteContext): Row[] {
  const { options } = context;
  const rows: Row[] = [];
  for (const dtype of options.dtypes) {
    for (const [B, N, C] of options.chain.sizes) {
      for (const form of ['edges', 'factored'] as const) {
        const host = potentialsOf(form, B, N, C, dtype);
        const inputs = form === 'edges' ? B * (N - 1) * C * C : B * N * C + C * C;
        const parts = form === 'edges' ? inputs : B * N * C + B * C * C;
        const device = context.cuda ? toDevice(host) : undefined;
        const cpuCrf = new LinearChainCRF(host);
        const gpuCrf = device ? new LinearChainCRF(device) : undefined;
        for (const op of selected(OPS, chainOpsMeasured(options.chain.ops))) {
          const bytes = op.traffic(inputs, parts, B) * bytesPerElement(dtype);
          const bodies = {
            cpu: () => op.run(cpuCrf, cpuCrf),
            device: gpuCrf && (() => op.run(gpuCrf, gpuCrf)),
            // The gradient of marginalsBackward lives with one structure, so it has no host-array form here.
            hostArrays:
              op.name === 'marginalsBackward'
                ? undefined
                : () => hostRoundTrip(() => new LinearChainCRF(host, { device: 'cuda' }), (crf) => op.run(crf, host)),
          };
          for (const { backend, measured } of timeOnBackends(context, bodies, fixedReps(options.reps))) {
            rows.push({
              family: 'chain',
              suite: `chain (${form})`,
              op: op.name,
              size: `${B} × ${N} × ${C}`,
              elements: inputs,
              dtype,
              itemUnit: 'tokens',
              ...throughputOf(context, backend, measured, bytes, B * N),
            });
          }
        }
        release(grads.get(cpuCrf));
        if (gpuCrf) release(grads.get(gpuCrf));
        if (gpuCrf) release(outs.get(gpuCrf));
        if (device) release(device);
      }
    }
  }
  return rows;
}
