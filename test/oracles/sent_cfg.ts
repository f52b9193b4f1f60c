/**
 * The enumeration oracle of SentCFG (a PCFG in Chomsky normal form, torch-struct's SentCFG): every tree of one
 * sentence — a binary bracketing of its n words (test/oracles/tree.ts), a nonterminal on each of its n − 1
 * spans of width ≥ 2 and a preterminal on each word — is listed (Catalan(n−1)·NT^(n−1)·T^n of them) and every
 * quantity is computed from the list in float64 by test/oracles/enumerate.ts: no CKY.
 *
 * The packed layout of one sentence (D = N·T + NT·S·S + NT entries, S = NT + T): terms `i·T + t`, then rules
 * `N·T + (A·S + X)·S + Y` (A → X Y; a child index < NT is a nonterminal, NT + t is preterminal t), then roots
 * `N·T + NT·S·S + A`. A tree's parts are its counts in that layout, so a rule used twice is listed twice.
 *
 * Decoded form (`spans`, `[2N − 1, 3]` per sentence): rows (start, end, label) breadth-first from the root, left
 * child before right child; label = the nonterminal for width ≥ 2, the preterminal for width 1; −1 rows past
 * 2n − 1.
 */
import { Tensor } from '../../lib';
import { Distribution, Structure, covarianceProduct, distributionOf, scoreOfParts } from './enumerate';
import { Bracketing, TreeOracle, bracketings, catalan } from './tree';

/** The sizes of a SentCFG: N words at most, NT nonterminals, T preterminals. */
export interface CfgSizes {
  N: number;
  NT: number;
  T: number;
}

/** terms `[B, N, T]`, rules `[B, NT, S, S]`, roots `[B, NT]` (any leading dims in place of B when unpacked). */
export interface CfgScores {
  terms: Tensor;
  rules: Tensor;
  roots: Tensor;
}

/** S = NT + T, the number of symbols a rule's child ranges over. */
export function symbols(z: CfgSizes): number {
  return z.NT + z.T;
}

/** D = N·T + NT·S·S + NT, the packed width of one sentence. */
export function cfgPartCount(z: CfgSizes): number {
  const S = symbols(z);
  return z.N * z.T + z.NT * S * S + z.NT;
}

export function termPart(z: CfgSizes, i: number, t: number): number {
  return i * z.T + t;
}

export function rulePart(z: CfgSizes, A: number, X: number, Y: number): number {
  const S = symbols(z);
  return z.N * z.T + (A * S + X) * S + Y;
}

export function rootPart(z: CfgSizes, A: number): number {
  const S = symbols(z);
  return z.N * z.T + z.NT * S * S + A;
}

/** The number of trees of a sentence of length n ≥ 2: Catalan(n−1)·NT^(n−1)·T^n. */
export function cfgCount(n: number, NT: number, T: number): number {
  return catalan(n - 1) * NT ** (n - 1) * T ** n;
}

/** log of {@link cfgCount}, exact for any size (the count a structure's `count()` returns is log-space). */
export function logCfgCount(n: number, NT: number, T: number): number {
  let logCatalan = 0;
  for (let k = 0; k < n - 1; k++) logCatalan += Math.log((2 * (2 * k + 1)) / (k + 2));
  return logCatalan + (n - 1) * Math.log(NT) + n * Math.log(T);
}

/**
 * Packs {terms, rules, roots} (host tensors of one dtype, leading dims `lead` = all dims before the last 2, 3
 * and 1 respectively) into `[...lead, D]`, in their dtype.
 */
export function packCfg(scores: CfgScores): Tensor {
  const { terms, rules, roots } = scores;
  const lead = roots.shape.slice(0, -1);
  const rows = lead.reduce((a, b) => a * b, 1);
  const [N, T] = terms.shape.slice(-2);
  const NT = roots.shape[roots.shape.length - 1];
  const S = NT + T;
  const z = { N, NT, T };
  const D = cfgPartCount(z);
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, k) => v === b[k]);
  if (!same(terms.shape, [...lead, N, T]) || !same(rules.shape, [...lead, NT, S, S])) {
    throw new Error(`packCfg: inconsistent shapes ${terms.shape} ${rules.shape} ${roots.shape}`);
  }
  const data = terms.dtype === 'float32' ? new Float32Array(rows * D) : new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    data.set(terms.data.subarray(r * N * T, (r + 1) * N * T), r * D);
    data.set(rules.data.subarray(r * NT * S * S, (r + 1) * NT * S * S), r * D + N * T);
    data.set(roots.data.subarray(r * NT, (r + 1) * NT), r * D + N * T + NT * S * S);
  }
  return new Tensor(data, [...lead, D]);
}

/** Unpacks `[..., D]` rows into {terms, rules, roots} with the same leading dims (float64). */
export function unpackCfg(packed: { data: ArrayLike<number>; shape: readonly number[] }, z: CfgSizes): CfgScores {
  const { N, NT, T } = z;
  const S = symbols(z);
  const D = cfgPartCount(z);
  const lead = packed.shape.slice(0, -1);
  if (packed.shape[packed.shape.length - 1] !== D) throw new Error(`unpackCfg: last dim ${packed.shape} is not D = ${D}`);
  const rows = lead.reduce((a, b) => a * b, 1);
  const terms = new Float64Array(rows * N * T);
  const rules = new Float64Array(rows * NT * S * S);
  const roots = new Float64Array(rows * NT);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < N * T; q++) terms[r * N * T + q] = packed.data[r * D + q];
    for (let q = 0; q < NT * S * S; q++) rules[r * NT * S * S + q] = packed.data[r * D + N * T + q];
    for (let q = 0; q < NT; q++) roots[r * NT + q] = packed.data[r * D + N * T + NT * S * S + q];
  }
  return {
    terms: new Tensor(terms, [...lead, N, T]),
    rules: new Tensor(rules, [...lead, NT, S, S]),
    roots: new Tensor(roots, [...lead, NT]),
  };
}

/** One sentence of a packed batch. */
export interface CfgSentence extends CfgSizes {
  /** The sentence's length (≥ 2). */
  n: number;
  /** Its D packed scores. */
  scores: Float64Array;
}

/** Sentence b of packed scores `[B, D]` (host, any dtype). */
export function cfgSentence(
  packed: { data: ArrayLike<number>; shape: readonly number[] },
  b: number,
  z: CfgSizes,
  lengths?: ArrayLike<number> | null,
): CfgSentence {
  const D = cfgPartCount(z);
  if (packed.shape.length !== 2 || packed.shape[1] !== D) throw new Error(`cfgSentence: shape ${packed.shape} is not [B, ${D}]`);
  const n = lengths ? lengths[b] : z.N;
  if (n < 2 || n > z.N) throw new Error(`cfgSentence: length ${n} is outside [2, ${z.N}]`);
  const scores = new Float64Array(D);
  for (let q = 0; q < D; q++) scores[q] = packed.data[b * D + q];
  return { ...z, n, scores };
}

/** Row index of each internal node's (left, right) children in a breadth-first bracketing (−1 for leaves). */
function childrenOf(bracketing: Bracketing): [number, number][] {
  return bracketing.map(([i, j]) => {
    if (i === j) return [-1, -1];
    // The left child is the widest other span starting at i inside (i, j); the right child starts after it.
    let left = -1;
    bracketing.forEach(([a, c], r) => {
      if (a === i && c < j && (left < 0 || c > bracketing[left][1])) left = r;
    });
    const k = bracketing[left][1];
    const right = bracketing.findIndex(([a, c]) => a === k + 1 && c === j);
    return [left, right];
  });
}

/**
 * The structure of a bracketing (rows breadth-first) with one label per row: a nonterminal in [0, NT) for
 * rows of width ≥ 2, a preterminal in [0, T) for words.
 */
export function cfgStructureOf(x: CfgSentence, bracketing: Bracketing, labels: readonly number[]): Structure {
  const children = childrenOf(bracketing);
  const decoded = new Array<number>((2 * x.N - 1) * 3).fill(-1);
  const parts: number[] = [rootPart(x, labels[0])];
  const symbol = (r: number) => (bracketing[r][0] === bracketing[r][1] ? x.NT + labels[r] : labels[r]);
  bracketing.forEach(([i, j], r) => {
    decoded[3 * r] = i;
    decoded[3 * r + 1] = j;
    decoded[3 * r + 2] = labels[r];
    if (i === j) parts.push(termPart(x, i, labels[r]));
    else parts.push(rulePart(x, labels[r], symbol(children[r][0]), symbol(children[r][1])));
  });
  return { parts, decoded, score: scoreOfParts(parts, (q) => x.scores[q]) };
}

/** The score of any list of parts (with multiplicity) of the sentence. */
export function cfgScoreOf(x: CfgSentence, parts: readonly number[]): number {
  return scoreOfParts(parts, (q) => x.scores[q]);
}

/**
 * Every tree of the sentence: bracketings in test/oracles/tree.ts's order, and for each the label
 * assignments in lexicographic order over its rows. Throws past `limit` trees.
 */
export function cfgStructures(x: CfgSentence, limit = 200000): Structure[] {
  const count = cfgCount(x.n, x.NT, x.T);
  if (count > limit) throw new Error(`oracle: ${count} SentCFG trees is too many to list`);
  const out: Structure[] = [];
  for (const bracketing of bracketings(x.n)) {
    const radix = bracketing.map(([i, j]) => (i === j ? x.T : x.NT));
    const labels = new Array<number>(bracketing.length).fill(0);
    for (;;) {
      out.push(cfgStructureOf(x, bracketing, labels));
      let r = labels.length - 1;
      while (r >= 0 && labels[r] === radix[r] - 1) labels[r--] = 0;
      if (r < 0) break;
      labels[r]++;
    }
  }
  return out;
}

/** The exact distribution over every tree of the sentence (marginals = expected counts, layout D). */
export function cfgDistribution(x: CfgSentence): Distribution {
  return distributionOf(cfgStructures(x), cfgPartCount(x));
}

/**
 * Everything a test compares against, for one sentence (TreeCRF's oracle's fields over the packed layout: the MAP
 * tree first in enumeration order on ties), with the full distribution.
 */
export interface CfgOracle extends TreeOracle {
  distribution: Distribution;
}

export function cfgOracle(x: CfgSentence): CfgOracle {
  const d = cfgDistribution(x);
  return {
    distribution: d,
    logZ: d.logZ,
    marginals: d.marginals,
    entropy: d.entropy,
    best: d.best,
    covarianceProduct: (g) => covarianceProduct(d, g),
    logProb: (parts) => cfgScoreOf(x, parts) - d.logZ,
  };
}
