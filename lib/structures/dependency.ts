/**
 * `DependencyCRF`: projective dependency trees over a batch of B sentences of up to N words (torch-struct's
 * DependencyCRF), by Eisner's inside-outside. Arc scores `[B, N, N]`: `[b, h, m]` = score of word h heading
 * word m (h ≠ m), and the diagonal `[b, m, m]` = score of the root heading m. A tree gives every word one head
 * (a word or the root) without cycles, with no crossing arcs when the root is placed left of the sentence;
 * with `singleRoot` (the default) exactly one word hangs from the root. p(z) ∝ exp(Σ arc scores).
 *
 * Entries past a sentence's length are ignored on input and zero on output. `-Infinity` forbids an arc; NaN
 * and `+Infinity` are errors, as is a sentence whose every tree scores `-Infinity`.
 */
import { AnyTensor, Like } from '../tensor';
import { ArcStructure, DependencyOptions } from './arc_structure';

export type { DependencyOptions } from './arc_structure';

/** A decoded dependency tree. */
export interface DependencyDecoded<X extends AnyTensor = AnyTensor> {
  /**
   * Heads, row-major `[B, N]` (argmax) or `[k, B, N]` (samples): `heads[m] = h` with `parts[h, m] = 1`, so
   * h = m means the root heads m; −1 past the length.
   */
  heads: Int32Array;
  /** The one-hot parts `[B, N, N]` (with a leading `[k]` for samples). */
  parts: Like<X>;
}

/** The MAP dependency tree (Eisner or Chu-Liu-Edmonds) with its score. */
export interface DependencyArgmax<X extends AnyTensor = AnyTensor> extends DependencyDecoded<X> {
  /** The best tree's score per sentence, `[B]`. */
  score: Like<X>;
}

/** A batch of distributions over projective dependency trees, p(z) ∝ exp(Σ arc scores). */
export class DependencyCRF<X extends AnyTensor = AnyTensor> extends ArcStructure<X> {
  /**
   * @param arcs arc scores `[B, N, N]`, root scores on the diagonal (a Tensor or a DeviceTensor)
   * @param options `lengths`, `singleRoot` (default true), and `device` to run elsewhere than where the scores live
   */
  constructor(arcs: X, options: DependencyOptions = {}) {
    super('eisner', arcs, options);
  }
}
