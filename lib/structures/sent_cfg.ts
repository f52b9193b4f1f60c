/**
 * `SentCFG`: a probabilistic context-free grammar in Chomsky normal form over a batch of B sentences of up to N
 * words (torch-struct's SentCFG), by inside-outside. NT nonterminals and T preterminals, S = NT + T labels:
 * - `terms [B, N, T]`: `[b, i, t]` = score of preterminal t emitting word i;
 * - `rules [B, NT, S, S]`: `[b, A, X, Y]` = score of the rule A → X Y, where an index < NT is a nonterminal and
 *   NT + t is preterminal t (a child of width 1 is a word's preterminal, a wider child a nonterminal);
 * - `roots [B, NT]`: `[b, A]` = score of A at the root span (0, n − 1).
 *
 * A tree of a sentence of n ≥ 2 words is a binary bracketing with a nonterminal on each of its n − 1 spans of
 * width ≥ 2 and a preterminal on each word; its score is its root's score plus the scores of its n − 1 rules and
 * its n terms, and p(z) ∝ exp(score) (Catalan(n − 1)·NT^(n−1)·T^n trees). The grammar has no unary rules, so
 * lengths are in [2, N].
 *
 * Parts: one packed tensor `[B, D]`, D = N·T + NT·S² + NT, per row terms (i·T + t), then rules
 * (N·T + (A·S + X)·S + Y), then roots (N·T + NT·S² + A); the parts of a tree are its counts (a rule used twice counts
 * 2), so the marginals of the rules are expected counts summed over spans (as torch-struct's). {@link SentCFG.unpack}
 * splits any `[..., D]` tensor back into the three blocks.
 *
 * Terms past a sentence's length are ignored. `-Infinity` forbids a term, rule or root; NaN and `+Infinity` are
 * errors, as is a sentence whose every tree scores `-Infinity`. Every pass but the argmax computes in float64 whatever
 * the dtype; `sparsemap` raises `TypeError ERR_NOT_IMPLEMENTED`.
 *
 * `topk(k)` is exact k-best PCFG parsing (Huang & Chiang 2005, over the items (span, label) and the hyperedges
 * (split, X, Y) of the inside pass), O(N³·NT·S² + N²·NT·k log k) per sentence. Structure 0 is argmaxDecoded()'s tree
 * with its score to the bit; equal scores are ordered top-down from the root: the root label (smaller first), then
 * at each span the split point, then the left child's label, then the right child's (smaller first), then the
 * left and the right subtree (each by its score, then the same rule). Its workspace is (N²·S + 1)·k derivations
 * per sentence plus the candidate heaps (RangeError `ERR_SIZE_OVERFLOW` past 2^28).
 */
import { optionsObject, rangeError, typeError } from '../errors';
import { NativeCfgGrammar, native } from '../native';
import { AnyTensor, DeviceTensor, Like, Tensor, fromNative, requireTensor, toNative } from '../tensor';
import { TreeStructure, TreeOptions } from './tree_structure';
import type { TreeDecoded, TreeArgmax } from './tree';

export type { TreeDecoded as SentCFGDecoded, TreeArgmax as SentCFGArgmax };

/** The three score blocks of a SentCFG (all Tensors or all DeviceTensors on one device, one dtype). */
export interface SentCFGScores<X extends AnyTensor = AnyTensor> {
  /** `[B, N, T]` */
  terms: X;
  /** `[B, NT, NT + T, NT + T]` */
  rules: X;
  /** `[B, NT]` */
  roots: X;
}

/** The sizes behind packed SentCFG scores: N words, NT nonterminals, T preterminals. */
export interface SentCFGSizes {
  N: number;
  NT: number;
  T: number;
}

function grammarOf(sizes: SentCFGSizes): NativeCfgGrammar {
  if (sizes === null || typeof sizes !== 'object') {
    throw typeError('ERR_INVALID_ARG_TYPE', `sizes must be an object { N, NT, T }, got ${String(sizes)}`);
  }
  for (const key of ['N', 'NT', 'T'] as const) {
    const v = sizes[key];
    if (!Number.isInteger(v) || v < 1) throw rangeError('ERR_OUT_OF_RANGE', `sizes.${key} must be a positive integer, got ${String(v)}`);
  }
  return { length: sizes.N, nonterminals: sizes.NT, preterminals: sizes.T };
}

/** Lengths in [2, N]: a single word has no tree with a nonterminal root (no unary rules). */
function checkCfgLengths(N: number, options: TreeOptions, wordsName: string): void {
  const lengths = options?.lengths;
  if (lengths === undefined) {
    if (N < 2) {
      throw rangeError('ERR_OUT_OF_RANGE', `${wordsName} has N = ${N} words; SentCFG needs sentences of at least 2 words (no unary rules)`);
    }
    return;
  }
  if (!Array.isArray(lengths) && !ArrayBuffer.isView(lengths)) return;  // TreeStructure reports the type
  Array.from(lengths as ArrayLike<number>).forEach((v, b) => {
    if (Number.isInteger(v) && v < 2) {
      throw rangeError('ERR_OUT_OF_RANGE', `lengths[${b}] = ${v} is outside [2, ${N}]: a SentCFG sentence has at least 2 words`);
    }
  });
}

/** Row-major copy of `rows` blocks of `width` from `from` into `to` at stride `stride` (offset `at`). */
function scatterRows(from: ArrayLike<number>, to: Float32Array | Float64Array, rows: number, width: number, stride: number, at: number): void {
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < width; q++) to[r * stride + at + q] = from[r * width + q];
  }
}

function hostData(t: AnyTensor): Float32Array | Float64Array {
  return (t as Tensor).data;
}

/** A host tensor of data and shape, moved to `like`'s device when that is a DeviceTensor. */
function placedLike(like: AnyTensor, data: Float32Array | Float64Array, shape: readonly number[]): AnyTensor {
  const host = new Tensor(data, shape);
  return like instanceof DeviceTensor ? host.toDevice(like.deviceIndex) : host;
}

/** Packs terms, rules and roots into `[B, D]`, where they live (on the device by one block copy each). */
function pack<X extends AnyTensor>(scores: SentCFGScores<X>): { packed: X; sizes: SentCFGSizes } {
  if (scores === null || typeof scores !== 'object') {
    throw typeError('ERR_INVALID_ARG_TYPE', `scores must be an object { terms, rules, roots }, got ${String(scores)}`);
  }
  const terms = requireTensor(scores.terms, 'terms');
  const rules = requireTensor(scores.rules, 'rules');
  const roots = requireTensor(scores.roots, 'roots');
  if (terms.shape.length !== 3 || terms.shape.some((d) => d < 1)) {
    throw rangeError('ERR_INVALID_SHAPE', `terms must have shape [B, N, T] with N, T ≥ 1, got [${terms.shape.join(', ')}]`);
  }
  const [B, N, T] = terms.shape;
  const r = rules.shape;
  const NT = r.length === 4 ? r[1] : 0;
  const S = NT + T;
  if (r.length !== 4 || r[0] !== B || NT < 1 || r[2] !== S || r[3] !== S) {
    throw rangeError('ERR_SHAPE_MISMATCH', `rules must have shape [B = ${B}, NT, NT + T, NT + T] with NT ≥ 1 (T = ${T}), got [${r.join(', ')}]`);
  }
  if (roots.shape.length !== 2 || roots.shape[0] !== B || roots.shape[1] !== NT) {
    throw rangeError('ERR_SHAPE_MISMATCH', `roots must have shape [B, NT] = [${B}, ${NT}], got [${roots.shape.join(', ')}]`);
  }
  for (const [name, t] of [['rules', rules], ['roots', roots]] as const) {
    if (t.dtype !== terms.dtype) throw typeError('ERR_DTYPE_MISMATCH', `${name} must have terms' dtype ${terms.dtype}, got ${t.dtype}`);
    const placeOf = (x: AnyTensor) => (x instanceof DeviceTensor ? `cuda:${x.deviceIndex}` : 'cpu');
    if (placeOf(t) !== placeOf(terms)) {
      throw typeError('ERR_MIXED_DEVICES', `${name} must live where terms live (${placeOf(terms)}), got ${placeOf(t)}`);
    }
  }
  const D = N * T + NT * S * S + NT;
  if (terms instanceof DeviceTensor) {
    const packed = fromNative(native.partsConcatRows([toNative(terms), toNative(rules), toNative(roots)], B), [B, D]);
    return { packed: packed as X, sizes: { N, NT, T } };
  }
  const data = terms.dtype === 'float64' ? new Float64Array(B * D) : new Float32Array(B * D);
  scatterRows(hostData(terms), data, B, N * T, D, 0);
  scatterRows(hostData(rules), data, B, NT * S * S, D, N * T);
  scatterRows(hostData(roots), data, B, NT, D, N * T + NT * S * S);
  return { packed: placedLike(terms, data, [B, D]) as X, sizes: { N, NT, T } };
}

/** Marks already packed scores given to the constructor (by {@link SentCFG.fromPacked}). */
const PACKED = Symbol('SentCFG.packed');
interface PackedScores<X extends AnyTensor> {
  [PACKED]: { packed: X; sizes: SentCFGSizes };
}

/** A batch of distributions over the parse trees of a PCFG in Chomsky normal form, p(z) ∝ exp(score). */
export class SentCFG<X extends AnyTensor = AnyTensor> extends TreeStructure<X, { spans: Int32Array }> {
  /** Number of nonterminals NT. */
  readonly nonterminals: number;
  /** Number of preterminals T. */
  readonly preterminals: number;
  /** Packed tensors this structure made on the device (freed by {@link dispose}). */
  private readonly owned: DeviceTensor[];

  /**
   * @param scores `{ terms [B, N, T], rules [B, NT, NT + T, NT + T], roots [B, NT] }` (all Tensors or all
   *   DeviceTensors on one device, float32 or float64), packed into `[B, D]` (see the class description)
   * @param options `lengths` (each in [2, N]), and `device` to run elsewhere than where the scores live
   * @throws TypeError ERR_INVALID_ARG_TYPE / ERR_DTYPE_MISMATCH / ERR_DEVICE_MISMATCH, RangeError
   *   ERR_INVALID_SHAPE / ERR_SHAPE_MISMATCH / ERR_OUT_OF_RANGE (a length below 2, or N = 1 naming `terms`)
   */
  constructor(scores: SentCFGScores<X>, options: TreeOptions = {}) {
    const given = scores !== null && typeof scores === 'object' ? (scores as Partial<PackedScores<X>>)[PACKED] : undefined;
    const { packed, sizes } = given ?? pack(scores);
    const checked = optionsObject(options);
    checkCfgLengths(sizes.N, checked, given ? 'packed' : 'terms');
    super('cfg', 'scores', packed, { ...checked, grammar: grammarOf(sizes) });
    this.nonterminals = sizes.NT;
    this.preterminals = sizes.T;
    this.owned = !given && packed instanceof DeviceTensor ? [packed] : [];
  }

  /**
   * A SentCFG over already packed scores `[B, D]`, D = N·T + NT·(NT + T)² + NT (kept, not copied).
   * @param packed the packed scores (a Tensor or a DeviceTensor)
   * @param sizes `{ N, NT, T }`
   * @param options as for the constructor
   */
  static fromPacked<X extends AnyTensor>(packed: X, sizes: SentCFGSizes, options: TreeOptions = {}): SentCFG<X> {
    grammarOf(sizes);
    const given: PackedScores<X> = { [PACKED]: { packed: requireTensor(packed, 'packed') as X, sizes: { N: sizes.N, NT: sizes.NT, T: sizes.T } } };
    return new SentCFG<X>(given as unknown as SentCFGScores<X>, options);
  }

  /**
   * Splits parts or scores in the packed layout, `[..., D]` (e.g. marginals `[B, D]`, samples `[k, B, D]`), into
   * `{ terms [..., N, T], rules [..., NT, S, S], roots [..., NT] }`, where the input lives (on the device by one
   * block copy each).
   */
  unpack(parts: Like<X>): SentCFGScores<Like<X>> {
    const t = requireTensor(parts, 'parts');
    const [N, NT, T] = [this.length, this.nonterminals, this.preterminals];
    const S = NT + T;
    const D = N * T + NT * S * S + NT;
    if (t.shape.length < 1 || t.shape[t.shape.length - 1] !== D) {
      throw rangeError('ERR_SHAPE_MISMATCH', `parts must have shape [..., D = ${D}], got [${t.shape.join(', ')}]`);
    }
    const lead = t.shape.slice(0, -1);
    const rows = lead.reduce((a, b) => a * b, 1);
    const data = t instanceof DeviceTensor ? undefined : t.data;
    const block = (offset: number, width: number, shape: number[]) => {
      if (data === undefined) return fromNative(native.partsSliceRows(toNative(t), rows, offset, width), [...lead, ...shape]) as Like<X>;
      const out = t.dtype === 'float64' ? new Float64Array(rows * width) : new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) out.set(data.subarray(r * D + offset, r * D + offset + width), r * width);
      return placedLike(t, out, [...lead, ...shape]) as Like<X>;
    };
    return {
      terms: block(0, N * T, [N, T]),
      rules: block(N * T, NT * S * S, [NT, S, S]),
      roots: block(N * T + NT * S * S, NT, [NT]),
    };
  }

  /** The same structure (lengths, device option) over other packed scores `[B, D]`. */
  override withScores(scores: Like<X>): this {
    const options = { ...this.options, grammar: undefined };
    return SentCFG.fromPacked(scores, { N: this.length, NT: this.nonterminals, T: this.preterminals }, options) as unknown as this;
  }

  /** Frees the device copies this structure made (packing on the device, or `{ device: 'cuda' }`). */
  override dispose(): void {
    super.dispose();
    for (const t of this.owned ?? []) if (!t.disposed) t.dispose();
  }

  protected decoded(indices: Int32Array): { spans: Int32Array } {
    return { spans: indices };
  }

  /** Counts of the parts of S·B decoded trees, `[S, B, D]`, where the scores live. */
  protected partsOfDecoded(rows: Int32Array, count: number): AnyTensor {
    const [B, N, NT, T] = [this.batch, this.length, this.nonterminals, this.preterminals];
    const S = NT + T;
    const D = N * T + NT * S * S + NT;
    const width = this.decodedWidth();
    const out = this.potentials.dtype === 'float64' ? new Float64Array(count * B * D) : new Float32Array(count * B * D);
    for (let r = 0; r < count * B; r++) {
      const base = r * D;
      const spans = new Map<string, number>();
      const list: [number, number, number][] = [];
      for (let q = r * width; q < (r + 1) * width; q += 3) {
        const [i, j, label] = [rows[q], rows[q + 1], rows[q + 2]];
        if (i < 0) break;
        const ok = i <= j && j < N && label >= 0 && label < (i === j ? T : NT);
        if (!ok) throw rangeError('ERR_OUT_OF_RANGE', `span row (${i}, ${j}, ${label}) is outside a SentCFG tree of ${N} words, ${NT} nonterminals and ${T} preterminals`);
        spans.set(`${i},${j}`, i === j ? NT + label : label);
        list.push([i, j, label]);
      }
      if (list.length === 0) continue;
      out[base + N * T + NT * S * S + list[0][2]] += 1;
      for (const [i, j, label] of list) {
        if (i === j) {
          out[base + i * T + label] += 1;
          continue;
        }
        let found = false;
        for (let k = i; k < j && !found; k++) {
          const X = spans.get(`${i},${k}`);
          const Y = spans.get(`${k + 1},${j}`);
          if (X === undefined || Y === undefined) continue;
          out[base + N * T + (label * S + X) * S + Y] += 1;
          found = true;
        }
        if (!found) throw rangeError('ERR_OUT_OF_RANGE', `span (${i}, ${j}) has no children among the rows: not a binary tree`);
      }
    }
    return placedLike(this.potentials, out, [count, B, D]);
  }
}
