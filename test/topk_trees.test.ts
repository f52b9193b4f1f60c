/**
 * topk(k) of TreeCRF (k-best CKY, labelled and unlabelled) and DependencyCRF (k-best Eisner, single-root and not),
 * against enumeration (test/oracles/tree.ts, test/oracles/dependency.ts) for every k from 1 to the number of trees
 * and past it (the −Infinity tail of −1 decoded rows and zero parts), on the CPU backend, in the documented order
 * (hypergraph_kbest.h): score descending, ties broken top-down at each chart item — CKY: the span's label (by its
 * score, then its index), then the split point, then the left and the right subtree by the same rule; Eisner: at
 * each complete or incomplete item, the split point, then the left and the right sub-derivation — so that rank 0
 * is argmaxDecoded()'s tree. Mixed lengths (length 1 included), −Infinity masks, integer scores (ties), ±1e3 scores,
 * float32; async = sync; typed errors. CUDA parity: test/parity/topk_trees.parity.test.ts. SentCFG: topk_cfg.test.ts.
 */
import { AnyTensor, DependencyCRF, Tensor, TreeCRF } from '../lib';
import { errorCode, randomTensor, rng, toFloat32 } from './helpers';
import { Structure } from './oracles/enumerate';
import { checkTopk } from './topk_check';
import { TreeSentence, partCount as treePartCount, treeSentence, treeStructures } from './oracles/tree';
import {
  DependencySentence,
  ROOT,
  dependencySentence,
  partCount as dependencyPartCount,
  projectiveTrees,
  structureOf as dependencyStructureOf,
} from './oracles/dependency';

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

/** Descending by score, ties ascending by `tie`; −Infinity structures dropped. */
function ranked(structures: Structure[], tie: (a: Structure, b: Structure) => number): Structure[] {
  return structures.filter((s) => s.score > -Infinity).sort((a, b) => (a.score !== b.score ? b.score - a.score : tie(a, b)));
}

/** CKY's tie rule between two trees of one sentence, top-down from the root span (see the file header). */
function ckyTie(x: TreeSentence): (a: Structure, b: Structure) => number {
  const labelsOf = (s: Structure): Map<string, number> => {
    const m = new Map<string, number>();
    for (let r = 0; 3 * r < s.decoded.length && s.decoded[3 * r] >= 0; r++) m.set(`${s.decoded[3 * r]},${s.decoded[3 * r + 1]}`, s.decoded[3 * r + 2]);
    return m;
  };
  const score = (t: Map<string, number>, i: number, j: number): number => {
    const own = x.score(i, j, t.get(`${i},${j}`)!);
    if (i === j) return own;
    const k = split(t, i, j);
    return own + score(t, i, k) + score(t, k + 1, j);
  };
  const split = (t: Map<string, number>, i: number, j: number): number => {
    for (let k = i; k < j; k++) if (t.has(`${i},${k}`) && t.has(`${k + 1},${j}`)) return k;
    throw new Error('not a binary tree');
  };
  const compare = (a: Map<string, number>, b: Map<string, number>, i: number, j: number): number => {
    const sa = score(a, i, j);
    const sb = score(b, i, j);
    if (sa !== sb) return sb - sa;
    const la = a.get(`${i},${j}`)!;
    const lb = b.get(`${i},${j}`)!;
    if (la !== lb) return x.score(i, j, la) !== x.score(i, j, lb) ? x.score(i, j, lb) - x.score(i, j, la) : la - lb;
    if (i === j) return 0;
    const ka = split(a, i, j);
    const kb = split(b, i, j);
    const ua = score(a, i, ka) + score(a, ka + 1, j);
    const ub = score(b, i, kb) + score(b, kb + 1, j);
    if (ua !== ub) return ub - ua;
    if (ka !== kb) return ka - kb;
    return compare(a, b, i, ka) || compare(a, b, ka + 1, j);
  };
  return (a, b) => compare(labelsOf(a), labelsOf(b), 0, x.n - 1);
}

/**
 * Eisner's tie rule between two trees of one sentence, over nodes 0 (the root) and 1..n: at each item the score of
 * its sub-derivation (the arcs into its modifiers), then its split point, then the left and the right child item.
 * CR(s, t) splits at s's last dependent r into IR(s, r), CR(r, t); CL(s, t) at t's first dependent r into CL(s, r),
 * IL(r, t); an I item over (s, t) ranks as its SPLIT(s, t) = CR(s, r), CL(r + 1, t), r the last descendant of s.
 */
function eisnerTie(x: DependencySentence): (a: Structure, b: Structure) => number {
  const n = x.n;
  const nodeHeads = (s: Structure): number[] => [-1, ...s.decoded.slice(0, n).map((h, m) => (h === m ? 0 : h + 1))];
  const arc = (heads: number[], m: number): number => x.score(heads[m] === 0 ? ROOT : heads[m] - 1, m - 1);
  const sum = (heads: number[], from: number, to: number): number => {
    let total = 0;
    for (let m = from; m <= to; m++) total += arc(heads, m);
    return total;
  };
  /** Whether node m (strictly between s and t) hangs below s rather than t. */
  const belowFirst = (heads: number[], m: number, s: number, t: number): boolean => {
    let v = m;
    while (v !== s && v !== t) v = heads[v];
    return v === s;
  };
  type Item = ['CL' | 'CR' | 'SPLIT', number, number];
  const expand = (heads: number[], [kind, s, t]: Item): { score: number; edge: number; children: Item[] } => {
    if (kind === 'CR') {
      let r = t;
      while (heads[r] !== s) r--;
      return { score: sum(heads, s + 1, t), edge: r, children: [['SPLIT', s, r], ['CR', r, t]] };
    }
    if (kind === 'CL') {
      let r = s;
      while (heads[r] !== t) r++;
      return { score: sum(heads, s, t - 1), edge: r, children: [['CL', s, r], ['SPLIT', r, t]] };
    }
    let r = s;
    while (r + 1 < t && belowFirst(heads, r + 1, s, t)) r++;
    return { score: sum(heads, s + 1, t - 1), edge: r, children: [['CR', s, r], ['CL', r + 1, t]] };
  };
  const compare = (a: number[], b: number[], item: Item): number => {
    if (item[1] === item[2]) return 0;
    const ea = expand(a, item);
    const eb = expand(b, item);
    if (ea.score !== eb.score) return eb.score - ea.score;
    if (ea.edge !== eb.edge) return ea.edge - eb.edge;
    return compare(a, b, ea.children[0]) || compare(a, b, ea.children[1]);
  };
  return (a, b) => compare(nodeHeads(a), nodeHeads(b), ['CR', 0, n]);
}

const as64 = (x: Tensor): Tensor => new Tensor(Float64Array.from(x.data), x.shape);

/** Integer scores in {0, 1} (many ties). */
const integerTensor = (shape: number[], seed: number): Tensor => {
  const random = rng(seed);
  return new Tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 2)), shape);
};

describe.each([
  ['unlabelled', [3, 4, 4], [4, 1, 3]],
  ['labelled', [3, 3, 3, 2], [3, 1, 2]],
])('TreeCRF.topk (%s)', (_, shape, lengths) => {
  const [B, N] = shape;
  const L = shape.length === 4 ? shape[3] : 1;
  const width = (2 * N - 1) * 3;
  const partCount = N * N * L;
  const oracleOf = (x: Tensor): Structure[][] =>
    lengths.map((_n, b) => {
      const sentence = treeSentence(as64(x), b, lengths);
      return ranked(treeStructures(sentence), ckyTie(sentence));
    });
  const check = (x: Tensor, exactOrder: boolean, rtol: number): void => {
    const oracle = oracleOf(x);
    expect(treePartCount(treeSentence(x, 0, lengths))).toBe(partCount);
    const most = Math.max(...oracle.map((o) => o.length));
    for (let k = 1; k <= most + 1; k++) {
      const top = new TreeCRF(x, { lengths }).topk(k);
      checkTopk({ ...top, decoded: top.spans }, k, B, width, partCount, oracle, { rtol, atol: rtol, exactOrder });
    }
  };
  /** Keeps the left-branching tree with label 0 finite: spans (0, j) and (j, j). */
  const keepLeftBranching = (x: Tensor): void => {
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < N; j++) {
        x.data[((b * N + 0) * N + j) * L] = 0.5;
        x.data[((b * N + j) * N + j) * L] = -0.25;
      }
    }
  };

  test('float64, mixed lengths, every k', () => {
    check(randomTensor(shape, rng(41)), true, 1e-12);
  });
  test('−Infinity masks: masked trees never listed, a −Infinity tail', () => {
    const x = randomTensor(shape, rng(42));
    const random = rng(43);
    for (let i = 0; i < x.data.length; i++) if (random() < 0.4) x.data[i] = -Infinity;
    keepLeftBranching(x);
    check(x, true, 1e-12);
  });
  test('ties on integer scores: the documented order', () => {
    check(integerTensor(shape, 44), true, 0);
    check(new Tensor(new Float64Array(shape.reduce((a, b) => a * b, 1)), shape), true, 0);
  });
  test('±1e3 scores', () => {
    check(randomTensor(shape, rng(45), 1e3), true, 1e-12);
  });
  test('float32', () => {
    check(toFloat32(randomTensor(shape, rng(46))), false, 1e-5);
  });
  test('rank 0 is argmaxDecoded (first maximum on ties)', () => {
    for (const x of [randomTensor(shape, rng(47)), integerTensor(shape, 48), toFloat32(integerTensor(shape, 49))]) {
      const crf = new TreeCRF(x, { lengths });
      const best = crf.argmaxDecoded();
      const top = crf.topk(1);
      expect(Array.from(top.spans)).toEqual(Array.from(best.spans));
      expect(data(top.score)).toEqual(data(best.score));
      expect(data(top.parts)).toEqual(data(best.parts));
    }
  });
  test('async equals sync; repeated calls agree', async () => {
    const crf = new TreeCRF(integerTensor(shape, 50), { lengths });
    const a = await crf.topkAsync(7);
    const s = crf.topk(7);
    expect(Array.from(a.spans)).toEqual(Array.from(s.spans));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
    expect(Array.from(crf.topk(7).spans)).toEqual(Array.from(s.spans));
  });
});

describe.each([true, false])('DependencyCRF.topk (singleRoot %s)', (singleRoot) => {
  // arcs [B, N, N]: N = 4; lengths 4, 1 and 3
  const [B, N] = [3, 4];
  const lengths = [4, 1, 3];
  const shape = [B, N, N];
  const width = N;
  const partCount = N * N;
  const options = { lengths, singleRoot };
  const oracleOf = (x: Tensor): Structure[][] =>
    lengths.map((n, b) => {
      const sentence = dependencySentence(as64(x), b, lengths, singleRoot);
      return ranked(
        projectiveTrees(n, singleRoot).map((heads) => dependencyStructureOf(sentence, heads)),
        eisnerTie(sentence),
      );
    });
  const check = (x: Tensor, exactOrder: boolean, rtol: number): void => {
    const oracle = oracleOf(x);
    expect(dependencyPartCount(dependencySentence(x, 0, lengths, singleRoot))).toBe(partCount);
    const most = Math.max(...oracle.map((o) => o.length));
    for (let k = 1; k <= most + 1; k++) {
      const top = new DependencyCRF(x, options).topk(k);
      checkTopk({ ...top, decoded: top.heads }, k, B, width, partCount, oracle, { rtol, atol: rtol, exactOrder });
    }
  };

  test('float64, mixed lengths, every k', () => {
    check(randomTensor(shape, rng(51)), true, 1e-12);
  });
  test('−Infinity masks: masked trees never listed, a −Infinity tail', () => {
    const x = randomTensor(shape, rng(52));
    const random = rng(53);
    for (let i = 0; i < x.data.length; i++) if (random() < 0.4) x.data[i] = -Infinity;
    // keep the chain root → 0 → 1 → ... finite
    for (let b = 0; b < B; b++) {
      x.data[b * N * N] = 0.5;
      for (let m = 1; m < N; m++) x.data[(b * N + m - 1) * N + m] = -0.25;
    }
    check(x, true, 1e-12);
  });
  test('ties on integer scores: the documented order', () => {
    check(integerTensor(shape, 54), true, 0);
    check(new Tensor(new Float64Array(B * N * N), shape), true, 0);
  });
  test('±1e3 scores', () => {
    check(randomTensor(shape, rng(55), 1e3), true, 1e-12);
  });
  test('float32', () => {
    check(toFloat32(randomTensor(shape, rng(56))), false, 1e-5);
  });
  test('rank 0 is argmaxDecoded (first maximum on ties)', () => {
    for (const x of [randomTensor(shape, rng(57)), integerTensor(shape, 58), toFloat32(integerTensor(shape, 59))]) {
      const crf = new DependencyCRF(x, options);
      const best = crf.argmaxDecoded();
      const top = crf.topk(1);
      expect(Array.from(top.heads)).toEqual(Array.from(best.heads));
      expect(data(top.score)).toEqual(data(best.score));
      expect(data(top.parts)).toEqual(data(best.parts));
    }
  });
  test('async equals sync; repeated calls agree', async () => {
    const crf = new DependencyCRF(integerTensor(shape, 60), options);
    const a = await crf.topkAsync(9);
    const s = crf.topk(9);
    expect(Array.from(a.heads)).toEqual(Array.from(s.heads));
    expect(data(a.score)).toEqual(data(s.score));
    expect(data(a.parts)).toEqual(data(s.parts));
    expect(Array.from(crf.topk(9).heads)).toEqual(Array.from(s.heads));
  });
});

describe('TreeCRF and DependencyCRF topk: typed errors', () => {
  test.each([
    ['TreeCRF', () => new TreeCRF(randomTensor([2, 3, 3], rng(61)))],
    ['DependencyCRF', () => new DependencyCRF(randomTensor([2, 3, 3], rng(62)))],
  ])('%s: k out of range, sentences without a tree', (_, make) => {
    const crf = make();
    expect(errorCode(() => crf.topk(0))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk(1025))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk(2.5))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.topk('2' as unknown as number))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });
  test('no tree of finite score: the same error as argmax', () => {
    const x = new Tensor(new Float64Array(2 * 3 * 3).fill(-Infinity), [2, 3, 3]);
    for (const crf of [new TreeCRF(x), new DependencyCRF(x)]) {
      expect(errorCode(() => crf.topk(3))).toBe(errorCode(() => crf.argmaxDecoded()));
      expect(errorCode(() => crf.topk(3))).not.toBe('no error');
    }
  });
  test('charts of 3 (N + 1)² k derivations past 2^28: ERR_SIZE_OVERFLOW before any work', () => {
    const x = new Tensor(new Float32Array(300 * 300), [1, 300, 300]);
    expect(errorCode(() => new TreeCRF(x).topk(1024))).toBe('RangeError:ERR_SIZE_OVERFLOW');
    expect(errorCode(() => new DependencyCRF(x).topk(1024))).toBe('RangeError:ERR_SIZE_OVERFLOW');
  });
});
