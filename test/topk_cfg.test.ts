/**
 * topk(k) of SentCFG (exact k-best PCFG parsing, cfg_sweeps.h topk_op over hypergraph_kbest.h) against enumeration
 * (test/oracles/sent_cfg.ts) on the CPU backend: every k from 1 to the number of trees and past it (the −Infinity
 * tail of −1 rows and zero parts), in the documented order — score descending, ties top-down from the root: the root
 * label, then at each span the split point, the left child's label, the right child's label (smaller first), then
 * the left and the right subtree (each by its score, then the same rule) — so that rank 0 is argmaxDecoded()'s tree
 * with its score to the bit. Mixed lengths, junk terms past them, −Infinity masks, integer scores (ties), ±1e3,
 * float32; async = sync; typed errors. CUDA parity: test/parity/topk_cfg.parity.test.ts.
 */
import { AnyTensor, SentCFG, Tensor } from '../lib';
import { errorCode, randomTensor, rng, toFloat32 } from './helpers';
import { Structure } from './oracles/enumerate';
import { CfgSentence, CfgSizes, cfgPartCount, cfgSentence, cfgStructures, rootPart, rulePart, symbols, termPart } from './oracles/sent_cfg';
import { checkTopk } from './topk_check';

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

/** A tree's rows as nodes: span, label (nonterminal, or a word's preterminal), children rows (−1 for words). */
interface Node {
  i: number;
  j: number;
  label: number;
  left: number;
  right: number;
}

/** The rows of a decoded tree linked to their children: a split's children are the next two unlinked rows. */
function nodesOf(decoded: readonly number[]): Node[] {
  const nodes: Node[] = [];
  for (let r = 0; 3 * r < decoded.length && decoded[3 * r] >= 0; r++) {
    nodes.push({ i: decoded[3 * r], j: decoded[3 * r + 1], label: decoded[3 * r + 2], left: -1, right: -1 });
  }
  let next = 1;
  for (const node of nodes) {
    if (node.i === node.j) continue;
    node.left = next++;
    node.right = next++;
  }
  return nodes;
}

/** The documented tie rule between two trees of one sentence (see the file header). */
function cfgTie(x: CfgSentence): (a: Structure, b: Structure) => number {
  const symbol = (n: Node): number => (n.i === n.j ? x.NT + n.label : n.label);
  const score = (t: Node[], r: number): number => {
    const n = t[r];
    if (n.i === n.j) return x.scores[termPart(x, n.i, n.label)];
    return x.scores[rulePart(x, n.label, symbol(t[n.left]), symbol(t[n.right]))] + score(t, n.left) + score(t, n.right);
  };
  // (split, left child's symbol, right child's symbol): argmax()'s scan order of a span's hyperedges
  const edge = (t: Node[], r: number): number[] => [t[t[r].left].j, symbol(t[t[r].left]), symbol(t[t[r].right])];
  const compare = (a: Node[], ra: number, b: Node[], rb: number): number => {
    const sa = score(a, ra);
    const sb = score(b, rb);
    if (sa !== sb) return sb - sa;
    if (a[ra].i === a[ra].j) return 0;
    const ea = edge(a, ra);
    const eb = edge(b, rb);
    for (let c = 0; c < 3; c++) if (ea[c] !== eb[c]) return ea[c] - eb[c];
    return compare(a, a[ra].left, b, b[rb].left) || compare(a, a[ra].right, b, b[rb].right);
  };
  return (sa, sb) => {
    const a = nodesOf(sa.decoded);
    const b = nodesOf(sb.decoded);
    if (a[0].label !== b[0].label) return a[0].label - b[0].label;
    return compare(a, 0, b, 0);
  };
}

/** Descending by score, ties by `tie`; −Infinity trees dropped. */
function ranked(x: CfgSentence): Structure[] {
  const tie = cfgTie(x);
  return cfgStructures(x)
    .filter((s) => s.score > -Infinity)
    .sort((a, b) => (a.score !== b.score ? b.score - a.score : tie(a, b)));
}

const integerTensor = (shape: number[], seed: number): Tensor => {
  const random = rng(seed);
  return new Tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 2)), shape);
};

const as64 = (x: Tensor): Tensor => (x.dtype === 'float64' ? x : new Tensor(Float64Array.from(x.data), x.shape));

/**
 * Forbids about 40% of the terms, rules and roots, never preterminal 0 of a word, root 0 or the rules
 * 0 → {0, NT} {0, NT}: every sentence keeps a tree of finite score.
 */
function masked(x: Tensor, z: CfgSizes, seed: number): Tensor {
  const random = rng(seed);
  const D = cfgPartCount(z);
  const kept = new Set<number>([rootPart(z, 0)]);
  for (let i = 0; i < z.N; i++) kept.add(termPart(z, i, 0));
  for (const X of [0, z.NT]) for (const Y of [0, z.NT]) kept.add(rulePart(z, 0, X, Y));
  const out = new Tensor(Float64Array.from(x.data), x.shape);
  for (let q = 0; q < out.data.length; q++) if (!kept.has(q % D) && random() < 0.4) out.data[q] = -Infinity;
  return out;
}

describe.each([
  ['N = 3, NT = 2, T = 2', { N: 3, NT: 2, T: 2 }, [3, 2, 3]],
  ['N = 4, NT = 2, T = 1', { N: 4, NT: 2, T: 1 }, [4, 2, 3]],
  ['N = 4, NT = 1, T = 2', { N: 4, NT: 1, T: 2 }, [3, 4, 2]],
])('SentCFG.topk (%s)', (_, z, lengths) => {
  const B = lengths.length;
  const D = cfgPartCount(z);
  const shape = [B, D];
  const width = (2 * z.N - 1) * 3;
  const oracleOf = (x: Tensor): Structure[][] => lengths.map((_n, b) => ranked(cfgSentence(as64(x), b, z, lengths)));
  const check = (x: Tensor, exactOrder: boolean, rtol: number): void => {
    const oracle = oracleOf(x);
    const most = Math.max(...oracle.map((o) => o.length));
    for (let k = 1; k <= most + 1; k++) {
      const top = SentCFG.fromPacked(x, z, { lengths }).topk(k);
      checkTopk({ ...top, decoded: top.spans }, k, B, width, D, oracle, { rtol, atol: rtol, exactOrder });
    }
  };

  // From 4 words on, different trees can have the same parts (e.g. (0 (1 2)) 3 and 0 ((1 2) 3) with one nonterminal
  // and equal preterminals): equal in exact arithmetic, their float sums (in tree order) differ by rounding, which
  // then orders them. So continuous scores are checked in exact order only at N = 3; integer scores always are.
  const exact = z.N <= 3;
  test('float64, mixed lengths, every k', () => {
    check(randomTensor(shape, rng(71)), exact, 1e-12);
  });
  test('−Infinity masks: masked trees never listed, a −Infinity tail', () => {
    check(masked(randomTensor(shape, rng(72)), z, 73), exact, 1e-12);
  });
  test('ties on integer scores: the documented order', () => {
    check(integerTensor(shape, 74), true, 0);
    check(new Tensor(new Float64Array(B * D), shape), true, 0);
  });
  test('±1e3 scores', () => {
    check(randomTensor(shape, rng(75), 1e3), exact, 1e-12);
  });
  test('float32', () => {
    check(toFloat32(randomTensor(shape, rng(76))), false, 1e-5);
  });
  test('rank 0 is argmaxDecoded (first maximum on ties), its score to the bit', () => {
    for (const x of [randomTensor(shape, rng(77)), integerTensor(shape, 78), toFloat32(randomTensor(shape, rng(79), 1e3))]) {
      const cfg = SentCFG.fromPacked(x, z, { lengths });
      const best = cfg.argmaxDecoded();
      const top = cfg.topk(1);
      expect(Array.from(top.spans)).toEqual(Array.from(best.spans));
      expect(data(top.score)).toEqual(data(best.score));
      expect(data(top.parts)).toEqual(data(best.parts));
    }
  });
  test('async equals sync; repeated calls agree', async () => {
    const cfg = SentCFG.fromPacked(integerTensor(shape, 80), z, { lengths });
    const a = await cfg.topkAsync(7);
    const s = cfg.topk(7);
    expect(Array.from(a.spans)).toEqual(Array.from(s.spans));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
    expect(Array.from(cfg.topk(7).spans)).toEqual(Array.from(s.spans));
  });
});

describe('SentCFG.topk: every one of 640 trees at once, the separate constructor, errors', () => {
  const z = { N: 4, NT: 2, T: 2 };
  const S = symbols(z);
  const B = 2;
  const scores = (seed: number, integer: boolean) => {
    const make = (shape: number[], s: number) => (integer ? integerTensor(shape, s) : randomTensor(shape, rng(s)));
    return { terms: make([B, z.N, z.T], seed), rules: make([B, z.NT, S, S], seed + 1), roots: make([B, z.NT], seed + 2) };
  };
  test.each([false, true])('N = 4, NT = 2, T = 2 (integer scores %s): k = 640 and 700, all trees listed', (integer) => {
    const s = scores(integer ? 81 : 84, integer);
    const cfg = new SentCFG(s, { lengths: [4, 3] });
    const flat = new Float64Array(B * cfgPartCount(z));
    const D = cfgPartCount(z);
    for (let b = 0; b < B; b++) {
      flat.set(s.terms.data.subarray(b * z.N * z.T, (b + 1) * z.N * z.T), b * D);
      flat.set(s.rules.data.subarray(b * z.NT * S * S, (b + 1) * z.NT * S * S), b * D + z.N * z.T);
      flat.set(s.roots.data.subarray(b * z.NT, (b + 1) * z.NT), b * D + z.N * z.T + z.NT * S * S);
    }
    const packedScores = new Tensor(flat, [B, D]);
    const oracle = [0, 1].map((b) => ranked(cfgSentence(packedScores, b, z, [4, 3])));
    expect(oracle[0].length).toBe(640);
    for (const k of [640, 700]) {
      const top = cfg.topk(k);
      checkTopk({ ...top, decoded: top.spans }, k, B, (2 * z.N - 1) * 3, D, oracle, { rtol: integer ? 0 : 1e-12, atol: integer ? 0 : 1e-12, exactOrder: integer });
    }
  });
  test('k out of range, k of the wrong type, sentences without a tree, workspace past 2^28', () => {
    const cfg = new SentCFG(scores(90, false));
    expect(errorCode(() => cfg.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => cfg.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => cfg.topk(2.5))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => cfg.topk('2' as unknown as number))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    const none = scores(91, false);
    none.roots.data.fill(-Infinity);
    const dead = new SentCFG(none);
    expect(errorCode(() => dead.topk(3))).toBe(errorCode(() => dead.argmaxDecoded()));
    expect(errorCode(() => dead.topk(3))).not.toBe('no error');
    // N = 60, NT = 40, T = 40: (N² S + 1) k = 2.9e8 derivations at k = 1024
    const big = { N: 60, NT: 40, T: 40 };
    const huge = SentCFG.fromPacked(new Tensor(new Float32Array(cfgPartCount(big)), [1, cfgPartCount(big)]), big);
    expect(errorCode(() => huge.topk(1024))).toBe('RangeError:ERR_SIZE_OVERFLOW');
  });
});
