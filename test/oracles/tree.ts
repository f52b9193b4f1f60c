/**
 * The enumeration oracle of the TreeCRF (binary constituency trees): every binary bracketing of a sentence
 * of length n is listed (Catalan(n−1) of them), as its 2n−1 spans in the API's breadth-first order, and
 * every quantity is computed from that list in float64 — no CKY.
 *
 * Parts of one sentence, flat: `(i·N + j)·L + l` for span i..j (inclusive) with label l (L = 1 and l = 0
 * when unlabelled), i.e. the layout of one sentence's `[N, N(, L)]` block.
 *
 * Labelled trees pick a label for each of their 2n−1 spans independently, so there are
 * Catalan(n−1)·L^(2n−1) structures: the full (bracketing, labels) list is available for tiny sizes
 * ({@link treeDistribution}); {@link treeOracle} keeps the label factor analytic (the enumeration runs over
 * bracketings with span weights logsumexp_l s(i, j, l)) so that it scales to n = 6 with L = 3. The two are
 * checked against each other in test/tree.test.ts.
 */
import { Tensor } from '../../lib';
import { Distribution, Structure, covarianceProduct, distributionOf, logSumExp, scoreOfParts } from './enumerate';

/** One sentence of a batch of span potentials `[B, N, N]` or `[B, N, N, L]`. */
export interface TreeSentence {
  N: number;
  /** Labels (1 when unlabelled). */
  L: number;
  labelled: boolean;
  /** The sentence's length. */
  n: number;
  /** s(i, j, l) of span i..j with label l. */
  score(i: number, j: number, l: number): number;
}

export function treeSentence(spans: Tensor, b: number, lengths?: ArrayLike<number> | null): TreeSentence {
  const labelled = spans.shape.length === 4;
  const N = spans.shape[1];
  const L = labelled ? spans.shape[3] : 1;
  const d = spans.data;
  return { N, L, labelled, n: lengths ? lengths[b] : N, score: (i, j, l) => d[((b * N + i) * N + j) * L + l] };
}

export function partCount(x: TreeSentence): number {
  return x.N * x.N * x.L;
}

export function spanPart(x: TreeSentence, i: number, j: number, l: number): number {
  return (i * x.N + j) * x.L + l;
}

/** A bracketing: its spans [start, end] breadth-first from the root, left child before right child. */
export type Bracketing = [number, number][];

interface Node {
  i: number;
  j: number;
  left?: Node;
  right?: Node;
}

function treesOver(i: number, j: number): Node[] {
  if (i === j) return [{ i, j }];
  const out: Node[] = [];
  for (let k = i; k < j; k++) {
    for (const left of treesOver(i, k)) for (const right of treesOver(k + 1, j)) out.push({ i, j, left, right });
  }
  return out;
}

function breadthFirst(root: Node): Bracketing {
  const rows: Bracketing = [];
  const queue: Node[] = [root];
  for (let h = 0; h < queue.length; h++) {
    const node = queue[h];
    rows.push([node.i, node.j]);
    if (node.left && node.right) queue.push(node.left, node.right);
  }
  return rows;
}

const bracketingCache = new Map<number, Bracketing[]>();

/** Every binary bracketing of leaves 0..n−1 (cached). */
export function bracketings(n: number): Bracketing[] {
  let out = bracketingCache.get(n);
  if (!out) {
    out = treesOver(0, n - 1).map(breadthFirst);
    bracketingCache.set(n, out);
  }
  return out;
}

/** Catalan(m) = (2m)! / (m! (m+1)!), by the product formula. */
export function catalan(m: number): number {
  let c = 1;
  for (let k = 0; k < m; k++) c = (c * 2 * (2 * k + 1)) / (k + 2);
  return Math.round(c);
}

/** The number of (bracketing, labels) structures of a sentence of length n with L labels. */
export function treeCount(n: number, L: number): number {
  return catalan(n - 1) * L ** (2 * n - 1);
}

/** The structure of a bracketing with one label per row (rows in the bracketing's order). */
export function structureOf(x: TreeSentence, bracketing: Bracketing, labels: readonly number[]): Structure {
  const decoded = new Array<number>((2 * x.N - 1) * 3).fill(-1);
  const parts: number[] = [];
  let score = 0;
  bracketing.forEach(([i, j], r) => {
    const l = labels[r];
    decoded[3 * r] = i;
    decoded[3 * r + 1] = j;
    decoded[3 * r + 2] = l;
    parts.push(spanPart(x, i, j, l));
    score += x.score(i, j, l);
  });
  return { parts, decoded, score };
}

/** Score of any list of parts of the sentence. */
export function scoreOf(x: TreeSentence, parts: readonly number[]): number {
  return scoreOfParts(parts, (q) => x.score(Math.floor(q / x.L / x.N), Math.floor(q / x.L) % x.N, q % x.L));
}

/**
 * Every (bracketing, labels) structure of the sentence, bracketings in enumeration order and label
 * assignments in lexicographic order. Throws past `limit` structures.
 */
export function treeStructures(x: TreeSentence, limit = 200000): Structure[] {
  const count = treeCount(x.n, x.L);
  if (count > limit) throw new Error(`oracle: ${count} tree structures is too many to list`);
  const out: Structure[] = [];
  const rows = 2 * x.n - 1;
  for (const bracketing of bracketings(x.n)) {
    const labels = new Array<number>(rows).fill(0);
    for (;;) {
      out.push(structureOf(x, bracketing, labels));
      let r = rows - 1;
      while (r >= 0 && labels[r] === x.L - 1) labels[r--] = 0;
      if (r < 0) break;
      labels[r]++;
    }
  }
  return out;
}

/** The exact distribution over the full list of structures (tiny sizes only). */
export function treeDistribution(x: TreeSentence): Distribution {
  return distributionOf(treeStructures(x), partCount(x));
}

/** Everything a test compares against, for one sentence. */
export interface TreeOracle {
  logZ: number;
  marginals: Float64Array;
  entropy: number;
  /** The MAP structure (parts, decoded spans, score). */
  best: Structure;
  /** Cov(z)·g for g laid out like the marginals. */
  covarianceProduct(g: ArrayLike<number>): Float64Array;
  /** log p of the structure with these parts (score − log Z). */
  logProb(parts: readonly number[]): number;
}

/**
 * The oracle of one sentence: the generic enumeration for unlabelled trees; for labelled ones, the
 * enumeration over bracketings with the (independent, per span) label choice summed analytically:
 * p(T) ∝ Π_{(i,j) ∈ T} Σ_l exp s(i,j,l), q_ij(l) = softmax_l s(i,j,·),
 * μ(i,j,l) = P((i,j) ∈ T) q_ij(l), H = H(T) + Σ_ij P((i,j) ∈ T) H(q_ij), and
 * (Cov z·g)(i,j,l) = q_ij(l) Σ_{T ∋ (i,j)} p(T) [g(i,j,l) − ḡ_ij + G(T)] − μ(i,j,l) E[G(T)]
 * with ḡ_ij = Σ_l q_ij(l) g(i,j,l) and G(T) = Σ_{(i',j') ∈ T} ḡ_i'j'.
 */
export function treeOracle(x: TreeSentence): TreeOracle {
  const P = partCount(x);
  if (!x.labelled) {
    const d = distributionOf(
      bracketings(x.n).map((t) => structureOf(x, t, new Array<number>(t.length).fill(0))),
      P,
    );
    return {
      logZ: d.logZ,
      marginals: d.marginals,
      entropy: d.entropy,
      best: d.best,
      covarianceProduct: (g) => covarianceProduct(d, g),
      logProb: (parts) => scoreOf(x, parts) - d.logZ,
    };
  }
  const { N, L, n } = x;
  // Per span: log Σ_l exp s, the label distribution q, its entropy, the best label.
  const spanLse = new Float64Array(N * N).fill(-Infinity);
  const q = new Float64Array(N * N * L);
  const spanEntropy = new Float64Array(N * N);
  const bestLabel = new Int32Array(N * N);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const scores = Array.from({ length: L }, (_, l) => x.score(i, j, l));
      const lse = logSumExp(scores);
      spanLse[i * N + j] = lse;
      let top = 0;
      scores.forEach((s, l) => {
        if (s > scores[top]) top = l;
        if (lse === -Infinity || s === -Infinity) return;
        const p = Math.exp(s - lse);
        q[(i * N + j) * L + l] = p;
        spanEntropy[i * N + j] -= p * (s - lse);
      });
      bestLabel[i * N + j] = top;
    }
  }
  const trees = bracketings(n);
  const weights = trees.map((t) => t.reduce((w, [i, j]) => w + spanLse[i * N + j], 0));
  const logZ = logSumExp(weights);
  if (!Number.isFinite(logZ)) throw new Error('oracle: every tree has score -Infinity');
  const probs = weights.map((w) => Math.exp(w - logZ));
  const spanProb = new Float64Array(N * N);
  let entropy = 0;
  trees.forEach((t, k) => {
    if (probs[k] === 0) return;
    entropy -= probs[k] * (weights[k] - logZ);
    for (const [i, j] of t) spanProb[i * N + j] += probs[k];
  });
  const marginals = new Float64Array(P);
  for (let s = 0; s < N * N; s++) {
    if (spanProb[s] === 0) continue;
    entropy += spanProb[s] * spanEntropy[s];
    for (let l = 0; l < L; l++) marginals[s * L + l] = spanProb[s] * q[s * L + l];
  }
  // MAP: the bracketing maximizing Σ max_l s(i, j, l), each span with its best label.
  let bestTree = 0;
  let bestScore = -Infinity;
  trees.forEach((t, k) => {
    const s = t.reduce((acc, [i, j]) => acc + x.score(i, j, bestLabel[i * N + j]), 0);
    if (s > bestScore) {
      bestScore = s;
      bestTree = k;
    }
  });
  const best = structureOf(
    x,
    trees[bestTree],
    trees[bestTree].map(([i, j]) => bestLabel[i * N + j]),
  );
  const covariance = (g: ArrayLike<number>): Float64Array => {
    const gBar = new Float64Array(N * N);
    for (let s = 0; s < N * N; s++) for (let l = 0; l < L; l++) gBar[s] += q[s * L + l] * g[s * L + l];
    // A[s] = Σ_{T ∋ s} p(T) G(T); E[G].
    const A = new Float64Array(N * N);
    let meanG = 0;
    trees.forEach((t, k) => {
      if (probs[k] === 0) return;
      const G = t.reduce((acc, [i, j]) => acc + gBar[i * N + j], 0);
      meanG += probs[k] * G;
      for (const [i, j] of t) A[i * N + j] += probs[k] * G;
    });
    const out = new Float64Array(P);
    for (let s = 0; s < N * N; s++) {
      if (spanProb[s] === 0) continue;
      for (let l = 0; l < L; l++) {
        const a = s * L + l;
        out[a] = q[a] * (spanProb[s] * (g[a] - gBar[s]) + A[s]) - marginals[a] * meanG;
      }
    }
    return out;
  };
  return { logZ, marginals, entropy, best, covarianceProduct: covariance, logProb: (parts) => scoreOf(x, parts) - logZ };
}
