/** Calling the user's decoder, with its output checked. @internal */
import { rangeError, typeError } from '../errors';
import { leavesOf, lossesOf } from './parts';
import { AnyTensor, DeviceTensor, Tensor } from '../tensor';
import type { Decoder, LatentStructure, Parts } from './types';

/** The decoder's loss `[B]` and, when `needGrad`, its gradient (required then), for call number `call`. */
export function decode<Z extends Parts>(
  decoder: Decoder<Z>,
  z: Z,
  batch: number,
  call: number,
  needGrad: boolean,
): { loss: Float64Array; gradZ: Z | undefined } {
  if (typeof decoder !== 'function') throw typeError('ERR_INVALID_ARG_TYPE', 'decoder must be a function (z) => { loss, gradZ? }');
  const output = decoder(z, { sample: call });
  if (output === null || typeof output !== 'object') {
    throw typeError('ERR_INVALID_ARG_TYPE', `decoder call ${call} must return { loss, gradZ? }`);
  }
  const loss = lossesOf(output.loss, batch, call);
  if (!needGrad) return { loss, gradZ: output.gradZ };
  if (output.gradZ === undefined) {
    throw typeError('ERR_INVALID_ARG_TYPE', `decoder call ${call} must return gradZ: this estimator differentiates through z`);
  }
  const expected = leavesOf(z);
  const received = leavesOf(output.gradZ, 'gradZ');
  if (received.length !== expected.length || received.some((leaf, i) => leaf.size !== expected[i].size)) {
    throw typeError(
      'ERR_INVALID_ARG_TYPE',
      `decoder call ${call}: gradZ must be laid out like z: expected ${layoutOf(z, expected)}, got ${layoutOf(output.gradZ, received)}`,
    );
  }
  return { loss, gradZ: output.gradZ };
}

/** What a value is, for messages: null, an array, a Tensor, a class name, or its typeof. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Tensor || value instanceof DeviceTensor) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no class'})`;
  return typeof value;
}

/**
 * Checks the arguments of an estimator's step (or forward, without a decoder): a structure (an object with
 * the {@link LatentStructure} building blocks: Categorical, LinearChainCRF, TreeCRF, …) and a decoder function.
 */
export function checkStepArguments(estimator: string, structure: unknown, decoder?: unknown, needDecoder = true): void {
  const s = structure as Partial<Record<keyof LatentStructure, unknown>> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    s instanceof Tensor ||
    s instanceof DeviceTensor ||
    typeof s.batch !== 'number' ||
    typeof s.marginals !== 'function' ||
    typeof s.partScores !== 'function' ||
    typeof s.partsBackward !== 'function'
  ) {
    throw typeError(
      'ERR_INVALID_ARG_TYPE',
      `${estimator}: structure must be a structure (Categorical, LinearChainCRF, HMM, SemiMarkovCRF, AlignmentCRF, ` +
        `TreeCRF, DependencyCRF, NonProjectiveDependencyCRF or another LatentStructure), got ${describe(structure)}`,
    );
  }
  if (needDecoder && typeof decoder !== 'function') {
    throw typeError('ERR_INVALID_ARG_TYPE', `${estimator}: decoder must be a function (z) => { loss, gradZ? }, got ${describe(decoder)}`);
  }
}

/** The shapes of parts, for messages: `[2, 3]`, or `{ transition: [2, 3, 3], unary: [2, 4, 3] }`. */
function layoutOf(z: Parts, leaves: AnyTensor[]): string {
  const shape = (t: AnyTensor): string => `[${t.shape.join(', ')}]`;
  if (z instanceof Tensor || z instanceof DeviceTensor) return shape(z);
  return `{ ${Object.keys(z)
    .sort()
    .map((key, i) => `${key}: ${shape(leaves[i])}`)
    .join(', ')} }`;
}

/** Weights of one sample with the same weight in every instance. */
export function uniformWeights(batch: number, weight: number): Float64Array {
  return new Float64Array(batch).fill(weight);
}

/** A non-negative integer seed option (default 0). */
export function seedOption(seed: unknown, name = 'seed'): number {
  const value = seed ?? 0;
  if (typeof value !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw rangeError('ERR_OUT_OF_RANGE', `${name} must be a non-negative safe integer, got ${value}`);
  }
  return value;
}

/** A positive finite number option with a default. */
export function positiveOption(value: unknown, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a number, got ${typeof v}`);
  if (!(v > 0) || !Number.isFinite(v)) throw rangeError('ERR_OUT_OF_RANGE', `${name} must be a finite number > 0, got ${v}`);
  return v;
}
