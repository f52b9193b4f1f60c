/**
 * The estimator oracle: for every structure, a tiny batch and the exact distribution of each instance over its
 * structures (from the per-structure enumeration oracles), with every expectation an estimator targets computed
 * by plain sums over that list. Parts of one instance are its block of the scores tensor, flat.
 */
import {
  AlignmentCRF,
  Categorical,
  DependencyCRF,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
  estimators,
} from '../../lib';
import { alignmentDistribution, alignmentInstance } from './alignment';
import { dependencyDistribution, dependencySentence } from './dependency';
import { Distribution, Structure, distributionOf } from './enumerate';
import { enumerateChain, oracleChain, partsOf } from './linear_chain';
import { nonProjectiveDistribution } from './nonprojective';
import { semiMarkovDistribution, semiMarkovInstance } from './semi_markov';
import { treeDistribution, treeSentence } from './tree';

/** A structure over one scores tensor whose parts share its layout. */
export type TensorStructure = estimators.LatentStructure<Tensor, Tensor, estimators.SparseSolution<Tensor>>;

/** One test case: a kind of structure, its batch shape and lengths, and its enumeration. */
export interface LatentCase {
  name: string;
  shape: number[];
  lengths?: number[];
  /** The structure over scores of `shape`. */
  make(scores: Tensor): TensorStructure;
  /** The exact distribution of instance b over its structures, parts flat in the instance's block. */
  distribution(scores: Tensor, b: number): Distribution;
}

function categoricalDistribution(scores: Tensor, b: number): Distribution {
  const K = scores.shape[1];
  const structures: Structure[] = Array.from({ length: K }, (_, k) => ({ parts: [k], decoded: [k], score: scores.data[b * K + k] }));
  return distributionOf(structures, K);
}

function chainDistribution(edges: Tensor, b: number, lengths: number[]): Distribution {
  const x = oracleChain({ edges }, b, lengths);
  const e = enumerateChain(x);
  const size = (x.N - 1) * x.C * x.C;
  return distributionOf(
    e.labellings.map((y, k) => ({ parts: partsOf(x, y), decoded: y, score: e.scores[k] })),
    size,
  );
}

/** Every structure, tiny: B = 2 with a shorter second instance where lengths apply. */
export const latentCases: LatentCase[] = [
  {
    name: 'Categorical',
    shape: [2, 4],
    make: (s) => new Categorical(s),
    distribution: categoricalDistribution,
  },
  {
    name: 'LinearChainCRF',
    shape: [2, 2, 3, 3],
    lengths: [3, 2],
    make: (s) => new LinearChainCRF(s, { lengths: [3, 2] }),
    distribution: (s, b) => chainDistribution(s, b, [3, 2]),
  },
  {
    name: 'TreeCRF',
    shape: [2, 3, 3],
    lengths: [3, 2],
    make: (s) => new TreeCRF(s, { lengths: [3, 2] }),
    distribution: (s, b) => treeDistribution(treeSentence(s, b, [3, 2])),
  },
  {
    name: 'DependencyCRF',
    shape: [2, 3, 3],
    lengths: [3, 2],
    make: (s) => new DependencyCRF(s, { lengths: [3, 2] }),
    distribution: (s, b) => dependencyDistribution(dependencySentence(s, b, [3, 2], true)),
  },
  {
    name: 'NonProjectiveDependencyCRF',
    shape: [2, 3, 3],
    lengths: [3, 2],
    make: (s) => new NonProjectiveDependencyCRF(s, { lengths: [3, 2], singleRoot: false }),
    distribution: (s, b) => nonProjectiveDistribution(dependencySentence(s, b, [3, 2], false)),
  },
  {
    name: 'SemiMarkovCRF',
    shape: [2, 2, 3, 2, 2],
    lengths: [3, 2],
    make: (s) => new SemiMarkovCRF(s, { lengths: [3, 2] }),
    distribution: (s, b) => semiMarkovDistribution(semiMarkovInstance(s, b, [3, 2])),
  },
  {
    // M < N; the second instance shorter. (Sizes whose distributions put ~1e-3 on some path make REINFORCE's
    // standard errors, estimated from the samples, miss those paths' rare contributions: avoided here.)
    name: 'AlignmentCRF',
    shape: [2, 3, 2, 3],
    lengths: [3, 2],
    make: (s) => new AlignmentCRF(s, { lengths: [3, 2], targetLengths: [2, 2] }),
    distribution: (s, b) => alignmentDistribution(alignmentInstance(s, b, { lengths: [3, 2], targetLengths: [2, 2] })),
  },
  {
    name: 'AlignmentCRF local',
    shape: [2, 2, 2, 3],
    lengths: [2, 1],
    make: (s) => new AlignmentCRF(s, { lengths: [2, 1], local: true }),
    distribution: (s, b) => alignmentDistribution(alignmentInstance(s, b, { lengths: [2, 1], local: true })),
  },
];

/** The dense 0/1 vector of a structure over an instance block of `size`. */
export function vectorOf(structure: Structure, size: number): Float64Array {
  const v = new Float64Array(size);
  for (const q of structure.parts) v[q] += 1;
  return v;
}

/**
 * A nonlinear per-instance loss over parts, L_b(z) = (⟨c_b, z_b⟩ − target)² + offset, with its gradient; it accepts
 * relaxed z as well as structures. The offset makes baselines matter.
 */
export interface QuadraticLoss {
  /** L_b of one instance's block. */
  value(block: ArrayLike<number>, b: number): number;
  /** The decoder over a batch `[B, ...]`. */
  decoder(z: Tensor): { loss: Float64Array; gradZ: Tensor };
}

export function quadraticLoss(c: Float64Array, batch: number, target: number, offset: number): QuadraticLoss {
  const size = c.length / batch;
  const inner = (block: ArrayLike<number>, b: number): number => {
    let s = 0;
    for (let q = 0; q < size; q++) s += c[b * size + q] * block[q];
    return s;
  };
  const value = (block: ArrayLike<number>, b: number): number => (inner(block, b) - target) ** 2 + offset;
  return {
    value,
    decoder: (z: Tensor) => {
      const loss = new Float64Array(batch);
      const grad = new Float64Array(z.size);
      for (let b = 0; b < batch; b++) {
        const block = z.data.subarray(b * size, (b + 1) * size);
        loss[b] = value(block, b);
        const slope = 2 * (inner(block, b) - target);
        for (let q = 0; q < size; q++) grad[b * size + q] = slope * c[b * size + q];
      }
      return { loss, gradZ: new Tensor(grad, z.shape) };
    },
  };
}

/** E_p[L_b] and its exact gradient Σ_z p(z) L_b(z) (z − μ) over the instance's block. */
export function expectedLoss(d: Distribution, size: number, loss: (block: Float64Array) => number): { value: number; grad: Float64Array } {
  const grad = new Float64Array(size);
  let value = 0;
  d.structures.forEach((s, k) => {
    const p = d.probs[k];
    if (p === 0) return;
    const z = vectorOf(s, size);
    const l = loss(z);
    value += p * l;
    for (let q = 0; q < size; q++) grad[q] += p * l * (z[q] - d.marginals[q]);
  });
  return { value, grad };
}

/** The exact value and gradient over a whole batch (flat, the scores' layout). */
export function batchExpectedLoss(c: LatentCase, scores: Tensor, loss: QuadraticLoss): { value: Float64Array; grad: Float64Array } {
  const B = scores.shape[0];
  const size = scores.size / B;
  const value = new Float64Array(B);
  const grad = new Float64Array(scores.size);
  for (let b = 0; b < B; b++) {
    const e = expectedLoss(c.distribution(scores, b), size, (z) => loss.value(z, b));
    value[b] = e.value;
    grad.set(e.grad, b * size);
  }
  return { value, grad };
}
