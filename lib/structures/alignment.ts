/**
 * `AlignmentCRF`: monotonic alignments of a batch of B pairs of sequences of up to N and M items (torch-struct's
 * AlignmentCRF: dynamic time warping, Needleman–Wunsch and, with `local`, Smith–Waterman). Scores `[B, N, M, 3]`:
 * `scores[b, i, j, op]` scores entering cell (i, j) by op 0 from (i, j − 1), op 1 from (i − 1, j − 1) (a match) or
 * op 2 from (i − 1, j). A global alignment is a path of cells from (0, 0), entered by op 1, to (n − 1, m − 1); a
 * local one is a non-empty path from any cell, entered by op 1, to any cell. Its parts are the (cell, op) it takes
 * and p(z) ∝ exp(Σ their scores).
 *
 * `lengths` bound i (each in [1, N]) and `targetLengths` bound j (each in [1, M]); M ≥ N is not required. Entries
 * past them are ignored on input and zero on output. `-Infinity` forbids a move; NaN and `+Infinity` are errors, as
 * is a pair whose every alignment scores `-Infinity`. Forward-backward over the cells: O(n·m) time and memory per
 * pair, anti-diagonal wavefronts on CUDA (a thread per cell).
 */
import { rangeError } from '../errors';
import { AnyTensor, Like } from '../tensor';
import { oneHotParts } from '../estimators/parts';
import { TreeOptions, TreeStructure } from './tree_structure';

/** Options of an AlignmentCRF. */
export interface AlignmentOptions extends TreeOptions {
  /** Length of each target sequence (over M), `[B]`, each in `[1, M]`; default M for all. */
  targetLengths?: Int32Array | readonly number[];
  /** Local alignment (Smith–Waterman): paths start and end at any cell (default false: global). */
  local?: boolean;
}

/** A decoded alignment. */
export interface AlignmentDecoded<X extends AnyTensor = AnyTensor> {
  /**
   * Path rows (i, j, op) in path order, row-major `[B, N + M − 1, 3]` (argmax) or `[k, B, N + M − 1, 3]` (samples),
   * rows of −1 past the path's end.
   */
  path: Int32Array;
  /** The one-hot moves `[B, N, M, 3]` (with a leading `[k]` for samples). */
  parts: Like<X>;
}

/** The MAP alignment with its score. */
export interface AlignmentArgmax<X extends AnyTensor = AnyTensor> extends AlignmentDecoded<X> {
  /** The best alignment's score per pair, `[B]`. */
  score: Like<X>;
}

/** A batch of distributions over monotonic alignments, p(z) ∝ exp(Σ move scores). */
export class AlignmentCRF<X extends AnyTensor = AnyTensor> extends TreeStructure<X, { path: Int32Array }> {
  /** Longest target sequence M. */
  readonly targetLength: number;
  /** Target lengths `[B]`, or null when all are M. */
  readonly targetLengths: Int32Array | null;
  /** Whether alignments are local (Smith–Waterman). */
  readonly local: boolean;

  /**
   * @param scores move scores `[B, N, M, 3]` (a Tensor or a DeviceTensor)
   * @param options `lengths` (over N), `targetLengths` (over M), `local`, and `device`
   */
  constructor(scores: X, options: AlignmentOptions = {}) {
    super('alignment', 'scores', scores, options);
    this.targetLength = this.potentials.shape[2];
    this.targetLengths = options?.targetLengths === undefined ? null : Int32Array.from(options.targetLengths);
    this.local = options?.local ?? false;
  }

  protected decoded(indices: Int32Array): { path: Int32Array } {
    return { path: indices };
  }

  /** One-hot moves of decoded path rows (i, j, op), read up to the first row of −1. */
  protected partsOfDecoded(rows: Int32Array, count: number): AnyTensor {
    const [B, N, M] = [this.batch, this.length, this.targetLength];
    const width = this.decodedWidth();
    const block = N * M * 3;
    const positions: number[] = [];
    for (let r = 0; r < count * B; r++) {
      const b = r % B;
      const n = this.lengths ? this.lengths[b] : N;
      const m = this.targetLengths ? this.targetLengths[b] : M;
      for (let q = r * width; q < (r + 1) * width; q += 3) {
        const [i, j, op] = [rows[q], rows[q + 1], rows[q + 2]];
        if (i === -1 && j === -1 && op === -1) break;
        if (!(Number.isInteger(i) && Number.isInteger(j) && i >= 0 && i < n && j >= 0 && j < m && (op === 0 || op === 1 || op === 2))) {
          throw rangeError('ERR_OUT_OF_RANGE', `path row (${i}, ${j}, ${op}) is outside a ${n} x ${m} alignment grid`);
        }
        positions.push(r * block + (i * M + j) * 3 + op);
      }
    }
    // One-hot on the device for device potentials: only the positions (one per part of each structure) cross.
    return oneHotParts(this.potentials, Int32Array.from(positions), [count, ...this.potentials.shape]);
  }
}
