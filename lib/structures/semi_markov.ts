/**
 * `SemiMarkovCRF`: segmentations of a batch of B sequences of up to N positions into labelled segments of length
 * below K (torch-struct's SemiMarkovCRF: segmental CRFs for named entities and word segmentation). Edge scores
 * `[B, N-1, K, C, C]`: `edges[b, n, k, c, c′]` scores label c′ at position n followed by label c at position n + k,
 * the k − 1 positions in between belonging to the segment that ends at n + k (1 ≤ k < K; `[:, :, 0]` is never used,
 * as in torch-struct). A structure of a sequence of length l labels positions 0 = p₀ < p₁ < … < p_m = l − 1 whose
 * gaps are below K; its parts are the edges (p_i, p_{i+1} − p_i, y_{i+1}, y_i) and p(z) ∝ exp(Σ edge scores). With
 * K = 2 it is the linear-chain CRF over edges `[B, N-1, C, C]`. A sequence of length 1 has C structures (the label
 * of position 0) without parts: log Z = log C.
 *
 * Entries past a sequence's length are ignored on input and zero on output. `-Infinity` forbids an edge; NaN and
 * `+Infinity` are errors, as is a sequence whose every segmentation scores `-Infinity`. Forward-backward over
 * (position, label): O(N·K·C²) per sequence, on CPU and CUDA.
 */
import { rangeError } from '../errors';
import { AnyTensor, Like } from '../tensor';
import { oneHotParts } from '../estimators/parts';
import { TreeOptions, TreeStructure } from './tree_structure';

/** Options of a SemiMarkovCRF: `lengths` (positions, each in [1, N]) and `device`. */
export type SemiMarkovOptions = TreeOptions;

/** A decoded segmentation. */
export interface SemiMarkovDecoded<X extends AnyTensor = AnyTensor> {
  /**
   * Labels, row-major `[B, N]` (argmax) or `[k, B, N]` (samples): the label of each segment at its last position
   * (and of position 0), −1 at the other positions of a segment and past the length (torch-struct's compact form).
   */
  labels: Int32Array;
  /** The one-hot edges `[B, N-1, K, C, C]` (with a leading `[k]` for samples). */
  parts: Like<X>;
}

/** The MAP segmentation with its score. */
export interface SemiMarkovArgmax<X extends AnyTensor = AnyTensor> extends SemiMarkovDecoded<X> {
  /** The best segmentation's score per sequence, `[B]`. */
  score: Like<X>;
}

/** A batch of distributions over labelled segmentations, p(z) ∝ exp(Σ edge scores). */
export class SemiMarkovCRF<X extends AnyTensor = AnyTensor> extends TreeStructure<X, { labels: Int32Array }> {
  /** Longest segment plus one, K. */
  readonly span: number;
  /** Number of labels C. */
  readonly labels: number;

  /**
   * @param edges edge scores `[B, N-1, K, C, C]` (a Tensor or a DeviceTensor)
   * @param options `lengths` over the N positions, and `device` to run elsewhere than where the scores live
   */
  constructor(edges: X, options: SemiMarkovOptions = {}) {
    super('semi_markov', 'edges', edges, options);
    this.span = this.potentials.shape[2];
    this.labels = this.potentials.shape[3];
  }

  protected decoded(indices: Int32Array): { labels: Int32Array } {
    return { labels: indices };
  }

  /** One-hot edges of decoded label rows (consecutive labelled positions p < q give the edge (p, q − p, y_q, y_p)). */
  protected partsOfDecoded(rows: Int32Array, count: number): AnyTensor {
    const [B, N, K, C] = [this.batch, this.length, this.span, this.labels];
    const block = (N - 1) * K * C * C;
    const positions: number[] = [];
    for (let r = 0; r < count * B; r++) {
      const b = r % B;
      const n = this.lengths ? this.lengths[b] : N;
      const row = rows.subarray(r * N, (r + 1) * N);
      let previous = 0;
      for (let q = 0; q < n; q++) {
        const y = row[q];
        if (!Number.isInteger(y) || y < -1 || y >= C || ((q === 0 || q === n - 1) && y < 0)) {
          throw rangeError('ERR_OUT_OF_RANGE', `labels[${r * N + q}] = ${y} must be in [0, ${C}) at the first and last positions and in [-1, ${C}) elsewhere`);
        }
        if (q === 0 || y < 0) continue;
        if (q - previous >= K) {
          throw rangeError('ERR_OUT_OF_RANGE', `labels row ${r} has a segment of ${q - previous} positions; at most K - 1 = ${K - 1}`);
        }
        positions.push(r * block + ((previous * K + (q - previous)) * C + y) * C + row[previous]);
        previous = q;
      }
    }
    // One-hot on the device for device potentials: only the positions (one per part of each structure) cross.
    return oneHotParts(this.potentials, Int32Array.from(positions), [count, ...this.potentials.shape]);
  }
}
