/** Calling the user's decoder, with its output checked. @internal */
import { rangeError, typeError } from '../errors';
import { leavesOf, lossesOf } from './parts';
import type { Decoder, Parts } from './types';

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
  leavesOf(output.gradZ, 'gradZ').forEach((leaf, i) => {
    if (i >= expected.length || leaf.size !== expected[i].size) {
      throw typeError('ERR_INVALID_ARG_TYPE', `decoder call ${call}: gradZ must be laid out like z`);
    }
  });
  return { loss, gradZ: output.gradZ };
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
