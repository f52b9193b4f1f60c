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
import { TreeStructure, TreeOptions } from './tree_structure';

/** Options of a DependencyCRF. */
export interface DependencyOptions extends TreeOptions {
  /** Exactly one arc from the root (default true); false allows any number (at least one). */
  singleRoot?: boolean;
}

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

/** The Eisner argmax tree with its score. */
export interface DependencyArgmax<X extends AnyTensor = AnyTensor> extends DependencyDecoded<X> {
  /** The best tree's score per sentence, `[B]`. */
  score: Like<X>;
}

/** A batch of distributions over projective dependency trees, p(z) ∝ exp(Σ arc scores). */
export class DependencyCRF<X extends AnyTensor = AnyTensor> extends TreeStructure<X, { heads: Int32Array }> {
  /** Whether exactly one arc leaves the root. */
  readonly singleRoot: boolean;

  /**
   * @param arcs arc scores `[B, N, N]`, root scores on the diagonal (a Tensor or a DeviceTensor)
   * @param options `lengths`, `singleRoot` (default true), and `device` to run elsewhere than where the scores live
   */
  constructor(arcs: X, options: DependencyOptions = {}) {
    const singleRoot = options?.singleRoot ?? true;
    super('eisner', 'arcs', arcs, options, singleRoot);
    this.singleRoot = singleRoot;
  }

  protected decoded(indices: Int32Array): { heads: Int32Array } {
    return { heads: indices };
  }
}
