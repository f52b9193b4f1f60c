/**
 * The categorical suite: the normalizers and samplers over `[B, K]` rows, CPU and CUDA (device-resident and host
 * arrays). Memory-bound by design: bytes = inputs read once + outputs written once, against the bandwidth ceiling.
 */
import {
  AnyTensor,
  OpOptions,
  Tensor,
  argmax,
  entmax15,
  entmaxBisect,
  gumbelMax,
  gumbelSoftmax,
  logsumexp,
  softmax,
  softmaxBackward,
  sparsemax,
} from '../lib';
import { Row, SuiteContext, bytesPerElement, filled, selected, fixedReps, throughputOf, timeOnBackends } from './harness';

interface CategoricalOp {
  name: string;
  /** Elements read and written for B rows of K. */
  traffic: (B: number, K: number) => number;
  /** `{ device: 'cuda' }` on host data: copies in, runs on CUDA, copies the result back. */
  run: (x: AnyTensor, placement?: OpOptions) => unknown;
}

const OPS: CategoricalOp[] = [
  { name: 'logsumexp', traffic: (B, K) => B * K + B, run: (x, o) => logsumexp(x, o) },
  { name: 'softmax', traffic: (B, K) => 2 * B * K, run: (x, o) => softmax(x, o) },
  { name: 'softmaxBackward', traffic: (B, K) => 3 * B * K, run: (x, o) => softmaxBackward(x, x, o) },
  { name: 'sparsemax', traffic: (B, K) => 2 * B * K, run: (x, o) => sparsemax(x, o) },
  { name: 'entmax15', traffic: (B, K) => 2 * B * K, run: (x, o) => entmax15(x, o) },
  { name: 'entmaxBisect(1.3)', traffic: (B, K) => 2 * B * K, run: (x, o) => entmaxBisect(x, 1.3, o) },
  { name: 'argmax', traffic: (B, K) => 2 * B * K, run: (x, o) => argmax(x, o) },
  { name: 'gumbelSoftmax', traffic: (B, K) => 2 * B * K, run: (x, o) => gumbelSoftmax(x, { temperature: 0.5, seed: 1, ...o }) },
  { name: 'gumbelMax(S=1)', traffic: (B, K) => 2 * B * K, run: (x, o) => gumbelMax(x, { seed: 1, ...o }) },
];

/** The categorical ops at `options.categorical.sizes`; rows/s = B / time. */
export function categoricalSuite(context: SuiteContext): Row[] {
  const { options } = context;
  const rows: Row[] = [];
  for (const dtype of options.dtypes) {
    for (const [B, K] of options.categorical.sizes) {
      const host = new Tensor(filled(B * K, dtype, 0, 3), [B, K]);
      const device = context.cuda ? host.toDevice() : undefined;
      for (const op of selected(OPS, options.categorical.ops)) {
        const bytes = op.traffic(B, K) * bytesPerElement(dtype);
        const bodies = {
          cpu: () => op.run(host),
          device: device && (() => op.run(device)),
          hostArrays: () => op.run(host, { device: 'cuda' }),
        };
        for (const { backend, measured } of timeOnBackends(context, bodies, fixedReps(options.reps))) {
          rows.push({
            family: 'categorical',
            suite: 'categorical',
            op: op.name,
            size: `${B} × ${K}`,
            elements: B * K,
            dtype,
            itemUnit: 'rows',
            ...throughputOf(context, backend, measured, bytes, B),
          });
        }
      }
      device?.dispose();
    }
  }
  return rows;
}
