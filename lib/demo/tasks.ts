/**
 * The demo's tasks: regression through a hidden discrete structure, one per structure class. Every task has the
 * same form (a "latent structured regression"), so one model and one training loop serve all of them:
 *
 * - an instance has parts q (classes, label transitions, spans, arcs) with feature vectors φ_q ∈ R^F built from
 *   its input tokens;
 * - a hidden teacher picks the structure z* = argmax_z Σ_{q ∈ z} ⟨φ_q, u*⟩ with the structure's own MAP (so the
 *   truth is a tag sequence, a projective or non-projective dependency tree, a binary bracketing, a labelled
 *   segmentation, or a monotonic alignment of two sequences);
 * - the target is y = Σ_{q ∈ z*} V* φ_q + noise ∈ R^P: a readout of the hidden structure's parts (for
 *   Categorical, a mixture of linear regressions).
 *
 * A model must find the structure to predict y, and its MAP can be compared with z* ("recovery"): label accuracy
 * up to a permutation of the labels for Categorical and LinearChainCRF (labels are only named by the data), the
 * fraction of the true arcs for the dependency trees, of the true non-trivial spans for TreeCRF, of the true
 * segments with their labels (up to a permutation of the labels) for SemiMarkovCRF, and of the true alignment's
 * pairs of positions for AlignmentCRF.
 */
import { AlignmentCRF } from '../structures/alignment';
import { Categorical } from '../structures/categorical';
import { DependencyCRF } from '../structures/dependency';
import { LinearChainCRF } from '../structures/linear_chain';
import { NonProjectiveDependencyCRF } from '../structures/nonprojective';
import { SemiMarkovCRF } from '../structures/semi_markov';
import { TreeCRF } from '../structures/tree';
import type { Device } from '../tensor';
import { Tensor } from '../tensor';
import type { LatentStructure } from '../estimators/types';
import { Random } from './random';

/** The structures the demo trains through (new ones go last: a task's seed depends on its index here). */
export const STRUCTURES = ['Categorical', 'LinearChainCRF', 'TreeCRF', 'DependencyCRF', 'NonProjectiveDependencyCRF', 'SemiMarkovCRF', 'AlignmentCRF'] as const;
export type StructureName = (typeof STRUCTURES)[number];

/** One instance: its inputs, length, target and the hidden structure. */
export interface Example {
  /**
   * The input: token vectors `[N, d]` (rows past the length zero), or x `[d]` for Categorical, or for AlignmentCRF
   * the source's N rows then the target's M rows, `[N + M, d]`.
   */
  inputs: Float64Array;
  /** Tokens (1 for Categorical; the source's for AlignmentCRF). */
  length: number;
  /** AlignmentCRF: the target sequence's tokens (absent for the other tasks). */
  targetLength?: number;
  /** y, `[P]`. */
  target: Float64Array;
  /** z*, one-hot over the Q parts. */
  truth: Float64Array;
}

/** A structure over host scores `[B, ...partsShape]`. */
export type DemoStructure = LatentStructure<Tensor, Tensor>;

/** A generated task. */
export interface LatentTask {
  structure: StructureName;
  /** What the hidden structure is and how the target reads it. */
  description: string;
  /** The scores of one instance, e.g. `[N, N]` (the batch dimension is added in front). */
  partsShape: number[];
  /** F. */
  featureCount: number;
  /** φ of an instance, `[Q, F]` row-major (Q parts of the instance's scores layout), built when needed. */
  features(example: Example): Float64Array;
  /** P. */
  outputCount: number;
  train: Example[];
  test: Example[];
  /** The structure over scores `[B, ...partsShape]` of instances of these lengths (and target lengths: {@link targetLengths}). */
  make(scores: Tensor, lengths: Int32Array, device?: Device, targetLengths?: Int32Array): DemoStructure;
  /** Fraction of the hidden structure found by `predicted` (one-hot parts per instance), in [0, 1]. */
  recovery(predicted: Float64Array[], examples: Example[]): number;
}

/** Sizes of the generated data. */
export interface TaskSizes {
  train: number;
  test: number;
  /** Longest sentence N (chains and trees); lengths are drawn in [max(2, ⌈N/2⌉), N]. */
  length: number;
}

/** A task of every kind, for the given sizes and seed (the same seed gives the same data). */
export function makeTask(structure: StructureName, sizes: TaskSizes, seed: number): LatentTask {
  const random = new Random(seed * 7919 + STRUCTURES.indexOf(structure) * 104729 + 1);
  switch (structure) {
    case 'Categorical':
      return categoricalTask(sizes, random);
    case 'LinearChainCRF':
      return chainTask(sizes, random);
    case 'SemiMarkovCRF':
      return segmentationTask(sizes, random);
    case 'AlignmentCRF':
      return alignmentTask(sizes, random);
    default:
      return pairTask(structure, sizes, random);
  }
}

const OUTPUTS = 3;

/** The target lengths of instances (AlignmentCRF), or undefined when they have none. */
export function targetLengths(examples: readonly Pick<Example, 'targetLength'>[]): Int32Array | undefined {
  return examples.length > 0 && examples[0].targetLength !== undefined ? Int32Array.from(examples, (e) => e.targetLength ?? 0) : undefined;
}

/** The scores of an instance under weights u: s_q = ⟨φ_q, u⟩. */
export function partScores(features: Float64Array, weights: Float64Array, out: Float64Array, offset: number): void {
  const F = weights.length;
  const Q = features.length / F;
  for (let q = 0; q < Q; q++) {
    let s = 0;
    for (let f = 0; f < F; f++) s += features[q * F + f] * weights[f];
    out[offset + q] = s;
  }
}

/**
 * Fills targets and truths: z* = the teacher's MAP (computed by the structure itself, batched), y = Σ_{q ∈ z*} V* φ_q
 * standardized per output, plus Gaussian noise of standard deviation 0.05.
 */
function label(
  examples: Omit<Example, 'target' | 'truth'>[],
  task: Pick<LatentTask, 'make' | 'partsShape' | 'featureCount' | 'features'>,
  random: Random,
): Example[] {
  const F = task.featureCount;
  const Q = task.partsShape.reduce((a, b) => a * b, 1);
  const teacher = random.normals(F, 1);
  const readout = random.normals(OUTPUTS * F, 1);
  const B = examples.length;
  const scores = new Float64Array(B * Q);
  const features = examples.map((e) => task.features(e as Example));
  features.forEach((phi, b) => partScores(phi, teacher, scores, b * Q));
  const lengths = Int32Array.from(examples, (e) => e.length);
  const best = task.make(new Tensor(scores, [B, ...task.partsShape]), lengths, undefined, targetLengths(examples)).argmax().data;
  const labelled = examples.map((e, b) => {
    const truth = Float64Array.from(best.subarray(b * Q, (b + 1) * Q));
    const target = new Float64Array(OUTPUTS);
    for (let q = 0; q < Q; q++) {
      if (truth[q] === 0) continue;
      for (let p = 0; p < OUTPUTS; p++) {
        let s = 0;
        for (let f = 0; f < F; f++) s += readout[p * F + f] * features[b][q * F + f];
        target[p] += s;
      }
    }
    return { ...e, truth, target };
  });
  // Each output standardized (mean 0, variance 1) so that losses read as fractions of Var(y).
  for (let p = 0; p < OUTPUTS; p++) {
    const mean = labelled.reduce((a, e) => a + e.target[p], 0) / B;
    const spread = Math.sqrt(labelled.reduce((a, e) => a + (e.target[p] - mean) ** 2, 0) / B) || 1;
    for (const e of labelled) e.target[p] = (e.target[p] - mean) / spread + 0.05 * random.normal();
  }
  return labelled;
}

/** Splits generated instances into train and test. */
function split(examples: Example[], sizes: TaskSizes): { train: Example[]; test: Example[] } {
  return { train: examples.slice(0, sizes.train), test: examples.slice(sizes.train) };
}

/** A sentence of `length` ≤ N: embeddings `[N, d]` of random tokens of a vocabulary, rows past the length zero. */
function sentence(vocabulary: Float64Array[], length: number, N: number, random: Random): Float64Array {
  const d = vocabulary[0].length;
  const x = new Float64Array(N * d);
  for (let t = 0; t < length; t++) x.set(vocabulary[random.integer(0, vocabulary.length - 1)], t * d);
  return x;
}

function lengthOf(sizes: TaskSizes, random: Random): number {
  return random.integer(Math.max(2, Math.ceil(sizes.length / 2)), sizes.length);
}

/** Sentences of random lengths over a vocabulary of 24 token vectors in R^d. */
function sentences(sizes: TaskSizes, d: number, random: Random): Omit<Example, 'target' | 'truth'>[] {
  const vocabulary = Array.from({ length: 24 }, () => random.normals(d));
  return Array.from({ length: sizes.train + sizes.test }, () => {
    const length = lengthOf(sizes, random);
    return { inputs: sentence(vocabulary, length, sizes.length, random), length };
  });
}

/** Categorical, K = 4 classes: x ∈ R^6, φ_k = x ⊗ e_k; y is the hidden class's linear regression of x. */
function categoricalTask(sizes: TaskSizes, random: Random): LatentTask {
  const [K, d] = [4, 6];
  const F = K * d;
  const examples = Array.from({ length: sizes.train + sizes.test }, () => ({ inputs: random.normals(d), length: 1 }));
  const shape = {
    partsShape: [K],
    featureCount: F,
    features: (e: Example) => {
      const phi = new Float64Array(K * F);
      for (let k = 0; k < K; k++) phi.set(e.inputs, k * F + k * d);
      return phi;
    },
    make: (s: Tensor, _lengths: Int32Array, device?: Device) => new Categorical(s, { device }),
  };
  return {
    structure: 'Categorical',
    description: `a hidden class of ${K} (x ∈ R^${d}); y ∈ R^${OUTPUTS} is that class's linear regression of x`,
    outputCount: OUTPUTS,
    ...shape,
    ...split(label(examples, shape, random), sizes),
    recovery: (predicted, examples) => permutedAccuracy(predicted.map((z) => [onehotIndex(z, 0, K)]), examples.map((e) => [onehotIndex(e.truth, 0, K)]), K),
  };
}

/**
 * LinearChainCRF over edges [N−1, C, C], C = 3 tags: part (t, c, c′) = tag c′ at t then c at t+1, with features
 * x_{t+1} ⊗ e_c (plus x_0 ⊗ e_{c′} at t = 0) and a one-hot of the transition; y reads tag-specific directions of the
 * tokens and the transitions of the hidden tag sequence.
 */
function chainTask(sizes: TaskSizes, random: Random): LatentTask {
  const [C, d, N] = [3, 6, sizes.length];
  const F = C * d + C * C;
  const features = (e: Example): Float64Array => {
    const x = e.inputs;
    const phi = new Float64Array((N - 1) * C * C * F);
    for (let t = 0; t + 1 < e.length; t++) {
      for (let c = 0; c < C; c++) {
        for (let from = 0; from < C; from++) {
          const o = ((t * C + c) * C + from) * F;
          for (let i = 0; i < d; i++) phi[o + c * d + i] += x[(t + 1) * d + i];
          if (t === 0) for (let i = 0; i < d; i++) phi[o + from * d + i] += x[i];
          phi[o + C * d + c * C + from] = 1;
        }
      }
    }
    return phi;
  };
  const shape = {
    partsShape: [N - 1, C, C],
    featureCount: F,
    features,
    make: (s: Tensor, lengths: Int32Array, device?: Device) => new LinearChainCRF(s, { lengths, device }) as unknown as DemoStructure,
  };
  return {
    structure: 'LinearChainCRF',
    description: `a hidden tag sequence (${C} tags, N ≤ ${N}, tokens of a 24-word vocabulary); y ∈ R^${OUTPUTS} reads its tags and transitions`,
    outputCount: OUTPUTS,
    ...shape,
    ...split(label(sentences(sizes, d, random), shape, random), sizes),
    recovery: (predicted, examples) =>
      permutedAccuracy(
        predicted.map((z, b) => chainTags(z, examples[b].length, C)),
        examples.map((e) => chainTags(e.truth, e.length, C)),
        C,
      ),
  };
}

/**
 * The tree structures over [N, N] parts: pair (i, j) is a span i..j (TreeCRF) or an arc i → j (dependencies; the
 * diagonal (j, j) is root → j). Features: x_i ⊗ x_j and a one-hot of the signed distance (spans: of the width),
 * root arcs x_j alone. y sums a bilinear readout over the hidden tree's arcs or spans.
 */
function pairTask(structure: Exclude<StructureName, 'Categorical' | 'LinearChainCRF' | 'SemiMarkovCRF' | 'AlignmentCRF'>, sizes: TaskSizes, random: Random): LatentTask {
  const [d, N] = [5, sizes.length];
  const distances = 6;
  const F = d * d + distances + d;
  const spans = structure === 'TreeCRF';
  const features = (e: Example): Float64Array => {
    const x = e.inputs;
    const phi = new Float64Array(N * N * F);
    for (let i = 0; i < e.length; i++) {
      for (let j = spans ? i : 0; j < e.length; j++) {
        const o = (i * N + j) * F;
        if (i === j && !spans) {
          phi.set(x.subarray(j * d, (j + 1) * d), o + d * d + distances);
          continue;
        }
        for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) phi[o + a * d + b] = x[i * d + a] * x[j * d + b];
        const bucket = spans ? Math.min(j - i, distances - 1) : j > i ? Math.min(j - i, 3) + 2 : Math.max(j - i, -3) + 3;
        phi[o + d * d + bucket] = 1;
      }
    }
    return phi;
  };
  const make = (s: Tensor, lengths: Int32Array, device?: Device): DemoStructure => {
    if (structure === 'TreeCRF') return new TreeCRF(s, { lengths, device });
    if (structure === 'DependencyCRF') return new DependencyCRF(s, { lengths, device });
    return new NonProjectiveDependencyCRF(s, { lengths, device });
  };
  const shape = { partsShape: [N, N], featureCount: F, features, make };
  const kind = { TreeCRF: 'binary bracketing', DependencyCRF: 'projective dependency tree', NonProjectiveDependencyCRF: 'non-projective dependency tree' }[structure];
  return {
    structure,
    description: `a hidden ${kind} (N ≤ ${N}, tokens of a 24-word vocabulary); y ∈ R^${OUTPUTS} sums a bilinear readout of its ${spans ? 'spans' : 'arcs'}`,
    outputCount: OUTPUTS,
    ...shape,
    ...split(label(sentences(sizes, d, random), shape, random), sizes),
    // Spans of one word and of the whole sentence are in every tree: only the others count.
    recovery: (predicted, examples) =>
      overlap(predicted, examples, spans ? (q, e) => !(Math.floor(q / N) === q % N || (Math.floor(q / N) === 0 && q % N === e.length - 1)) : () => true),
  };
}

/**
 * SemiMarkovCRF over edges [N−1, K, C, C], K = 4 (segments of 1 to 3 tokens), C = 2 labels: part (n, k, c, c′) is
 * the segment of tokens n+1..n+k labelled c after a segment labelled c′ that ends at n (at n = 0 the first segment
 * is token 0 alone, labelled c′). Features: the mean of the segment's tokens, (x_{n+1} + … + x_{n+k}) / k, ⊗ e_c
 * (plus x_0 ⊗ e_{c′} at n = 0), a one-hot of (length k, label c) and one of the transition (c, c′); k = 0 is never
 * used and has none. The mean (a sum would be additive over tokens) makes y depend on where segments begin and end,
 * not only on each token's label: y reads label-specific directions of the segments' means, their lengths and the
 * transitions.
 */
function segmentationTask(sizes: TaskSizes, random: Random): LatentTask {
  const [K, C, d, N] = [4, 2, 4, sizes.length];
  const F = C * d + (K - 1) * C + C * C;
  const features = (e: Example): Float64Array => {
    const x = e.inputs;
    const phi = new Float64Array((N - 1) * K * C * C * F);
    for (let n = 0; n + 1 < e.length; n++) {
      for (let k = 1; k < K && n + k < e.length; k++) {
        for (let c = 0; c < C; c++) {
          for (let from = 0; from < C; from++) {
            const o = (((n * K + k) * C + c) * C + from) * F;
            for (let t = n + 1; t <= n + k; t++) for (let i = 0; i < d; i++) phi[o + c * d + i] += x[t * d + i] / k;
            if (n === 0) for (let i = 0; i < d; i++) phi[o + from * d + i] += x[i];
            phi[o + C * d + (k - 1) * C + c] = 1;
            phi[o + C * d + (K - 1) * C + c * C + from] = 1;
          }
        }
      }
    }
    return phi;
  };
  const shape = {
    partsShape: [N - 1, K, C, C],
    featureCount: F,
    features,
    make: (s: Tensor, lengths: Int32Array, device?: Device): DemoStructure => new SemiMarkovCRF(s, { lengths, device }),
  };
  return {
    structure: 'SemiMarkovCRF',
    description: `a hidden segmentation into labelled segments (${C} labels, segments of 1 to ${K - 1} tokens, N ≤ ${N}, tokens of a 24-word vocabulary); y ∈ R^${OUTPUTS} reads its segments' mean tokens, labels and lengths, and its transitions`,
    outputCount: OUTPUTS,
    ...shape,
    ...split(label(sentences(sizes, d, random), shape, random), sizes),
    recovery: (predicted, examples) => {
      // Segments of the truth found with the same boundaries, their labels matched under the best renaming.
      const confusion = new Float64Array(C * C);
      let total = 0;
      examples.forEach((e, b) => {
        const truth = segments(e.truth, N, K, C);
        const found = new Map(segments(predicted[b], N, K, C).map((s) => [`${s.start},${s.end}`, s.label]));
        for (const s of truth) {
          total++;
          const p = found.get(`${s.start},${s.end}`);
          if (p !== undefined) confusion[p * C + s.label]++;
        }
      });
      return total === 0 ? 1 : bestRenaming(confusion, C) / total;
    },
  };
}

/**
 * AlignmentCRF over moves [N, M, 3] (M = N) between a source and a target sentence of independent lengths: part
 * (i, j, op) enters the pair (i, j) by op 0 from (i, j−1), 1 from (i−1, j−1), 2 from (i−1, j). Features: the
 * bilinear x_i ⊗ y_j and a one-hot of the op. The hidden structure is a global monotonic alignment (from (0, 0) to
 * both ends); y sums a bilinear readout of its aligned pairs.
 */
function alignmentTask(sizes: TaskSizes, random: Random): LatentTask {
  const [d, N] = [3, sizes.length];
  const M = N;
  const F = d * d + 3;
  const features = (e: Example): Float64Array => {
    const x = e.inputs;
    const target = N * d;
    const phi = new Float64Array(N * M * 3 * F);
    for (let i = 0; i < e.length; i++) {
      for (let j = 0; j < (e.targetLength ?? M); j++) {
        for (let op = 0; op < 3; op++) {
          const o = ((i * M + j) * 3 + op) * F;
          for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) phi[o + a * d + b] = x[i * d + a] * x[target + j * d + b];
          phi[o + d * d + op] = 1;
        }
      }
    }
    return phi;
  };
  const shape = {
    partsShape: [N, M, 3],
    featureCount: F,
    features,
    make: (s: Tensor, lengths: Int32Array, device?: Device, targetLengths?: Int32Array): DemoStructure => new AlignmentCRF(s, { lengths, targetLengths, device }),
  };
  const vocabulary = Array.from({ length: 24 }, () => random.normals(d));
  const pairs = Array.from({ length: sizes.train + sizes.test }, () => {
    const [length, targetLength] = [lengthOf(sizes, random), lengthOf(sizes, random)];
    const inputs = new Float64Array((N + M) * d);
    inputs.set(sentence(vocabulary, length, N, random));
    inputs.set(sentence(vocabulary, targetLength, M, random), N * d);
    return { inputs, length, targetLength };
  });
  return {
    structure: 'AlignmentCRF',
    description: `a hidden monotonic alignment of two sentences (N, M ≤ ${N}, tokens of a 24-word vocabulary); y ∈ R^${OUTPUTS} sums a bilinear readout of its aligned pairs`,
    outputCount: OUTPUTS,
    ...shape,
    ...split(label(pairs, shape, random), sizes),
    // The pairs (0, 0) and (n − 1, m − 1) are in every global alignment: only the others count.
    recovery: (predicted, examples) => {
      let [found, total] = [0, 0];
      examples.forEach((e, b) => {
        const mine = new Set(alignedPairs(predicted[b], N, M));
        for (const pair of alignedPairs(e.truth, N, M)) {
          if (pair === 0 || pair === (e.length - 1) * M + (e.targetLength ?? M) - 1) continue;
          total++;
          if (mine.has(pair)) found++;
        }
      });
      return total === 0 ? 1 : found / total;
    },
  };
}

/** The index of the 1 among z[offset..offset+K), or −1. */
function onehotIndex(z: Float64Array, offset: number, K: number): number {
  for (let k = 0; k < K; k++) if (z[offset + k] > 0.5) return k;
  return -1;
}

/** The tag sequence of one-hot chain edges [N−1, C, C] of a sentence of `length` ≥ 2. */
function chainTags(z: Float64Array, length: number, C: number): number[] {
  const tags: number[] = [];
  for (let t = 0; t + 1 < length; t++) {
    const edge = onehotIndex(z, t * C * C, C * C);
    if (t === 0) tags.push(edge % C);
    tags.push(Math.floor(edge / C));
  }
  return tags;
}

/** The labelled segments (first and last token, label) of one-hot semi-Markov edges [N−1, K, C, C], in order. */
function segments(z: Float64Array, N: number, K: number, C: number): { start: number; end: number; label: number }[] {
  const found: { start: number; end: number; label: number }[] = [];
  for (let q = 0; q < (N - 1) * K * C * C; q++) {
    if (z[q] <= 0.5) continue;
    const [from, c, k, n] = [q % C, Math.floor(q / C) % C, Math.floor(q / (C * C)) % K, Math.floor(q / (K * C * C))];
    if (n === 0) found.push({ start: 0, end: 0, label: from });
    found.push({ start: n + 1, end: n + k, label: c });
  }
  return found;
}

/** The aligned pairs i·M + j of one-hot alignment moves [N, M, 3]. */
function alignedPairs(z: Float64Array, N: number, M: number): number[] {
  const pairs: number[] = [];
  for (let p = 0; p < N * M; p++) if (z[3 * p] > 0.5 || z[3 * p + 1] > 0.5 || z[3 * p + 2] > 0.5) pairs.push(p);
  return pairs;
}

/** Label accuracy under the best one-to-one renaming of the K predicted labels (all K! permutations). */
function permutedAccuracy(predicted: number[][], truth: number[][], K: number): number {
  const confusion = new Float64Array(K * K);
  let total = 0;
  predicted.forEach((tags, b) =>
    tags.forEach((p, t) => {
      total++;
      if (p >= 0) confusion[p * K + truth[b][t]]++;
    }),
  );
  return total === 0 ? 0 : bestRenaming(confusion, K) / total;
}

/** max over one-to-one renamings π of Σ_k confusion[k, π(k)] (all K! permutations; confusion[predicted, true]). */
function bestRenaming(confusion: Float64Array, K: number): number {
  let best = 0;
  const permute = (k: number, used: boolean[], correct: number): void => {
    if (k === K) {
      best = Math.max(best, correct);
      return;
    }
    for (let j = 0; j < K; j++) {
      if (used[j]) continue;
      used[j] = true;
      permute(k + 1, used, correct + confusion[k * K + j]);
      used[j] = false;
    }
  };
  permute(0, new Array<boolean>(K).fill(false), 0);
  return best;
}

/** Σ_q ẑ_q z*_q / Σ_q z*_q over the parts that count. */
function overlap(predicted: Float64Array[], examples: Example[], counts: (q: number, example: Example) => boolean): number {
  let found = 0;
  let total = 0;
  examples.forEach((e, b) =>
    e.truth.forEach((t, q) => {
      if (t === 0 || !counts(q, e)) return;
      total += t;
      found += t * predicted[b][q];
    }),
  );
  return total === 0 ? 1 : found / total;
}
