/**
 * The enumeration oracle of the SemiMarkovCRF (torch-struct's SemiMarkov): every segmentation-with-labels of a
 * sequence of length l is listed explicitly, and every quantity comes from that list in float64 — no dynamic
 * programming.
 *
 * A structure of a sequence of length l: labelled positions 0 = p_0 < p_1 < … < p_m = l − 1 with gaps
 * p_{i+1} − p_i in [1, K − 1] and labels y_i in [0, C). Its parts are (n = p_i, k = p_{i+1} − p_i, c = y_{i+1},
 * c' = y_i), flat within one instance's `[N−1, K, C, C]` block at ((n·K + k)·C + c)·C + c' (k = 0 is never
 * used); its score is the sum of the edges at its parts. Length 1: C structures (the label of position 0), no
 * parts, score 0 each. Decoded form (`labels`, one row of N per instance): y_i at p_i, −1 elsewhere (inside
 * segments and past the length).
 *
 * Structures are listed depth-first: y_0 ascending, then the first gap ascending, its label ascending, and so on
 * (so at length 1 label 0 comes first, the argmax's "first maximum on ties").
 */
import { Tensor } from '../../lib';
import { Distribution, Structure, distributionOf, scoreOfParts } from './enumerate';

/** One instance of a batch of edges `[B, N−1, K, C, C]`. */
export interface SemiMarkovInstance {
  /** Positions of the padded sequence (edges.shape[1] + 1). */
  N: number;
  K: number;
  C: number;
  /** The instance's length, in [1, N]. */
  n: number;
  /** The edge score of part (position, gap, label after, label before). */
  score(position: number, gap: number, c: number, cPrev: number): number;
}

export function semiMarkovInstance(edges: Tensor, b: number, lengths?: ArrayLike<number> | null): SemiMarkovInstance {
  const [, N1, K, C] = edges.shape;
  const d = edges.data;
  const block = N1 * K * C * C;
  return {
    N: N1 + 1,
    K,
    C,
    n: lengths ? lengths[b] : N1 + 1,
    score: (n, k, c, cp) => d[b * block + ((n * K + k) * C + c) * C + cp],
  };
}

/** Entries of one instance's block, (N−1)·K·C·C. */
export function semiMarkovPartCount(x: SemiMarkovInstance): number {
  return (x.N - 1) * x.K * x.C * x.C;
}

export function semiMarkovPart(x: SemiMarkovInstance, n: number, k: number, c: number, cPrev: number): number {
  return ((n * x.K + k) * x.C + c) * x.C + cPrev;
}

/** The (position, gap, label after, label before) of a flat part. */
export function semiMarkovPartOf(x: SemiMarkovInstance, q: number): [number, number, number, number] {
  const cPrev = q % x.C;
  const c = Math.floor(q / x.C) % x.C;
  const k = Math.floor(q / (x.C * x.C)) % x.K;
  const n = Math.floor(q / (x.C * x.C * x.K));
  return [n, k, c, cPrev];
}

/** Whether some structure of the instance uses part q: 1 ≤ k and n + k ≤ l − 1. */
export function semiMarkovUsed(x: SemiMarkovInstance, q: number): boolean {
  const [n, k] = semiMarkovPartOf(x, q);
  return k >= 1 && n + k <= x.n - 1;
}

/** The number of structures of a sequence of length l (gaps in [1, K−1], C labels). */
export function semiMarkovCount(l: number, K: number, C: number): number {
  const f = new Array<number>(l).fill(0);
  f[0] = C;
  for (let p = 1; p < l; p++) for (let k = 1; k < K && k <= p; k++) f[p] += f[p - k] * C;
  return f[l - 1];
}

/** The structure of labelled positions (positions[0] = 0, last = l − 1). */
export function semiMarkovStructure(x: SemiMarkovInstance, positions: readonly number[], labels: readonly number[]): Structure {
  const decoded = new Array<number>(x.N).fill(-1);
  const parts: number[] = [];
  let score = 0;
  positions.forEach((p, i) => {
    decoded[p] = labels[i];
    if (i === 0) return;
    const from = positions[i - 1];
    const k = p - from;
    parts.push(semiMarkovPart(x, from, k, labels[i], labels[i - 1]));
    score += x.score(from, k, labels[i], labels[i - 1]);
  });
  return { parts, decoded, score };
}

/** Every structure of the instance, depth-first (see the file's comment). Throws past `limit`. */
export function semiMarkovStructures(x: SemiMarkovInstance, limit = 200000): Structure[] {
  const count = semiMarkovCount(x.n, x.K, x.C);
  if (count > limit) throw new Error(`oracle: ${count} semi-Markov structures is too many to list`);
  const out: Structure[] = [];
  const positions: number[] = [0];
  const labels: number[] = [0];
  const extend = () => {
    const last = positions[positions.length - 1];
    if (last === x.n - 1) {
      out.push(semiMarkovStructure(x, positions, labels));
      return;
    }
    for (let k = 1; k < x.K && last + k <= x.n - 1; k++) {
      for (let c = 0; c < x.C; c++) {
        positions.push(last + k);
        labels.push(c);
        extend();
        positions.pop();
        labels.pop();
      }
    }
  };
  for (let y0 = 0; y0 < x.C; y0++) {
    labels[0] = y0;
    extend();
  }
  return out;
}

/** The exact distribution of one instance. */
export function semiMarkovDistribution(x: SemiMarkovInstance): Distribution {
  return distributionOf(semiMarkovStructures(x), semiMarkovPartCount(x));
}

/** Score of any list of parts of the instance. */
export function semiMarkovScoreOf(x: SemiMarkovInstance, parts: readonly number[]): number {
  return scoreOfParts(parts, (q) => x.score(...semiMarkovPartOf(x, q)));
}

/**
 * A structure of any length that masks must keep (for sizes too large to enumerate): every gap 1, every label 0
 * — parts (n, 1, 0, 0) for n < l − 1.
 */
export function semiMarkovKeeper(x: SemiMarkovInstance): number[] {
  return Array.from({ length: x.n - 1 }, (_, n) => semiMarkovPart(x, n, 1, 0, 0));
}

/**
 * torch-struct's `SemiMarkov.from_parts` for one instance, ported: the labels `[N]` of one-hot parts (the label
 * before of the part at position 0, and the label after at n + k of every part), −1 elsewhere.
 */
export function semiMarkovFromParts(x: SemiMarkovInstance, parts: readonly number[]): number[] {
  const labels = new Array<number>(x.N).fill(-1);
  for (const q of parts) {
    const [n, k, c, cp] = semiMarkovPartOf(x, q);
    if (n === 0) labels[0] = cp;
    labels[n + k] = c;
  }
  return labels;
}

/**
 * torch-struct's `SemiMarkovTest.enumerate` for one instance, ported (chains of (label, gap) grown from every
 * label at position 0, ending at position l − 1): the decoded labels and score of every chain. An independent
 * second enumeration, to check {@link semiMarkovStructures} against.
 */
export function torchStructSemiMarkovChains(x: SemiMarkovInstance): { decoded: number[]; score: number }[] {
  const chains = new Map<number, { chain: [number, number][]; score: number }[]>();
  chains.set(
    0,
    Array.from({ length: x.C }, (_, c) => ({ chain: [[c, 0]] as [number, number][], score: 0 })),
  );
  const last = x.n - 1;
  for (let n = 1; n <= last; n++) {
    const here: { chain: [number, number][]; score: number }[] = [];
    for (let k = 1; k < x.K; k++) {
      const before = chains.get(n - k);
      if (!before) continue;
      for (const { chain, score } of before) {
        for (let c = 0; c < x.C; c++) {
          here.push({ chain: [...chain, [c, k]], score: score + x.score(n - k, k, c, chain[chain.length - 1][0]) });
        }
      }
    }
    chains.set(n, here);
  }
  return (chains.get(last) ?? []).map(({ chain, score }) => {
    const decoded = new Array<number>(x.N).fill(-1);
    let p = 0;
    for (const [c, k] of chain) {
      p += k;
      decoded[p] = c;
    }
    return { decoded, score };
  });
}

/**
 * The parts of a decoded structure (`labels` row of N), checking that it is a structure of the instance: labels
 * in [0, C) at position 0, at l − 1 and at positions between them no more than K − 1 apart, −1 everywhere else.
 * Throws, saying why, otherwise. Works at any size (no enumeration).
 */
export function semiMarkovPartsOfDecoded(x: SemiMarkovInstance, decoded: ArrayLike<number>): number[] {
  if (decoded.length !== x.N) throw new Error(`labels has ${decoded.length} entries, expected ${x.N}`);
  const positions: number[] = [];
  for (let p = 0; p < x.N; p++) {
    const y = decoded[p];
    if (y === -1) continue;
    if (!Number.isInteger(y) || y < 0 || y >= x.C) throw new Error(`labels[${p}] = ${y} is no label in [0, ${x.C})`);
    if (p >= x.n) throw new Error(`labels[${p}] = ${y} past the length ${x.n}`);
    positions.push(p);
  }
  if (positions[0] !== 0) throw new Error('position 0 has no label');
  if (positions[positions.length - 1] !== x.n - 1) throw new Error(`position ${x.n - 1} (the last) has no label`);
  const parts: number[] = [];
  for (let i = 1; i < positions.length; i++) {
    const k = positions[i] - positions[i - 1];
    if (k > x.K - 1) throw new Error(`a segment of ${k} from position ${positions[i - 1]} is longer than K − 1 = ${x.K - 1}`);
    parts.push(semiMarkovPart(x, positions[i - 1], k, decoded[positions[i]], decoded[positions[i - 1]]));
  }
  return parts;
}

/**
 * A plain forward-backward over (position, label) in float64, for sizes too large to enumerate (written here,
 * independently of the kernels, and checked against the enumeration in test/semi_markov.test.ts): log Z, the
 * marginals of the block, and the best score (the same recursion with max).
 */
export function semiMarkovForwardBackward(x: SemiMarkovInstance): { logZ: number; marginals: Float64Array; best: number } {
  const { C, K, n } = x;
  const lse = (a: number, b: number) => (a === -Infinity ? b : b === -Infinity ? a : Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b))));
  const alpha = Array.from({ length: n }, (_, p) => new Array<number>(C).fill(p === 0 ? 0 : -Infinity));
  const top = Array.from({ length: n }, (_, p) => new Array<number>(C).fill(p === 0 ? 0 : -Infinity));
  for (let p = 1; p < n; p++) {
    for (let k = 1; k < K && k <= p; k++) {
      for (let c = 0; c < C; c++) {
        for (let cp = 0; cp < C; cp++) {
          const s = x.score(p - k, k, c, cp);
          alpha[p][c] = lse(alpha[p][c], alpha[p - k][cp] + s);
          top[p][c] = Math.max(top[p][c], top[p - k][cp] + s);
        }
      }
    }
  }
  const beta = Array.from({ length: n }, (_, p) => new Array<number>(C).fill(p === n - 1 ? 0 : -Infinity));
  for (let p = n - 2; p >= 0; p--) {
    for (let k = 1; k < K && p + k <= n - 1; k++) {
      for (let c = 0; c < C; c++) for (let cp = 0; cp < C; cp++) beta[p][cp] = lse(beta[p][cp], x.score(p, k, c, cp) + beta[p + k][c]);
    }
  }
  const logZ = alpha[n - 1].reduce(lse, -Infinity);
  const marginals = new Float64Array(semiMarkovPartCount(x));
  for (let p = 0; p < n - 1; p++) {
    for (let k = 1; k < K && p + k <= n - 1; k++) {
      for (let c = 0; c < C; c++) {
        for (let cp = 0; cp < C; cp++) {
          const v = alpha[p][cp] + x.score(p, k, c, cp) + beta[p + k][c] - logZ;
          if (v > -Infinity) marginals[semiMarkovPart(x, p, k, c, cp)] = Math.exp(v);
        }
      }
    }
  }
  return { logZ, marginals, best: Math.max(...top[n - 1]) };
}
