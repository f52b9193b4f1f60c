/**
 * `TreeCRF`: binary constituency trees over a batch of B sentences of up to N words (torch-struct's TreeCRF),
 * by CKY inside-outside. Span scores `[B, N, N]`, `[b, i, j]` = score of the span of words i..j inclusive
 * (i ≤ j), or labelled `[B, N, N, L]`, `[b, i, j, l]` = score of that span with label l. A tree of a sentence of
 * length n is a binary bracketing: its 2n − 1 spans are the n single words, the root (0, n − 1) and the two
 * halves (i, k), (k + 1, j) of every wider span; labelled, each span takes one label. Its score is the sum of
 * its parts' scores and p(z) ∝ exp(score).
 *
 * Entries with i > j or past a sentence's length are ignored on input and zero on output. `-Infinity`
 * forbids a span (or label); NaN and `+Infinity` are errors, as is a sentence whose every tree scores `-Infinity`.
 */
import { rangeError } from '../errors';
import { AnyTensor, Like } from '../tensor';
import { oneHotParts } from '../estimators/parts';
import { TreeStructure, TreeOptions } from './tree_structure';

/** A decoded constituency tree. */
export interface TreeDecoded<X extends AnyTensor = AnyTensor> {
  /**
   * Spans as rows (start, end inclusive, label; label 0 when unlabelled), row-major `[B, 2N−1, 3]` (argmax) or
   * `[k, B, 2N−1, 3]` (samples), breadth-first from the root (a span's left half, then its right half); rows
   * past 2·length − 1 are −1.
   */
  spans: Int32Array;
  /** The one-hot parts, the scores' shape (with a leading `[k]` for samples). */
  parts: Like<X>;
}

/** The CKY argmax tree with its score. */
export interface TreeArgmax<X extends AnyTensor = AnyTensor> extends TreeDecoded<X> {
  /** The best tree's score per sentence, `[B]`. */
  score: Like<X>;
}

/** A batch of distributions over binary constituency trees, p(z) ∝ exp(Σ span scores). */
export class TreeCRF<X extends AnyTensor = AnyTensor> extends TreeStructure<X, { spans: Int32Array }> {
  /** Number of span labels L (1 when unlabelled). */
  readonly labels: number;
  /** Whether the scores have a label dimension. */
  readonly labelled: boolean;

  /**
   * @param spans span scores `[B, N, N]` or `[B, N, N, L]` (a Tensor or a DeviceTensor)
   * @param options `lengths`, and `device` to run elsewhere than where the scores live
   */
  constructor(spans: X, options: TreeOptions = {}) {
    super('cky', 'spans', spans, options);
    this.labelled = this.potentials.shape.length === 4;
    this.labels = this.labelled ? this.potentials.shape[3] : 1;
  }

  protected decoded(indices: Int32Array): { spans: Int32Array } {
    return { spans: indices };
  }

  protected partsOfDecoded(rows: Int32Array, count: number): AnyTensor {
    const [B, N, L] = [this.batch, this.length, this.labels];
    const width = this.decodedWidth();
    const positions: number[] = [];
    for (let r = 0; r < count * B; r++) {
      for (let q = r * width; q < (r + 1) * width; q += 3) {
        const [i, j, label] = [rows[q], rows[q + 1], rows[q + 2]];
        if (i < 0) break;
        if (!(i <= j && j < N && label >= 0 && label < L)) {
          throw rangeError('ERR_OUT_OF_RANGE', `span row (${i}, ${j}, ${label}) is outside a tree of ${N} words and ${L} labels`);
        }
        positions.push(((r * N + i) * N + j) * L + label);
      }
    }
    // One-hot on the device for device potentials: only the positions (one per part of each structure) cross.
    return oneHotParts(this.potentials, Int32Array.from(positions), [count, ...this.potentials.shape]);
  }
}
