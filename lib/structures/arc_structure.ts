/**
 * What the two dependency-tree structures (DependencyCRF, NonProjectiveDependencyCRF) share: arc scores
 * `[B, N, N]` with the root on the diagonal, the `singleRoot` option, heads as the decoded form, and
 * `logProb` of heads as well as of parts. @internal
 */
import { rangeError } from '../errors';
import { AnyTensor, DeviceTensor, Like, typedArrayKind } from '../tensor';
import { oneHotParts } from '../estimators/parts';
import { TreeOptions, TreeStructure } from './tree_structure';

/** Options of the dependency-tree structures. */
export interface DependencyOptions extends TreeOptions {
  /** Exactly one arc from the root (default true); false allows any number (at least one). */
  singleRoot?: boolean;
}

/** Base of the dependency-tree structures over arc scores `[B, N, N]`. */
export abstract class ArcStructure<X extends AnyTensor> extends TreeStructure<X, { heads: Int32Array }> {
  /** Whether exactly one arc leaves the root. */
  readonly singleRoot: boolean;

  protected constructor(structure: 'eisner' | 'matrix_tree', arcs: X, options: DependencyOptions) {
    super(structure, 'arcs', arcs, options);
    this.singleRoot = options?.singleRoot ?? true;
  }

  /** Heads `[B, N]` (argmax) or `[k, B, N]` (samples): `heads[m] = h`, h = m for the root; −1 past the length. */
  protected decoded(indices: Int32Array): { heads: Int32Array } {
    return { heads: indices };
  }

  /**
   * log p(z) = ⟨z, arcs⟩ − log Z, for z given as one-hot parts (`[B, N, N]` → `[B]`, `[S, B, N, N]` → `[S, B]`)
   * or as heads (an Int32Array of B·N → `[B]`, or S·B·N → `[S, B]`, in the decoded form: `heads[m] = h`, h = m
   * for the root; entries past a sentence's length are ignored). Heads are not checked to form a tree.
   */
  override logProb(z: Like<X> | Int32Array): Like<X> {
    if (typedArrayKind(z) !== 'Int32Array') return super.logProb(z as Like<X>);
    const parts = this.partsOfHeads(z as Int32Array);
    try {
      return super.logProb(parts as Like<X>);
    } finally {
      if (parts instanceof DeviceTensor) parts.dispose();
    }
  }

  /** Async {@link logProb}. */
  override async logProbAsync(z: Like<X> | Int32Array): Promise<Like<X>> {
    if (typedArrayKind(z) !== 'Int32Array') return super.logProbAsync(z as Like<X>);
    const parts = this.partsOfHeads(z as Int32Array);
    try {
      return await super.logProbAsync(parts as Like<X>);
    } finally {
      if (parts instanceof DeviceTensor) parts.dispose();
    }
  }

  protected partsOfDecoded(rows: Int32Array, count: number): AnyTensor {
    const parts = this.partsOfHeads(rows);
    return count === 1 ? parts.reshape([1, ...this.potentials.shape]) : parts;
  }

  /** One-hot parts of heads, in the potentials' dtype, on the GPU when the potentials live there. */
  private partsOfHeads(heads: Int32Array): AnyTensor {
    const [B, N] = [this.batch, this.length];
    const tree = B * N;
    if (heads.length === 0 || heads.length % tree !== 0) {
      throw rangeError('ERR_SHAPE_MISMATCH', `heads must hold B·N = ${tree} entries (or S·B·N), got ${heads.length}`);
    }
    const S = heads.length / tree;
    const size = S * tree * N;
    const positions: number[] = [];
    for (let r = 0; r < S * B; r++) {
      const b = r % B;
      const n = this.lengths ? this.lengths[b] : N;
      for (let m = 0; m < n; m++) {
        const h = heads[r * N + m];
        if (!Number.isInteger(h) || h < 0 || h >= n) {
          throw rangeError('ERR_OUT_OF_RANGE', `heads[${r * N + m}] = ${h} is outside [0, ${n}) (sentence ${b} has ${n} words)`);
        }
        positions.push((r * N + h) * N + m);
      }
    }
    // One-hot on the device for device potentials: only the positions (one per part of each structure) cross.
    return oneHotParts(this.potentials, Int32Array.from(positions), S === 1 ? [B, N, N] : [S, B, N, N]);
  }
}
