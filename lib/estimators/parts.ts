/**
 * Arithmetic over {@link Parts} (one tensor or named tensors) for the estimators: per-instance linear
 * combinations, dot products, masks and slices, by native kernels (cpp/cpu/parts_ops.cc, cuda/parts_ops.cu) where
 * the parts live. For DeviceTensor parts nothing proportional to the parts crosses to the host: only per-instance
 * coefficients (up) and per-instance dot products (down), O(B) scalars each. Sums are in float64; results take the
 * layout, dtype and device of a template. @internal
 */
import { rangeError, typeError } from '../errors';
import { native } from '../native';
import { AnyTensor, DeviceTensor, Tensor, fromNative, toNative } from '../tensor';
import type { Parts } from './types';

/** Whether parts are a single tensor. */
function isTensor(z: Parts): z is AnyTensor {
  return z instanceof Tensor || z instanceof DeviceTensor;
}

/** The tensors of parts, in a fixed order (sorted names). */
export function leavesOf(z: Parts, name = 'parts'): AnyTensor[] {
  if (z === null || typeof z !== 'object') throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a Tensor or an object of tensors`);
  if (isTensor(z)) return [z];
  const keys = Object.keys(z).sort();
  return keys.map((key) => {
    const leaf = z[key];
    if (!(leaf instanceof Tensor || leaf instanceof DeviceTensor)) {
      throw typeError('ERR_INVALID_ARG_TYPE', `${name}.${key} must be a Tensor or DeviceTensor`);
    }
    return leaf;
  });
}

/** Parts laid out like `like` from its leaves (in {@link leavesOf} order). */
export function rebuild<Z extends Parts>(like: Z, leaves: AnyTensor[]): Z {
  if (isTensor(like)) return leaves[0] as Z;
  const keys = Object.keys(like).sort();
  return Object.fromEntries(keys.map((key, i) => [key, leaves[i]])) as Z;
}

/**
 * `leaf` with the dtype and place of `template` (itself when they match; a converted copy otherwise, e.g. a
 * decoder's host gradient for device parts — the only case where parts cross, at the caller's choice).
 */
function alignedWith(leaf: AnyTensor, template: AnyTensor): { tensor: AnyTensor; temporary: boolean } {
  if (leaf.size !== template.size) {
    throw rangeError('ERR_SHAPE_MISMATCH', `parts of shape [${leaf.shape.join(', ')}] where [${template.shape.join(', ')}] was expected`);
  }
  const onDevice = template instanceof DeviceTensor;
  if ((leaf instanceof DeviceTensor) === onDevice && leaf.dtype === template.dtype) return { tensor: leaf, temporary: false };
  const host = leaf instanceof DeviceTensor ? leaf.toHost() : leaf;
  const cast = host.dtype === template.dtype ? host : new Tensor(template.dtype === 'float64' ? Float64Array.from(host.data) : Float32Array.from(host.data), host.shape);
  return { tensor: template instanceof DeviceTensor ? cast.toDevice(template.deviceIndex) : cast, temporary: onDevice };
}

/** One term of a combination: coefficient (one number, or one per instance `[B]`) times parts. */
export interface Term<Z extends Parts> {
  coef: number | ArrayLike<number>;
  parts: Z;
}

/**
 * Σ_t coef_t · parts_t, laid out like `like`; per-instance coefficients scale each instance's block (the leading
 * `[B]` of every tensor). Terms with a zero coefficient are skipped, so their −Infinity entries do not matter.
 * Per-instance coefficients need B = their length; a combination of scalar coefficients only treats each leaf
 * as one block.
 */
export function combine<Z extends Parts>(like: Z, terms: Term<Z>[]): Z {
  const templates = leavesOf(like);
  const perInstance = terms.find((t) => typeof t.coef !== 'number');
  const batch = perInstance === undefined ? 1 : (perInstance.coef as ArrayLike<number>).length;
  const coefs = new Float64Array(terms.length * batch);
  terms.forEach(({ coef }, t) => {
    if (typeof coef === 'number') coefs.fill(coef, t * batch, (t + 1) * batch);
    else if (coef.length !== batch) throw rangeError('ERR_SHAPE_MISMATCH', `per-instance coefficients of ${coef.length} instances where ${batch} were expected`);
    else for (let b = 0; b < batch; b++) coefs[t * batch + b] = coef[b];
  });
  const leavesOfTerms = terms.map(({ parts }) => leavesOf(parts));
  const results = templates.map((template, i) => {
    const inputs = leavesOfTerms.map((leaves) => alignedWith(leaves[i], template));
    try {
      const result = native.partsCombine(toNative(template), inputs.map(({ tensor }) => toNative(tensor)), coefs, batch);
      return fromNative(result, template.shape);
    } finally {
      for (const { tensor, temporary } of inputs) if (temporary) (tensor as DeviceTensor).dispose();
    }
  });
  return rebuild(like, results);
}

/** a − b. */
export function subtract<Z extends Parts>(a: Z, b: Z): Z {
  return combine(a, [
    { coef: 1, parts: a },
    { coef: -1, parts: b },
  ]);
}

/** Σ of several parts of the same layout. */
export function sum<Z extends Parts>(first: Z, ...rest: Z[]): Z {
  return combine(first, [first, ...rest].map((parts) => ({ coef: 1, parts })));
}

/**
 * ⟨z, scores⟩ per instance over the entries where z ≠ 0 (so −Infinity scores of unused parts do not matter), in
 * float64, `[B]` on the host (the only thing that crosses for device parts).
 */
export function scoreOf<Z extends Parts>(z: Z, scores: Z, batch: number): Float64Array {
  const out = new Float64Array(batch);
  const right = leavesOf(scores);
  leavesOf(z).forEach((leaf, i) => {
    const other = alignedWith(right[i], leaf);
    try {
      native.partsDot(toNative(leaf), toNative(other.tensor), batch).forEach((v, b) => (out[b] += v));
    } finally {
      if (other.temporary) (other.tensor as DeviceTensor).dispose();
    }
  });
  return out;
}

/** Row s of stacked parts `[S, ...]` as parts without the leading dimension, where the stack lives (no host copy). */
export function row<Z extends Parts>(stacked: Z, s: number): Z {
  const leaves = leavesOf(stacked).map((leaf) => fromNative(native.partsRow(toNative(leaf), s), leaf.shape.slice(1)));
  return rebuild(stacked, leaves);
}

/** The parts with −Infinity entries replaced by 0. */
export function finitePart<Z extends Parts>(z: Z): Z {
  return rebuild(
    z,
    leavesOf(z).map((leaf) => fromNative(native.partsFinite(toNative(leaf)), leaf.shape)),
  );
}

/** `z` with −Infinity wherever `mask` is −Infinity (the same layout). */
export function masked<Z extends Parts>(z: Z, mask: Z): Z {
  const masks = leavesOf(mask);
  return rebuild(
    z,
    leavesOf(z).map((leaf, i) => {
      const m = alignedWith(masks[i], leaf);
      try {
        return fromNative(native.partsMasked(toNative(leaf), toNative(m.tensor)), leaf.shape);
      } finally {
        if (m.temporary) (m.tensor as DeviceTensor).dispose();
      }
    }),
  );
}

/**
 * One-hot parts: zeros of `shape` with the dtype and place of `like`, and 1 at each flat position (row-major).
 * For device parts only the positions cross to the device (4 bytes each: as many as the decoded structures have
 * parts, not as many as the parts tensor has entries).
 */
export function oneHotParts(like: AnyTensor, positions: Int32Array, shape: readonly number[]): AnyTensor {
  return fromNative(native.partsOneHot(toNative(like), positions, shape), shape);
}

/** Frees the DeviceTensors among parts (host tensors need nothing). */
export function disposeParts(...values: (Parts | undefined)[]): void {
  for (const z of values) {
    if (z === undefined) continue;
    for (const leaf of leavesOf(z)) if (leaf instanceof DeviceTensor && !leaf.disposed) leaf.dispose();
  }
}

/** The per-instance losses of a decoder output as float64 `[B]`, checked. */
export function lossesOf(loss: unknown, batch: number, call: number): Float64Array {
  if (loss === null || typeof loss !== 'object' || typeof (loss as ArrayLike<number>).length !== 'number') {
    throw typeError('ERR_INVALID_ARG_TYPE', `decoder call ${call}: loss must be an array of B = ${batch} numbers`);
  }
  const values = Float64Array.from(loss as ArrayLike<number>);
  if (values.length !== batch) {
    throw rangeError('ERR_SHAPE_MISMATCH', `decoder call ${call}: loss must hold B = ${batch} numbers, got ${values.length}`);
  }
  values.forEach((v, b) => {
    if (!Number.isFinite(v)) throw rangeError('ERR_NOT_FINITE', `decoder call ${call}: loss[${b}] = ${v} is not finite`);
  });
  return values;
}
