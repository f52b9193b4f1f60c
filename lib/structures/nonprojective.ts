/**
 * `NonProjectiveDependencyCRF`: non-projective dependency trees over a batch of B sentences of up to N words
 * (torch-struct's NonProjectiveDependencyCRF), by the Matrix-Tree theorem. Arc scores `[B, N, N]` as for
 * {@link DependencyCRF}: `[b, h, m]` = score of word h heading word m (h ≠ m), the diagonal `[b, m, m]` = score
 * of the root heading m. A tree is any spanning arborescence rooted at the root (crossing arcs allowed); with
 * `singleRoot` (the default, Koo et al. 2007) exactly one word hangs from the root. p(z) ∝ exp(Σ arc scores).
 *
 * log Z is the log-determinant of the graph's Laplacian, computed by subtraction-free elimination (exact for
 * any scores: a per-modifier shift, no eps; on the weights while their range allows, in log space otherwise);
 * marginals and their Hessian-vector products come from the reverse pass of that elimination; argmax is
 * Chu-Liu-Edmonds (the single-root constraint honoured exactly, Gabow & Tarjan); samples are exact, word by
 * word from conditional marginals. Work per sentence: O(n³) (a sample: O(n⁴)); at most 1024 words.
 *
 * Entries past a sentence's length are ignored on input and zero on output. `-Infinity` forbids an arc; NaN
 * and `+Infinity` are errors, as is a sentence whose every tree scores `-Infinity`.
 */
import { AnyTensor } from '../tensor';
import { ArcStructure, DependencyOptions } from './arc_structure';

/** A batch of distributions over non-projective dependency trees, p(z) ∝ exp(Σ arc scores). */
export class NonProjectiveDependencyCRF<X extends AnyTensor = AnyTensor> extends ArcStructure<X> {
  /**
   * @param arcs arc scores `[B, N, N]`, root scores on the diagonal (a Tensor or a DeviceTensor)
   * @param options `lengths`, `singleRoot` (default true), and `device` to run elsewhere than where the scores live
   */
  constructor(arcs: X, options: DependencyOptions = {}) {
    super('matrix_tree', arcs, options);
  }
}
