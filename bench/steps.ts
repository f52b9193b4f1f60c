/**
 * Full estimator steps (issue 20): `estimator.step(structure, decoder)` timed end to end — the structure built from
 * the step's scores, the estimator's building blocks, the decoder's calls and the gradient w.r.t. the scores — for a
 * few representative estimators (`marginals`, `sparsemap`, `perturbAndMap` with the identity backward (straight-
 * through), `reinforce` with 4 samples and the leave-one-out baseline) on each structure at the bench sizes: chain
 * (edges `[B, N−1, C, C]`) (32, 25, 20), TreeCRF and DependencyCRF (32, 25), SemiMarkovCRF (32, 25, 4, 10),
 * AlignmentCRF (32, 25, 25).
 *
 * Rows: CPU (all threads, and one thread), and when a GPU is usable CUDA with host arrays (`{ device: 'cuda' }`:
 * the scores copied in, every result brought back) and CUDA device-resident (the scores a DeviceTensor, the
 * results DeviceTensors). Each CUDA row also reports the library's host ↔ device bytes per step (`cudaTransfers()`
 * over one extra step after the timing), apart from the toy decoder's own copies.
 *
 * The toy decoder is linear: L_b(z) = ⟨w, z_b⟩ with a fixed w over the parts, so ∂L/∂z = w (kept where z is: a host
 * tensor, or a DeviceTensor made once), its loss the library's per-instance dot where z lives (as the copy-count
 * parity suite's decoder): on device-resident rows only the B losses cross, counted in the decoder column apart from
 * the library's own copies.
 *
 * Items are instances (B per step); GB/s counts the scores read once and the gradient written once (2 × the
 * scores), as a floor only: the estimators read and write the parts several times.
 */
import {
  AlignmentCRF,
  AnyTensor,
  DType,
  DependencyCRF,
  DeviceTensor,
  LinearChainCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
  cudaTransfers,
  estimators,
  resetCudaTransfers,
  tensor,
} from '../lib';
import type { Decoder, Estimator, LatentStructure } from '../lib/estimators';
import { scoreOf } from '../lib/estimators/parts';
import { Backend, Row, SuiteContext, bytesPerElement, filledTensor, onCpu, release, throughputOf, timeOnBackends, timeWithin } from './harness';
import { StepStructure } from './options';

/** The estimators of the suite, by the name `--step-estimators` takes. */
export const STEP_ESTIMATORS: ReadonlyArray<{ name: string; make: () => Estimator }> = [
  { name: 'marginals', make: () => estimators.marginals() },
  { name: 'sparsemap', make: () => estimators.sparsemap() },
  { name: 'perturbAndMap', make: () => estimators.perturbAndMap({ backward: 'identity' }) },
  { name: 'reinforce(k=4)', make: () => estimators.reinforce({ samples: 4, baseline: 'leaveOneOut' }) },
];

/** A structure over one scores tensor, in the parts' layout (every structure here: parts = potentials). */
type AnyStructure = LatentStructure<AnyTensor, AnyTensor>;

interface StepVariant {
  structure: StepStructure;
  shape: number[];
  size: string;
  B: number;
  make: (scores: AnyTensor, device?: 'cuda') => AnyStructure;
}

/** The variants of `options.steps`: one size per structure. */
export function stepVariants(steps: {
  chain: [number, number, number];
  tree: [number, number];
  dependency: [number, number];
  semimarkov: [number, number, number, number];
  alignment: [number, number, number];
}): Record<StepStructure, StepVariant> {
  const [cB, cN, cC] = steps.chain;
  const [tB, tN] = steps.tree;
  const [dB, dN] = steps.dependency;
  const [sB, sN, sK, sC] = steps.semimarkov;
  const [aB, aN, aM] = steps.alignment;
  const as = (s: unknown): AnyStructure => s as AnyStructure;
  return {
    chain: { structure: 'chain', shape: [cB, cN - 1, cC, cC], size: `${cB} × ${cN} × ${cC}`, B: cB, make: (p, device) => as(new LinearChainCRF(p, { device })) },
    tree: { structure: 'tree', shape: [tB, tN, tN], size: `${tB} × ${tN}`, B: tB, make: (p, device) => as(new TreeCRF(p, { device })) },
    dependency: { structure: 'dependency', shape: [dB, dN, dN], size: `${dB} × ${dN}`, B: dB, make: (p, device) => as(new DependencyCRF(p, { device })) },
    semimarkov: { structure: 'semimarkov', shape: [sB, sN - 1, sK, sC, sC], size: `${sB} × ${sN} × ${sK} × ${sC}`, B: sB, make: (p, device) => as(new SemiMarkovCRF(p, { device })) },
    alignment: { structure: 'alignment', shape: [aB, aN, aM, 3], size: `${aB} × ${aN} × ${aM}`, B: aB, make: (p, device) => as(new AlignmentCRF(p, { device })) },
  };
}

/** Bytes the toy decoder itself copied (its B losses of device-resident z), summed while a counter is on. */
interface DecoderBytes {
  bytes: number;
}

/**
 * The linear toy decoder L_b(z) = ⟨w, z_b⟩, ∂L/∂z = w (the host w, or its device copy for device-resident z), the
 * loss by the per-instance dot where z lives. The bytes its own copies move are added to `counted`.
 */
function linearDecoder(w: Tensor, wDevice: DeviceTensor | undefined, B: number, counted: DecoderBytes): Decoder<AnyTensor> {
  return (z) => {
    const weights = z instanceof DeviceTensor && wDevice ? wDevice : w;
    const before = cudaTransfers().toHost.bytes;
    const loss = scoreOf(z, weights, B);
    counted.bytes += cudaTransfers().toHost.bytes - before;
    return { loss, gradZ: weights };
  };
}

/** The library's copies over one step (the decoder's own taken out), in bytes each way. */
function transfersOfOneStep(run: (counted: DecoderBytes) => unknown): { toDevice: number; toHost: number; decoder: number } {
  const counted: DecoderBytes = { bytes: 0 };
  resetCudaTransfers();
  release(run(counted));
  const t = cudaTransfers();
  return { toDevice: t.toDevice.bytes, toHost: t.toHost.bytes - counted.bytes, decoder: counted.bytes };
}

/** The steps suite: every `options.steps.structures` × `options.steps.estimators`, per dtype. */
export function stepsSuite(context: SuiteContext): Row[] {
  const { options } = context;
  const { budgetMs, minReps, maxReps } = options.treeTiming;
  const variants = stepVariants(options.steps);
  const chosen = STEP_ESTIMATORS.filter((e) => options.steps.estimators.includes(e.name));
  const rows: Row[] = [];
  for (const structureName of options.steps.structures) {
    const variant = variants[structureName];
    const elements = variant.shape.reduce((a, b) => a * b, 1);
    for (const dtype of options.dtypes) {
      const scores = filledTensor(variant.shape, dtype, 3);
      const w = tensor(filledWeights(elements, dtype), variant.shape);
      const scoresDevice = context.cuda ? scores.toDevice() : undefined;
      const wDevice = context.cuda ? w.toDevice() : undefined;
      try {
        for (const { name, make } of chosen) {
          // One estimator per backend: stateful ones (seeds, baselines) advance over the backend's own steps.
          const estimatorOf = new Map<string, Estimator>();
          const estimatorFor = (key: string): Estimator => {
            if (!estimatorOf.has(key)) estimatorOf.set(key, make());
            return estimatorOf.get(key)!;
          };
          const step = (key: string, input: AnyTensor, device: 'cuda' | undefined, counted: DecoderBytes): unknown => {
            const structure = variant.make(input, device);
            try {
              const result = estimatorFor(key).step(structure, linearDecoder(w, wDevice, variant.B, counted));
              // The identity backward (perturbAndMap) may hand back the decoder's own ∂L/∂z = w: not freed with the result.
              return result.gradScores === wDevice ? { ...result, gradScores: null } : result;
            } finally {
              structure.dispose?.();
            }
          };
          const ignored: DecoderBytes = { bytes: 0 };
          const bodies = {
            cpu: () => step('cpu', scores, undefined, ignored),
            device: scoresDevice && (() => step('device', scoresDevice, undefined, ignored)),
            hostArrays: () => step('host', scores, 'cuda', ignored),
          };
          const timer = (body: () => unknown, sync: boolean) => timeWithin(budgetMs, minReps, maxReps, body, sync);
          for (const { backend, measured } of timeOnBackends(context, bodies, timer)) {
            const transfers = onCpu(backend)
              ? null
              : transfersOfOneStep((counted) =>
                  backend === 'cuda (device-resident)' ? step('device', scoresDevice!, undefined, counted) : step('host', scores, 'cuda', counted),
                );
            rows.push(stepRow(context, backend, measured, { structure: structureName, estimator: name, size: variant.size, elements, dtype, B: variant.B, transfers }));
          }
        }
      } finally {
        release(scoresDevice);
        release(wDevice);
      }
    }
  }
  return rows;
}

/** The decoder's weights: small, of both signs, not aligned with the scores. */
function filledWeights(size: number, dtype: DType): Float32Array | Float64Array {
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.cos(i * 0.7) * 0.5;
  return data;
}

function stepRow(
  context: SuiteContext,
  backend: Backend,
  measured: { ms: number; reps: number },
  r: { structure: StepStructure; estimator: string; size: string; elements: number; dtype: DType; B: number; transfers: { toDevice: number; toHost: number; decoder: number } | null },
): Row {
  return {
    family: 'steps',
    suite: `steps (${r.structure})`,
    op: r.estimator,
    size: r.size,
    elements: r.elements,
    dtype: r.dtype,
    itemUnit: 'instances',
    ...throughputOf(context, backend, measured, 2 * r.elements * bytesPerElement(r.dtype), r.B),
    step: {
      stepsPerS: 1e3 / measured.ms,
      toDeviceBytesPerStep: r.transfers?.toDevice ?? null,
      toHostBytesPerStep: r.transfers?.toHost ?? null,
      decoderBytesPerStep: r.transfers?.decoder ?? null,
    },
  };
}
