/**
 * Exact divergences between two distributions of one structure family, and the number of its structures, from the
 * building blocks every structure has (docs/CONVENTIONS.md, "Divergences and counts"): with s the part scores
 * (`partScores()`), μ the marginals and log Z the log-partition of each distribution,
 *
 * - cross-entropy  H(p, q) = −E_p[log q(z)] = log Z_q − ⟨μ_p, s_q⟩,
 * - KL(p ‖ q)      = E_p[log p(z) − log q(z)] = (⟨μ_p, s_p⟩ − log Z_p) − (⟨μ_p, s_q⟩ − log Z_q),
 * - count          = log |Z| = log Z of all-zero part scores (the structures the lengths and options allow,
 *                    whatever the scores forbid),
 *
 * per instance, `[B]`, exact (the expectation semiring: E_p[z] is the marginals; no sampling). The dot products run
 * over the parts where μ_p ≠ 0 (the parts' per-instance dot, in float64 where the parts live), so a part that p
 * never uses contributes nothing even when q forbids it (s_q = −Infinity); a part p uses and q forbids makes the
 * cross-entropy and the KL +Infinity.
 *
 * Gradients (vector-Jacobian products for a per-instance weight `grad [B]`), by the chain rule through the
 * building blocks (marginalsBackward = (∂μ/∂potentials)ᵀ·, the Hessian-vector product Cov(z)·; partsBackward = Sᵀ,
 * the transpose of potentials ↦ part scores):
 *
 * - ∂H(p, q)/∂η_p = −Cov_p(z)·s_q,          ∂H(p, q)/∂η_q = Sᵀ(μ_q − μ_p),
 * - ∂KL(p‖q)/∂η_p = Cov_p(z)·(s_p − s_q),    ∂KL(p‖q)/∂η_q = Sᵀ(μ_q − μ_p),
 *
 * each scaled per instance by grad_b. The −Infinity entries of s_p and s_q are replaced by 0 before the product:
 * Cov_p has zero rows and columns on the parts where μ_p = 0, so this is exact wherever the value is finite. An
 * instance whose value is +Infinity is not differentiable: its gradients are zero.
 *
 * Values are O(B) host scalars (`Float64Array`); parts and gradients stay where the structures live (for
 * DeviceTensor scores only B scalars cross per dot product and per log-partition). @internal
 */
import { rangeError, typeError } from '../errors';
import { combine, disposeParts, finitePart, leavesOf, scoreOf } from '../estimators/parts';
import type { Parts } from '../estimators/types';
import { AnyTensor, DeviceTensor } from '../tensor';

/** The building blocks a divergence reads, over parts Z with gradients G w.r.t. the potentials. */
export interface DivergenceBlocks<Z extends Parts, G extends Parts> {
  /** Batch size B. */
  readonly batch: number;
  /** log Z per instance, `[B]`. */
  logPartition(): AnyTensor;
  /** μ over the parts. */
  marginals(): Z;
  /** (∂μ/∂potentials)ᵀ grad, grad over the parts. */
  marginalsBackward(grad: Z): G;
  /** The score of every part (−Infinity: forbidden). */
  partScores(): Z;
  /** ∂⟨grad, partScores()⟩/∂potentials. */
  partsBackward(grad: Z): G;
  /** The same family over other part scores (only its log-partition is read). */
  withScores(scores: Z): { logPartition(): AnyTensor; logPartitionAsync?(): Promise<AnyTensor>; dispose?(): void };
  /** Optional: async {@link logPartition} (the async divergences use it where present, the sync one otherwise). */
  logPartitionAsync?(): Promise<AnyTensor>;
  /** Optional: async {@link marginals}. */
  marginalsAsync?(): Promise<Z>;
  /** Optional: async {@link marginalsBackward}. */
  marginalsBackwardAsync?(grad: Z): Promise<G>;
}

/**
 * What makes two structures one family besides their class and parts' shapes: lengths and options, by name
 * (e.g. `{ lengths, singleRoot }`); `null` for "all N" lengths.
 */
export type Family = Readonly<Record<string, Int32Array | readonly number[] | number | boolean | string | null>>;

/** Gradients of a divergence w.r.t. both distributions' potentials. */
export interface DivergenceGrad<G> {
  /** w.r.t. the potentials of the structure the method is called on (p), laid out like them. */
  self: G;
  /** w.r.t. the potentials of `other` (q), laid out like them. */
  other: G;
}

/**
 * The divergence methods every structure class has (thin calls into this module). Values are host float64 `[B]`;
 * `grad` is a per-instance weight `[B]` (ones for the gradient of the sum).
 */
export interface Divergences<Self, G> {
  /** KL(this ‖ other) per instance, `[B]` (≥ 0; +Infinity where `other` forbids a part this uses). */
  kl(other: Self): Float64Array;
  /** Σ_b grad_b·KL_b differentiated w.r.t. both structures' potentials. */
  klBackward(other: Self, grad: ArrayLike<number>): DivergenceGrad<G>;
  /** Cross-entropy H(this, other) = −E_this[log other(z)] per instance, `[B]`. */
  crossEntropy(other: Self): Float64Array;
  /** Σ_b grad_b·H_b(this, other) differentiated w.r.t. both structures' potentials. */
  crossEntropyBackward(other: Self, grad: ArrayLike<number>): DivergenceGrad<G>;
  /** The log of the number of structures per instance, `[B]` (lengths and options respected, scores ignored). */
  count(): Float64Array;
  /** Async {@link kl}: the dynamic programs off the main thread. */
  klAsync(other: Self): Promise<Float64Array>;
  /** Async {@link klBackward}. */
  klBackwardAsync(other: Self, grad: ArrayLike<number>): Promise<DivergenceGrad<G>>;
  /** Async {@link crossEntropy}. */
  crossEntropyAsync(other: Self): Promise<Float64Array>;
  /** Async {@link crossEntropyBackward}. */
  crossEntropyBackwardAsync(other: Self, grad: ArrayLike<number>): Promise<DivergenceGrad<G>>;
  /** Async {@link count}. */
  countAsync(): Promise<Float64Array>;
}

/** A tensor `[B]` as host float64 values (a device result is freed). */
function hostValues(t: AnyTensor): Float64Array {
  if (!(t instanceof DeviceTensor)) return Float64Array.from(t.data);
  const values = Float64Array.from(t.toHost().data);
  t.dispose();
  return values;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object' && typeof (value as ArrayLike<number>).length === 'number') {
    return `[${Array.from(value as ArrayLike<number>).join(', ')}]`;
  }
  return String(value);
}

function sameValue(a: Family[string], b: Family[string]): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
}

/**
 * Checks that `other` is a structure of p's family and returns it: the same class (TypeError
 * ERR_INVALID_ARG_TYPE), the same family fields (RangeError ERR_SHAPE_MISMATCH naming the field, e.g.
 * `other.lengths`). The parts' shapes are checked by the divergences themselves.
 * @param family reads a structure's lengths and options
 */
export function requireSameFamily<T extends object>(p: T, other: unknown, family: (s: T) => Family, name = 'other'): T {
  if (other === null || typeof other !== 'object' || other.constructor !== p.constructor) {
    const got = other === null || typeof other !== 'object' ? String(other) : other.constructor.name;
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be a ${p.constructor.name} (the same kind of structure), got ${got}`);
  }
  const q = other as T;
  const [fp, fq] = [family(p), family(q)];
  for (const key of Object.keys(fp)) {
    if (!sameValue(fp[key], fq[key])) {
      throw rangeError('ERR_SHAPE_MISMATCH', `${name}.${key} must equal this structure's (${describe(fp[key])}), got ${describe(fq[key])}`);
    }
  }
  return q;
}

function requireSameParts(sp: Parts, sq: Parts, name: string): void {
  const [lp, lq] = [leavesOf(sp), leavesOf(sq)];
  const shapes = (l: AnyTensor[]): string => l.map((t) => `[${t.shape.join(', ')}]`).join(' ');
  const same = lp.length === lq.length && lp.every((t, i) => t.shape.length === lq[i].shape.length && t.shape.every((d, k) => d === lq[i].shape[k]));
  if (!same) throw rangeError('ERR_SHAPE_MISMATCH', `${name} must have parts of shape ${shapes(lp)}, got ${shapes(lq)}`);
}

/** The per-instance weights of a backward, checked: float64 `[B]`. */
function weightsOf(grad: ArrayLike<number>, batch: number): Float64Array {
  if (grad === null || typeof grad !== 'object' || typeof grad.length !== 'number') {
    throw typeError('ERR_INVALID_ARG_TYPE', `grad must be an array of B = ${batch} numbers`);
  }
  if (grad.length !== batch) throw rangeError('ERR_SHAPE_MISMATCH', `grad must hold B = ${batch} numbers, got ${grad.length}`);
  const w = Float64Array.from(grad);
  w.forEach((v, b) => {
    if (!Number.isFinite(v)) throw rangeError('ERR_NOT_FINITE', `grad[${b}] = ${v} is not finite`);
  });
  return w;
}

/** What the values and their gradients share. */
interface Pieces<Z extends Parts> {
  /** μ_p (a fresh result: freed by {@link release}). */
  mp: Z;
  sp: Z;
  sq: Z;
  /** ⟨μ_p, s_q⟩ over μ_p ≠ 0, `[B]`. */
  cross: Float64Array;
  logZq: Float64Array;
  /** Device tensors of sp and sq made for this call (freed by {@link release}). */
  fresh: AnyTensor[];
}

/**
 * A structure's part scores and which of their device tensors the call made (to free after use: e.g. a shared
 * chain transition repeated per sequence), told apart from the structure's own tensors by identity across a second
 * call (which costs as little as the first: views of the potentials, or a repetition of a small tensor).
 */
function partScoresOf<Z extends Parts, G extends Parts>(s: DivergenceBlocks<Z, G>): { scores: Z; fresh: AnyTensor[] } {
  const scores = s.partScores();
  const onDevice: AnyTensor[] = leavesOf(scores).filter((leaf) => leaf instanceof DeviceTensor);
  if (onDevice.length === 0) return { scores, fresh: [] };
  const again = leavesOf(s.partScores());
  disposeParts(...again.filter((leaf) => !onDevice.includes(leaf)));
  return { scores, fresh: onDevice.filter((leaf) => !again.includes(leaf)) };
}

/** Checks q against p and reads their part scores. */
function scoresOf<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name: string): { sp: Z; sq: Z; fresh: AnyTensor[] } {
  if (q.batch !== p.batch) throw rangeError('ERR_SHAPE_MISMATCH', `${name} must have B = ${p.batch} instances, got ${q.batch}`);
  const sp = partScoresOf(p);
  const sq = q === p ? { scores: sp.scores, fresh: [] } : partScoresOf(q);
  const fresh = [...sp.fresh, ...sq.fresh];
  try {
    requireSameParts(sp.scores, sq.scores, name);
  } catch (error) {
    disposeParts(...fresh);
    throw error;
  }
  return { sp: sp.scores, sq: sq.scores, fresh };
}

function assemble<Z extends Parts>(scores: { sp: Z; sq: Z; fresh: AnyTensor[] }, mp: Z, logZq: AnyTensor, batch: number): Pieces<Z> {
  return { ...scores, mp, cross: scoreOf(mp, scores.sq, batch), logZq: hostValues(logZq) };
}

function pieces<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name: string): Pieces<Z> {
  const scores = scoresOf(p, q, name);
  return assemble(scores, p.marginals(), q.logPartition(), p.batch);
}

async function piecesAsync<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name: string): Promise<Pieces<Z>> {
  const scores = scoresOf(p, q, name);
  const [mp, logZq] = await Promise.all([marginalsAsync(p), logPartitionAsync(q)]);
  return assemble(scores, mp, logZq, p.batch);
}

const logPartitionAsync = (s: { logPartition(): AnyTensor; logPartitionAsync?(): Promise<AnyTensor> }): Promise<AnyTensor> =>
  s.logPartitionAsync ? s.logPartitionAsync() : Promise.resolve().then(() => s.logPartition());
const marginalsAsync = <Z extends Parts, G extends Parts>(s: DivergenceBlocks<Z, G>): Promise<Z> =>
  s.marginalsAsync ? s.marginalsAsync() : Promise.resolve().then(() => s.marginals());
const marginalsBackwardAsync = <Z extends Parts, G extends Parts>(s: DivergenceBlocks<Z, G>, grad: Z): Promise<G> =>
  s.marginalsBackwardAsync ? s.marginalsBackwardAsync(grad) : Promise.resolve().then(() => s.marginalsBackward(grad));

function release<Z extends Parts>(x: Pieces<Z>): void {
  disposeParts(x.mp, ...x.fresh);
}

function crossEntropyOf<Z extends Parts>(x: Pieces<Z>): Float64Array {
  return x.logZq.map((z, b) => z - x.cross[b]);
}

/** KL from the pieces and log Z_p (undefined when q is p itself: then KL is exactly 0 whatever the kernels' rounding). */
function klOf<Z extends Parts>(x: Pieces<Z>, logZp: AnyTensor | undefined, batch: number): Float64Array {
  if (logZp === undefined) return new Float64Array(batch);
  const own = scoreOf(x.mp, x.sp, batch);
  const z = hostValues(logZp);
  return own.map((s, b) => Math.max(0, s - z[b] - (x.cross[b] - x.logZq[b])));
}

/**
 * Cross-entropy H(p, q) = log Z_q − ⟨μ_p, s_q⟩ per instance, `[B]` host float64 (+Infinity where q forbids a part
 * p uses). `p`, `q`: structures of one family (see {@link requireSameFamily}); `name` names q in errors.
 */
export function crossEntropy<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name = 'other'): Float64Array {
  const x = pieces(p, q, name);
  try {
    return crossEntropyOf(x);
  } finally {
    release(x);
  }
}

/** Async {@link crossEntropy}: the log-partition and marginals by the structures' async forms where they have them. */
export async function crossEntropyAsync<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name = 'other'): Promise<Float64Array> {
  const x = await piecesAsync(p, q, name);
  try {
    return crossEntropyOf(x);
  } finally {
    release(x);
  }
}

/**
 * KL(p ‖ q) = (⟨μ_p, s_p⟩ − log Z_p) − (⟨μ_p, s_q⟩ − log Z_q) per instance, `[B]` host float64: exactly 0 for
 * q = p (the same object; for another structure with p's scores, 0 up to the kernels' rounding — exactly 0 where
 * they are deterministic), rounding below 0 clamped to 0, +Infinity where q forbids a part p uses.
 */
export function kl<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name = 'other'): Float64Array {
  const x = pieces(p, q, name);
  try {
    return klOf(x, q === p ? undefined : p.logPartition(), p.batch);
  } finally {
    release(x);
  }
}

/** Async {@link kl}. */
export async function klAsync<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>, q: DivergenceBlocks<Z, G>, name = 'other'): Promise<Float64Array> {
  const x = await piecesAsync(p, q, name);
  try {
    return klOf(x, q === p ? undefined : await logPartitionAsync(p), p.batch);
  } finally {
    release(x);
  }
}

/** What a backward needs besides the two Hessian-vector and marginal calls. */
interface BackwardPlan<Z extends Parts> {
  /** ±grad_b·(s_p − s_q) or −grad_b·s_q, −Infinity taken as 0: what Cov_p multiplies. */
  direction: Z;
  weight: Float64Array;
  negative: Float64Array;
  temporaries: Parts[];
}

function plan<Z extends Parts>(which: 'kl' | 'crossEntropy', x: Pieces<Z>, w: Float64Array): BackwardPlan<Z> {
  const temporaries: Parts[] = [];
  // Instances with +Infinity value (q forbids a part p uses) get weight 0.
  const weight = w.map((v, b) => (Number.isFinite(x.cross[b]) ? v : 0));
  const negative = weight.map((v) => -v);
  const finiteSq = finitePart(x.sq);
  temporaries.push(finiteSq);
  let direction: Z;
  if (which === 'kl') {
    const finiteSp = finitePart(x.sp);
    temporaries.push(finiteSp);
    direction = combine(finiteSp, [
      { coef: weight, parts: finiteSp },
      { coef: negative, parts: finiteSq },
    ]);
  } else {
    direction = combine(finiteSq, [{ coef: negative, parts: finiteSq }]);
  }
  temporaries.push(direction);
  return { direction, weight, negative, temporaries };
}

/** S^T(μ_q − μ_p) scaled per instance, by q's partsBackward. */
function otherGrad<Z extends Parts, G extends Parts>(q: DivergenceBlocks<Z, G>, x: Pieces<Z>, mq: Z, step: BackwardPlan<Z>): G {
  step.temporaries.push(mq);
  const difference = combine(mq, [
    { coef: step.weight, parts: mq },
    { coef: step.negative, parts: x.mp },
  ]);
  step.temporaries.push(difference);
  return q.partsBackward(difference);
}

/** Frees the pieces and the temporaries of a backward, except what it returns (partsBackward may return its argument). */
function cleanUp<Z extends Parts>(x: Pieces<Z>, step: BackwardPlan<Z> | undefined, kept: Parts[]): void {
  release(x);
  if (!step) return;
  const returned = new Set<AnyTensor>(kept.flatMap((g) => leavesOf(g)));
  for (const t of step.temporaries) disposeParts(...leavesOf(t).filter((leaf) => !returned.has(leaf)));
}

/**
 * The gradients of Σ_b grad_b·D_b for D = H(p, q) (`which` = 'crossEntropy') or KL(p ‖ q) ('kl'), grad `[B]`:
 * `self` w.r.t. p's potentials (−Cov_p·s_q, resp. Cov_p·(s_p − s_q)), `other` w.r.t. q's (Sᵀ(μ_q − μ_p)), each
 * scaled per instance by grad_b; zero for instances whose value is +Infinity. Laid out like each structure's
 * potentials (its marginalsBackward / partsBackward results).
 */
export function divergenceBackward<Z extends Parts, G extends Parts>(
  which: 'kl' | 'crossEntropy',
  p: DivergenceBlocks<Z, G>,
  q: DivergenceBlocks<Z, G>,
  grad: ArrayLike<number>,
  name = 'other',
): DivergenceGrad<G> {
  const w = weightsOf(grad, p.batch);
  const x = pieces(p, q, name);
  let step: BackwardPlan<Z> | undefined;
  const kept: Parts[] = [];
  try {
    step = plan(which, x, w);
    const self = p.marginalsBackward(step.direction);
    kept.push(self);
    const other = otherGrad(q, x, q.marginals(), step);
    kept.push(other);
    return { self, other };
  } finally {
    cleanUp(x, step, kept);
  }
}

/** Async {@link divergenceBackward}. */
export async function divergenceBackwardAsync<Z extends Parts, G extends Parts>(
  which: 'kl' | 'crossEntropy',
  p: DivergenceBlocks<Z, G>,
  q: DivergenceBlocks<Z, G>,
  grad: ArrayLike<number>,
  name = 'other',
): Promise<DivergenceGrad<G>> {
  const w = weightsOf(grad, p.batch);
  const x = await piecesAsync(p, q, name);
  let step: BackwardPlan<Z> | undefined;
  const kept: Parts[] = [];
  try {
    step = plan(which, x, w);
    const [self, mq] = await Promise.all([marginalsBackwardAsync(p, step.direction), marginalsAsync(q)]);
    kept.push(self);
    const other = otherGrad(q, x, mq, step);
    kept.push(other);
    return { self, other };
  } finally {
    cleanUp(x, step, kept);
  }
}

/** The log of the number of structures per instance, `[B]` host float64: log Z of all-zero part scores. */
export function count<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>): Float64Array {
  const { scores: sp, fresh } = partScoresOf(p);
  const zeros = combine(sp, [{ coef: 0, parts: sp }]);
  disposeParts(...fresh);
  const flat = p.withScores(zeros);
  try {
    return hostValues(flat.logPartition());
  } finally {
    flat.dispose?.();
    disposeParts(zeros);
  }
}

/** Async {@link count}. */
export async function countAsync<Z extends Parts, G extends Parts>(p: DivergenceBlocks<Z, G>): Promise<Float64Array> {
  const { scores: sp, fresh } = partScoresOf(p);
  const zeros = combine(sp, [{ coef: 0, parts: sp }]);
  disposeParts(...fresh);
  const flat = p.withScores(zeros);
  try {
    return hostValues(await logPartitionAsync(flat));
  } finally {
    flat.dispose?.();
    disposeParts(zeros);
  }
}
