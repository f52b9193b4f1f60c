/**
 * Arithmetic over {@link Parts} (one tensor or named tensors) for the estimators: per-instance linear
 * combinations, dot products and masks, in float64 on the host; results take the layout, dtype and device of a
 * template. @internal
 */
import { rangeError, typeError } from '../errors';
import { AnyTensor, DeviceTensor, Tensor } from '../tensor';
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

/** The host data of a tensor (a copy for a DeviceTensor). */
function hostData(t: AnyTensor): ArrayLike<number> {
  return t instanceof Tensor ? t.data : t.toHost().data;
}

/** A float64 buffer as a tensor like `like` (its dtype, shape and device). */
function tensorLike(like: AnyTensor, values: Float64Array): AnyTensor {
  const data = like.dtype === 'float64' ? values : Float32Array.from(values);
  const host = new Tensor(data, like.shape);
  return like instanceof DeviceTensor ? host.toDevice() : host;
}

/** One term of a combination: coefficient (one number, or one per instance `[B]`) times parts. */
export interface Term<Z extends Parts> {
  coef: number | ArrayLike<number>;
  parts: Z;
}

/**
 * Σ_t coef_t · parts_t, laid out like `like`; per-instance coefficients scale each instance's block (the leading
 * `[B]` of every tensor). Terms with a zero coefficient are skipped, so their −Infinity entries do not matter.
 */
export function combine<Z extends Parts>(like: Z, terms: Term<Z>[]): Z {
  const templates = leavesOf(like);
  const sums = templates.map((t) => new Float64Array(t.size));
  for (const { coef, parts } of terms) {
    const leaves = leavesOf(parts);
    leaves.forEach((leaf, i) => {
      const sum = sums[i];
      if (leaf.size !== sum.length) {
        throw rangeError('ERR_SHAPE_MISMATCH', `parts of shape [${leaf.shape.join(', ')}] where [${templates[i].shape.join(', ')}] was expected`);
      }
      const data = hostData(leaf);
      if (typeof coef === 'number') {
        if (coef === 0) return;
        for (let q = 0; q < sum.length; q++) sum[q] += coef * data[q];
        return;
      }
      const stride = sum.length / coef.length;
      for (let b = 0; b < coef.length; b++) {
        const c = coef[b];
        if (c === 0) continue;
        for (let q = b * stride; q < (b + 1) * stride; q++) sum[q] += c * data[q];
      }
    });
  }
  return rebuild(like, templates.map((t, i) => tensorLike(t, sums[i])));
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

/** ⟨z, scores⟩ per instance over the entries where z ≠ 0 (so −Infinity scores of unused parts do not matter). */
export function scoreOf<Z extends Parts>(z: Z, scores: Z, batch: number): Float64Array {
  const out = new Float64Array(batch);
  const right = leavesOf(scores);
  leavesOf(z).forEach((leaf, i) => {
    const x = hostData(leaf);
    const y = hostData(right[i]);
    const stride = leaf.size / batch;
    for (let n = 0; n < batch; n++) {
      for (let q = n * stride; q < (n + 1) * stride; q++) if (x[q] !== 0) out[n] += x[q] * y[q];
    }
  });
  return out;
}

/** Row s of stacked parts `[S, ...]` as parts without the leading dimension (on the host). */
export function row<Z extends Parts>(stacked: Z, s: number): Z {
  const leaves = leavesOf(stacked).map((leaf) => {
    const host = leaf instanceof Tensor ? leaf : leaf.toHost();
    const shape = host.shape.slice(1);
    const size = host.size / host.shape[0];
    const data = host.data.slice(s * size, (s + 1) * size);
    const t = new Tensor(data, shape);
    return leaf instanceof DeviceTensor ? t.toDevice() : t;
  });
  return rebuild(stacked, leaves);
}

/** The parts with −Infinity entries replaced by 0. */
export function finitePart<Z extends Parts>(z: Z): Z {
  return rebuild(
    z,
    leavesOf(z).map((leaf) => tensorLike(leaf, Float64Array.from(hostData(leaf), (v) => (v === -Infinity ? 0 : v)))),
  );
}

/** `z` with −Infinity wherever `mask` is −Infinity (the same layout). */
export function masked<Z extends Parts>(z: Z, mask: Z): Z {
  const masks = leavesOf(mask);
  return rebuild(
    z,
    leavesOf(z).map((leaf, i) => {
      const m = hostData(masks[i]);
      return tensorLike(leaf, Float64Array.from(hostData(leaf), (v, q) => (m[q] === -Infinity ? -Infinity : v)));
    }),
  );
}

/** Each instance's block of parts as one float64 vector (the tensors' blocks concatenated). */
export function instanceVectors<Z extends Parts>(z: Z, batch: number): Float64Array[] {
  const leaves = leavesOf(z).map((leaf) => ({ data: hostData(leaf), stride: leaf.size / batch }));
  const width = leaves.reduce((a, l) => a + l.stride, 0);
  return Array.from({ length: batch }, (_, b) => {
    const v = new Float64Array(width);
    let offset = 0;
    for (const { data, stride } of leaves) {
      for (let q = 0; q < stride; q++) v[offset + q] = Number(data[b * stride + q]);
      offset += stride;
    }
    return v;
  });
}

/** Parts laid out like `like` from per-instance vectors (the inverse of {@link instanceVectors}). */
export function fromInstanceVectors<Z extends Parts>(like: Z, vectors: Float64Array[]): Z {
  const batch = vectors.length;
  let offset = 0;
  const leaves = leavesOf(like).map((leaf) => {
    const stride = leaf.size / batch;
    const values = new Float64Array(leaf.size);
    vectors.forEach((v, b) => values.set(v.subarray(offset, offset + stride), b * stride));
    offset += stride;
    return tensorLike(leaf, values);
  });
  return rebuild(like, leaves);
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
