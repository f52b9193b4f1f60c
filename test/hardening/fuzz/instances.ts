/**
 * Valid inputs of every structure for the hardening fuzz: fast-check arbitraries of batches (shape, dtype,
 * lengths, scores up to ±1e4, −Infinity masks that always leave each instance a structure of finite score), the
 * structure built from one, and what any result over its parts must satisfy: the structure's sum rules, the bounds
 * of log Z and of the entropy, and on tiny sizes the enumeration oracles.
 */
import fc from 'fast-check';

import {
  AlignmentCRF,
  Categorical,
  DType,
  DependencyCRF,
  Device,
  HMM,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
} from '../../../lib';
import * as categoricalOracle from '../../oracles/categorical';
import { dependencyDistribution, dependencySentence } from '../../oracles/dependency';
import { enumerateChain, oracleChain } from '../../oracles/linear_chain';
import { nonProjectiveDistribution } from '../../oracles/nonprojective';
import { catalan, treeOracle, treeSentence } from '../../oracles/tree';

export const kinds = [
  'categorical',
  'chain',
  'chain-factored',
  'hmm',
  'tree',
  'tree-labelled',
  'dependency',
  'nonprojective',
  'semi-markov',
  'alignment',
  'alignment-local',
] as const;
/** A structure and its form of potentials. */
export type Kind = (typeof kinds)[number];

/** A batch of potentials: plain data, printable (see {@link describeInstance}) so that a failing case can be rerun. */
export interface Instance {
  kind: Kind;
  dtype: DType;
  /** Shape of the main potentials: scores, edges, unary, spans or arcs. */
  shape: number[];
  /** Their values, row-major; −Infinity masks a part. */
  values: number[];
  /** Chains in factored form: transition `[C, C]` or `[B, C, C]`. */
  transitionShape?: number[];
  transition?: number[];
  lengths?: number[];
  singleRoot: boolean;
  /** Alignments: lengths over M. */
  targetLengths?: number[];
  /**
   * HMMs: the parameters (`transition [C, C]` as [next, previous], `emission [V, C]`, `init [C]`) and observations
   * `[B, N]`; `values` and `transition` above are then the factored chain's potentials derived from them (unary
   * `[B, N, C]`, transition `[C, C]` from i to j), which the checks read.
   */
  hmm?: { V: number; transition: number[]; emission: number[]; init: number[]; observations: number[] };
}

/** The structure classes. */
export type AnyStructure = Categorical | LinearChainCRF | HMM | TreeCRF | DependencyCRF | NonProjectiveDependencyCRF | SemiMarkovCRF | AlignmentCRF;

/** Alignments are AlignmentCRF's, global or local. */
export const isAlignment = (kind: Kind): boolean => kind === 'alignment' || kind === 'alignment-local';
/** The chains and the HMM: factored parts `{ unary, transition }`, labels as the decoded form. */
export const isFactored = (kind: Kind): boolean => kind === 'chain-factored' || kind === 'hmm';

/** Batch size, sequence length and labels (classes for Categorical) of an instance. */
export function dims(inst: Instance): { B: number; N: number; C: number } {
  const s = inst.shape;
  switch (inst.kind) {
    case 'categorical':
      return { B: s[0], N: 1, C: s[1] };
    case 'chain':
      return { B: s[0], N: s[1] + 1, C: s[2] };
    case 'chain-factored':
    case 'hmm':
      return { B: s[0], N: s[1], C: s[2] };
    case 'tree-labelled':
      return { B: s[0], N: s[1], C: s[3] };
    case 'semi-markov':
      return { B: s[0], N: s[1] + 1, C: s[3] };
    default:
      return { B: s[0], N: s[1], C: 1 };
  }
}

/** SemiMarkovCRF: K (longest segment + 1). AlignmentCRF: M (longest target). 1 otherwise. */
export function extent(inst: Instance): number {
  return inst.kind === 'semi-markov' || isAlignment(inst.kind) ? inst.shape[2] : 1;
}

/** Target length of alignment b. */
export function targetLengthOf(inst: Instance, b: number): number {
  return inst.targetLengths ? inst.targetLengths[b] : extent(inst);
}

/** Length of instance b. */
export function lengthOf(inst: Instance, b: number): number {
  return inst.lengths ? inst.lengths[b] : dims(inst).N;
}

function shapeOf(kind: Kind, B: number, N: number, C: number, K: number): number[] {
  switch (kind) {
    case 'categorical':
      return [B, C];
    case 'chain':
      return [B, N - 1, C, C];
    case 'chain-factored':
    case 'hmm':
      return [B, N, C];
    case 'semi-markov':
      return [B, N - 1, K, C, C];
    case 'alignment':
    case 'alignment-local':
      return [B, N, K, 3];
    case 'tree-labelled':
      return [B, N, N, C];
    default:
      return [B, N, N];
  }
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Flat indices of the main potentials (and of the transition) that must stay finite: one structure per instance. */
function spine(inst: Instance): { main: number[]; transition: number[] } {
  const { B, N, C } = dims(inst);
  const main: number[] = [];
  const transition: number[] = [];
  for (let b = 0; b < B; b++) {
    const n = lengthOf(inst, b);
    switch (inst.kind) {
      case 'categorical':
        main.push(b * C);
        break;
      case 'chain': // label 0 everywhere: edges[b, t, 0, 0]
        for (let t = 0; t + 1 < n; t++) main.push((b * (N - 1) + t) * C * C);
        break;
      case 'chain-factored':
        for (let t = 0; t < n; t++) main.push((b * N + t) * C);
        transition.push(inst.transitionShape?.length === 3 ? b * C * C : 0);
        break;
      case 'hmm': // derived potentials: the spine is kept in the parameters (see hmmArbitrary)
        break;
      case 'semi-markov': { // segments of one position, label 0: edges[b, t, 1, 0, 0]
        const K = extent(inst);
        for (let t = 0; t + 1 < n; t++) main.push(((b * (N - 1) + t) * K + 1) * C * C);
        break;
      }
      case 'alignment':
      case 'alignment-local': { // (0, 0) by a match, along row 0, then down the last column
        const [M, m] = [extent(inst), targetLengthOf(inst, b)];
        const at = (i: number, j: number, op: number) => ((b * N + i) * M + j) * 3 + op;
        main.push(at(0, 0, 1));
        for (let j = 1; j < m; j++) main.push(at(0, j, 0));
        for (let i = 1; i < n; i++) main.push(at(i, m - 1, 2));
        break;
      }
      case 'tree':
      case 'tree-labelled': // the right-branching tree, label 0: spans (i, i) and (i, n - 1)
        for (let i = 0; i < n; i++) main.push(((b * N + i) * N + i) * C, ((b * N + i) * N + n - 1) * C);
        break;
      default: // the chain 0 → 1 → ... from the root: arcs (0, 0) and (m - 1, m)
        main.push(b * N * N);
        for (let m = 1; m < n; m++) main.push((b * N + m - 1) * N + m);
    }
  }
  return { main, transition };
}

const unit = fc.double({ min: -1, max: 1, noNaN: true });

function valuesArbitrary(count: number, scale: number, maskWeight: number): fc.Arbitrary<number[]> {
  const value = maskWeight === 0 ? unit.map((u) => u * scale) : fc.oneof({ weight: 4, arbitrary: unit.map((u) => u * scale) }, { weight: maskWeight, arbitrary: fc.constant(-Infinity) });
  return fc.array(value, { minLength: count, maxLength: count });
}

/** Dimension bounds of one size class: tiny ones have an enumeration oracle. */
interface Bounds {
  B: number;
  N: [number, number];
  C: [number, number];
  /** SemiMarkovCRF: K; AlignmentCRF: M. */
  K?: [number, number];
}

function bounds(kind: Kind, large: boolean): Bounds {
  const B = large ? 4 : 3;
  switch (kind) {
    case 'categorical':
      return { B: large ? 16 : 4, N: [1, 1], C: [1, large ? 64 : 8] };
    case 'chain':
      return { B, N: [2, large ? 16 : 5], C: [1, large ? 6 : 4] };
    case 'chain-factored':
    case 'hmm':
      return { B, N: [1, large ? 16 : 5], C: [1, large ? 6 : 4] };
    case 'semi-markov':
      return { B, N: [2, large ? 14 : 5], C: [1, large ? 4 : 3], K: [2, large ? 6 : 4] };
    case 'alignment':
    case 'alignment-local':
      return { B, N: [1, large ? 14 : 4], C: [1, 1], K: [1, large ? 14 : 4] };
    case 'tree':
      return { B, N: [1, large ? 20 : 6], C: [1, 1] };
    case 'tree-labelled':
      return { B, N: [1, large ? 12 : 4], C: [1, large ? 4 : 3] };
    default:
      return { B, N: [1, large ? 20 : 5], C: [1, 1] };
  }
}

/** Score scales: unit, moderate, and the ±1e4 extreme of issue 9. */
const scales = [1, 30, 1e4];

/** Valid instances of `kind` (of any kind by default): tiny 80% of the time, else up to N = 20. */
export function instanceArbitrary(only?: Kind): fc.Arbitrary<Instance> {
  return fc
    .noBias(fc.record({
      kind: only ? fc.constant(only) : fc.constantFrom(...kinds),
      dtype: fc.constantFrom<DType>('float64', 'float32'),
      large: fc.integer({ min: 1, max: 5 }).map((n) => n === 5),
    }))
    .chain(({ kind, dtype, large }) => {
      const b = bounds(kind, large);
      const K = b.K ?? [1, 1];
      return fc
        .noBias(fc.record({
          B: fc.integer({ min: 1, max: b.B }),
          N: fc.integer({ min: b.N[0], max: b.N[1] }),
          C: fc.integer({ min: b.C[0], max: b.C[1] }),
          K: fc.integer({ min: K[0], max: K[1] }),
          V: fc.integer({ min: 1, max: large ? 8 : 4 }),
        }))
        .chain(({ B, N, C, K, V }) => {
          const shape = shapeOf(kind, B, N, C, K);
          const hasLengths = kind !== 'categorical';
          const minLength = kind === 'chain' ? 2 : 1;
          const lengthsOver = (max: number) => fc.option(fc.array(fc.integer({ min: minLength, max }), { minLength: B, maxLength: B }), { nil: undefined });
          return fc
            .record({
              scale: fc.constantFrom(...scales),
              maskWeight: fc.constantFrom(0, 1, 3),
              lengths: hasLengths ? lengthsOver(N) : fc.constant(undefined),
              targetLengths: isAlignment(kind) ? lengthsOver(K) : fc.constant(undefined),
              singleRoot: fc.boolean(),
              sharedTransition: fc.boolean(),
            })
            .chain(({ scale, maskWeight, lengths, targetLengths, singleRoot, sharedTransition }) => {
              if (kind === 'hmm') return hmmArbitrary({ dtype, shape, V, scale, maskWeight, lengths, singleRoot });
              const transitionShape = kind === 'chain-factored' ? (sharedTransition ? [C, C] : [B, C, C]) : undefined;
              return fc
                .record({
                  values: valuesArbitrary(size(shape), scale, maskWeight),
                  transition: transitionShape ? valuesArbitrary(size(transitionShape), scale, maskWeight) : fc.constant(undefined),
                })
                .map(({ values, transition }) => {
                  const inst: Instance = { kind, dtype, shape, values, transitionShape, transition, lengths, singleRoot };
                  if (targetLengths) inst.targetLengths = targetLengths;
                  const keep = spine(inst);
                  for (const q of keep.main) if (values[q] === -Infinity) values[q] = 0;
                  for (const q of keep.transition) if (transition && transition[q] === -Infinity) transition[q] = 0;
                  return inst;
                });
            });
        });
    });
}

/**
 * An HMM over shape `[B, N, C]` and V symbols: random parameters (−Infinity masks leaving state 0 everywhere:
 * init[0], transition[0, 0] and emission[x, 0] of every observed x), observations (−1 past each length), and the
 * factored chain's potentials derived from them as the HMM derives them (unary = emission[x] + init at position 0,
 * in the dtype; transition transposed).
 */
function hmmArbitrary(p: { dtype: DType; shape: number[]; V: number; scale: number; maskWeight: number; lengths?: number[]; singleRoot: boolean }): fc.Arbitrary<Instance> {
  const [B, N, C] = p.shape;
  const { V } = p;
  return fc
    .record({
      transition: valuesArbitrary(C * C, p.scale, p.maskWeight),
      emission: valuesArbitrary(V * C, p.scale, p.maskWeight),
      init: valuesArbitrary(C, p.scale, p.maskWeight),
      observations: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: B * N, maxLength: B * N }),
    })
    .map(({ transition, emission, init, observations }) => {
      const round = p.dtype === 'float32' ? Math.fround : (x: number) => x;
      [transition, emission, init].forEach((a) => a.forEach((v, q) => (a[q] = round(v))));
      const length = (b: number) => (p.lengths ? p.lengths[b] : N);
      for (let b = 0; b < B; b++) for (let n = length(b); n < N; n++) observations[b * N + n] = -1;
      if (transition[0] === -Infinity) transition[0] = 0;
      if (init[0] === -Infinity) init[0] = 0;
      for (const x of observations) if (x >= 0 && emission[x * C] === -Infinity) emission[x * C] = 0;
      const values = new Array<number>(B * N * C).fill(0);
      for (let b = 0; b < B; b++) {
        for (let n = 0; n < length(b); n++) {
          for (let c = 0; c < C; c++) values[(b * N + n) * C + c] = round(emission[observations[b * N + n] * C + c] + (n === 0 ? init[c] : 0));
        }
      }
      const flipped = Array.from({ length: C * C }, (_, q) => transition[(q % C) * C + Math.floor(q / C)]);
      return {
        kind: 'hmm' as const,
        dtype: p.dtype,
        shape: p.shape,
        values,
        transitionShape: [C, C],
        transition: flipped,
        lengths: p.lengths,
        singleRoot: p.singleRoot,
        hmm: { V, transition, emission, init, observations },
      };
    });
}

/** JSON of an instance with ±Infinity and NaN spelled out, to rerun a failing case. */
export function describeInstance(inst: Instance): string {
  return JSON.stringify(inst, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

function tensorOf(values: readonly number[], shape: number[], dtype: DType): Tensor {
  return new Tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
}

/** An HMM's parameters as tensors and its observations, as the HMM constructor takes them. */
export interface HMMInputs {
  params: { transition: Tensor; emission: Tensor; init: Tensor };
  observations: { data: Int32Array; shape: [number, number] };
}

/** The tensors of an instance: see {@link tensorsOf}. */
export interface InstanceTensors {
  main: Tensor;
  transition?: Tensor;
  main64: Tensor;
  transition64?: Tensor;
  /** HMMs: what the HMM is built from (main and transition are the derived chain's). */
  hmm?: HMMInputs;
}

/** The potentials as tensors: `main` of the instance's dtype, and float64 copies of the values as stored. */
export function tensorsOf(inst: Instance): InstanceTensors {
  const main = tensorOf(inst.values, inst.shape, inst.dtype);
  const transition = inst.transition && inst.transitionShape ? tensorOf(inst.transition, inst.transitionShape, inst.dtype) : undefined;
  const h = inst.hmm;
  const C = inst.shape[inst.shape.length - 1];
  return {
    main,
    transition,
    main64: new Tensor(Float64Array.from(main.data), inst.shape),
    transition64: transition && new Tensor(Float64Array.from(transition.data), transition.shape),
    hmm: h && {
      params: { transition: tensorOf(h.transition, [C, C], inst.dtype), emission: tensorOf(h.emission, [h.V, C], inst.dtype), init: tensorOf(h.init, [C], inst.dtype) },
      observations: { data: Int32Array.from(h.observations), shape: [inst.shape[0], inst.shape[1]] },
    },
  };
}

/** The structure over an instance's potentials (tensors made by {@link tensorsOf} unless given). */
export function buildStructure(inst: Instance, device?: Device, tensors = tensorsOf(inst)): AnyStructure {
  const lengths = inst.lengths;
  switch (inst.kind) {
    case 'categorical':
      return new Categorical(tensors.main, { device });
    case 'chain':
      return new LinearChainCRF(tensors.main, { lengths, device });
    case 'chain-factored':
      return new LinearChainCRF({ unary: tensors.main, transition: tensors.transition as Tensor }, { lengths, device });
    case 'tree':
    case 'tree-labelled':
      return new TreeCRF(tensors.main, { lengths, device });
    case 'dependency':
      return new DependencyCRF(tensors.main, { lengths, device, singleRoot: inst.singleRoot });
    case 'nonprojective':
      return new NonProjectiveDependencyCRF(tensors.main, { lengths, device, singleRoot: inst.singleRoot });
    case 'hmm':
      return new HMM(tensors.hmm!.params, tensors.hmm!.observations, { lengths, device });
    case 'semi-markov':
      return new SemiMarkovCRF(tensors.main, { lengths, device });
    case 'alignment':
    case 'alignment-local':
      return new AlignmentCRF(tensors.main, { lengths, targetLengths: inst.targetLengths, local: inst.kind === 'alignment-local', device });
  }
}

/** log of the number of structures of instance b (an upper bound for dependency trees: Cayley's (n+1)^(n−1)). */
export function logCount(inst: Instance, b: number): number {
  const { C } = dims(inst);
  const n = lengthOf(inst, b);
  switch (inst.kind) {
    case 'categorical':
      return Math.log(C);
    case 'chain':
    case 'chain-factored':
    case 'hmm':
      return n * Math.log(C);
    case 'tree':
    case 'tree-labelled':
      return Math.log(catalan(n - 1)) + (2 * n - 1) * Math.log(C);
    case 'semi-markov': {
      // ways[q]: labelled segmentations of positions 0..q; a segment of k < K positions ends at q
      const K = extent(inst);
      const ways = [C];
      for (let q = 1; q < n; q++) {
        let w = 0;
        for (let k = 1; k < K && k <= q; k++) w += ways[q - k] * C;
        ways.push(w);
      }
      return Math.log(ways[n - 1]);
    }
    case 'alignment':
    case 'alignment-local': {
      // paths[i][j]: paths ending at (i, j) (global: from (0, 0); local: from any cell)
      const m = targetLengthOf(inst, b);
      const local = inst.kind === 'alignment-local';
      const paths = Array.from({ length: n }, () => new Array<number>(m).fill(0));
      let total = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          const into = (j > 0 ? paths[i][j - 1] : 0) + (i > 0 && j > 0 ? paths[i - 1][j - 1] : 0) + (i > 0 ? paths[i - 1][j] : 0);
          paths[i][j] = into + (local || (i === 0 && j === 0) ? 1 : 0);
          total += paths[i][j];
        }
      }
      return Math.log(local ? total : paths[n - 1][m - 1]);
    }
    default:
      return (n - 1) * Math.log(n + 1);
  }
}

/** Parts one structure of instance b uses (factored chains: labels and transitions). */
function partsPerStructure(inst: Instance, b: number): number {
  const n = lengthOf(inst, b);
  switch (inst.kind) {
    case 'categorical':
      return 1;
    case 'chain':
      return n - 1;
    case 'chain-factored':
    case 'hmm':
      return 2 * n - 1;
    case 'semi-markov':
      return Math.max(1, n - 1);
    case 'alignment':
    case 'alignment-local':
      return n + targetLengthOf(inst, b) - 1;
    case 'tree':
    case 'tree-labelled':
      return 2 * n - 1;
    default:
      return n;
  }
}

/** Rounding error allowed on a score (a sum of parts) of instance b: 64 ulps of the largest possible sum. */
export function scoreTolerance(inst: Instance, b: number): number {
  const largest = Math.max(1, ...[...inst.values, ...(inst.transition ?? [])].filter(Number.isFinite).map(Math.abs));
  const eps = inst.dtype === 'float32' ? 2 ** -23 : 2 ** -52;
  return 64 * eps * (partsPerStructure(inst, b) * largest + logCount(inst, b) + 1);
}

/** Error allowed on a marginal or a one-hot part: float32 loses ~1e-7 relative per operation of the sweeps. */
export function partTolerance(inst: Instance, b: number): number {
  return inst.dtype === 'float32' ? Math.min(0.05, 1e-3 + scoreTolerance(inst, b)) : 1e-9 + scoreTolerance(inst, b);
}

/** A failed invariant. */
export class InvariantError extends Error {}

export function ensure(condition: boolean, message: () => string): void {
  if (!condition) throw new InvariantError(message());
}

function near(actual: number, expected: number, tol: number, what: () => string): void {
  ensure(Math.abs(actual - expected) <= tol, () => `${what()}: ${actual}, expected ${expected} ± ${tol}`);
}

/** Parts over one batch: the main block and, for factored chains, per-sequence transition counts `[B, C, C]`. */
export interface PartsView {
  main: ArrayLike<number>;
  transition?: ArrayLike<number>;
}

/**
 * Checks that `parts` (lead·B instances, row-major) are marginals or one-hot structures of the instance: every
 * entry in [0, 1] (in {0, 1} with `binary`), zero outside each length, and the structure's sum rules (a class per
 * row; a label per position; 2n − 1 spans with the words and the whole sentence; a head per word and, with
 * singleRoot, one root).
 */
export function checkParts(inst: Instance, parts: PartsView, binary: boolean, what: string): void {
  const { B, N, C } = dims(inst);
  const block = size(inst.shape) / B;
  const lead = parts.main.length / (block * B);
  ensure(Number.isInteger(lead) && lead >= 1, () => `${what}: ${parts.main.length} entries for instances of ${block}`);
  for (let r = 0; r < lead * B; r++) {
    const b = r % B;
    const n = lengthOf(inst, b);
    const tol = binary ? 0 : partTolerance(inst, b);
    const at = (q: number): number => parts.main[r * block + q];
    const where = (q: number) => `${what}: instance ${r} (b = ${b}, length ${n}), part ${q}`;
    for (let q = 0; q < block; q++) {
      const v = at(q);
      ensure(binary ? v === 0 || v === 1 : v >= -tol && v <= 1 + tol, () => `${where(q)} = ${v} is not ${binary ? '0 or 1' : 'in [0, 1]'}`);
    }
    const sum = (qs: Iterable<number>): number => {
      let s = 0;
      for (const q of qs) s += at(q);
      return s;
    };
    const range = (count: number, f: (i: number) => number): number[] => Array.from({ length: count }, (_, i) => f(i));
    const inside = new Set<number>();
    const rule = (qs: number[], expected: number, label: string) => {
      qs.forEach((q) => inside.add(q));
      near(sum(qs), expected, tol * qs.length + (binary ? 0 : 1e-12), () => `${what}: instance ${r}, ${label}`);
    };
    const atMost = (qs: number[], bound: number, label: string) => {
      qs.forEach((q) => inside.add(q));
      const s = sum(qs);
      ensure(s <= bound + tol * qs.length + (binary ? 0 : 1e-12), () => `${what}: instance ${r}, ${label}: ${s} exceeds ${bound}`);
    };
    switch (inst.kind) {
      case 'categorical':
        rule(range(C, (k) => k), 1, 'the class probabilities');
        break;
      case 'chain':
        for (let t = 0; t + 1 < n; t++) rule(range(C * C, (q) => t * C * C + q), 1, `the edges of position ${t}`);
        break;
      case 'chain-factored':
      case 'hmm': {
        for (let t = 0; t < n; t++) rule(range(C, (c) => t * C + c), 1, `the labels of position ${t}`);
        const transition = parts.transition;
        if (transition) {
          let total = 0;
          for (let q = 0; q < C * C; q++) total += transition[r * C * C + q];
          near(total, n - 1, tol * C * C * Math.max(1, n), () => `${what}: instance ${r}, the transition counts`);
        }
        break;
      }
      case 'tree':
      case 'tree-labelled': {
        const span = (i: number, j: number) => range(C, (l) => (i * N + j) * C + l);
        const spans: number[] = [];
        for (let i = 0; i < n; i++) for (let j = i; j < n; j++) spans.push(...span(i, j));
        rule(spans, 2 * n - 1, 'the spans');
        for (let i = 0; i < n; i++) rule(span(i, i), 1, `the word ${i}`);
        rule(span(0, n - 1), 1, 'the whole sentence');
        break;
      }
      case 'semi-markov': {
        // every position 1..n−1 lies in exactly one segment (p, p + k], p + k ≤ n − 1, 1 ≤ k < K
        const K = extent(inst);
        const edge = (p: number, k: number) => range(C * C, (q) => (p * K + k) * C * C + q);
        for (let q = 1; q < n; q++) {
          const covering: number[] = [];
          for (let p = 0; p < q; p++) for (let k = q - p; k < K && p + k < n; k++) covering.push(...edge(p, k));
          rule(covering, 1, `the segments over position ${q}`);
        }
        break;
      }
      case 'alignment':
      case 'alignment-local': {
        // a path enters each row it visits once by a match or a move down, each column once by a match or a move
        // right; a global path visits them all, from (0, 0) to (n − 1, m − 1)
        const [M, m] = [extent(inst), targetLengthOf(inst, b)];
        const at = (i: number, j: number, op: number) => (i * M + j) * 3 + op;
        const local = inst.kind === 'alignment-local';
        for (let i = 0; i < n; i++) {
          const entering = [...range(m, (j) => at(i, j, 1)), ...range(m, (j) => at(i, j, 2))];
          if (local) atMost(entering, 1, `the entries of row ${i}`);
          else rule(entering, 1, `the entries of row ${i}`);
        }
        for (let j = 0; j < m; j++) {
          const entering = [...range(n, (i) => at(i, j, 0)), ...range(n, (i) => at(i, j, 1))];
          if (local) atMost(entering, 1, `the entries of column ${j}`);
          else rule(entering, 1, `the entries of column ${j}`);
        }
        if (local) {
          const matches = range(n * m, (q) => at(Math.floor(q / m), q % m, 1));
          ensure(sum(matches) >= 1 - tol * matches.length - (binary ? 0 : 1e-12), () => `${what}: instance ${r}, a local path starts by a match: ${sum(matches)} matches`);
        } else {
          rule([at(0, 0, 1)], 1, 'the start (0, 0) by a match');
          rule([0, 1, 2].map((op) => at(n - 1, m - 1, op)), 1, 'the end (n − 1, m − 1)');
        }
        break;
      }
      default:
        for (let m = 0; m < n; m++) rule(range(n, (h) => h * N + m), 1, `the heads of word ${m}`);
        if (inst.singleRoot) rule(range(n, (m) => m * N + m), 1, 'the root arcs');
    }
    for (let q = 0; q < block; q++) {
      if (!inside.has(q)) ensure(at(q) === 0, () => `${where(q)} = ${at(q)} lies outside the instance and is not 0`);
    }
  }
}

/** ⟨parts, potentials⟩ of each of the lead·B structures in `parts` (float64; 0·(−∞) counts as 0). */
export function scoresOfParts(inst: Instance, parts: PartsView): number[] {
  const { B, C } = dims(inst);
  const t = tensorsOf(inst);
  const block = size(inst.shape) / B;
  const count = parts.main.length / block;
  const scores: number[] = [];
  for (let r = 0; r < count; r++) {
    const b = r % B;
    let s = 0;
    for (let q = 0; q < block; q++) {
      const z = parts.main[r * block + q];
      if (z !== 0) s += z * t.main64.data[b * block + q];
    }
    if (parts.transition && t.transition64) {
      const offset = t.transition64.shape.length === 3 ? b * C * C : 0;
      for (let q = 0; q < C * C; q++) {
        const z = parts.transition[r * C * C + q];
        if (z !== 0) s += z * t.transition64.data[offset + q];
      }
    }
    scores.push(s);
  }
  return scores;
}

/** What enumeration says of instance b. */
export interface Exact {
  logZ: number;
  entropy: number;
  bestScore: number;
  /** μ over the instance's block (factored chains: labels, then the transition counts). */
  marginals: Float64Array;
}

/** Enumeration of instance b where it is small enough (at most ~5000 structures), else undefined. */
export function exact(inst: Instance, b: number): Exact | undefined {
  if (logCount(inst, b) > Math.log(5000)) return undefined;
  const t = tensorsOf(inst);
  const lengths = inst.lengths ?? null;
  switch (inst.kind) {
    case 'categorical': {
      const { C } = dims(inst);
      const row = Array.from(t.main64.data.subarray(b * C, (b + 1) * C));
      return {
        logZ: categoricalOracle.logPartition(row),
        entropy: categoricalOracle.entropy(row),
        bestScore: row[categoricalOracle.argmax(row)],
        marginals: Float64Array.from(categoricalOracle.probabilities(row)),
      };
    }
    case 'semi-markov':
    case 'alignment':
    case 'alignment-local':
      return exactOfStructures(inst, t.main64.data.subarray(b * (t.main64.size / dims(inst).B), (b + 1) * (t.main64.size / dims(inst).B)), pathStructures(inst, b));
    case 'chain':
    case 'chain-factored':
    case 'hmm': {
      const potentials = inst.kind === 'chain' ? { edges: t.main64 } : { unary: t.main64, transition: t.transition64 as Tensor };
      const e = enumerateChain(oracleChain(potentials, b, lengths));
      return { logZ: e.logZ, entropy: e.entropy, bestScore: e.argmax.score, marginals: e.marginals };
    }
    case 'tree':
    case 'tree-labelled': {
      const o = treeOracle(treeSentence(t.main64, b, lengths));
      return { logZ: o.logZ, entropy: o.entropy, bestScore: o.best.score, marginals: o.marginals };
    }
    default: {
      const sentence = dependencySentence(t.main64, b, lengths, inst.singleRoot);
      const d = inst.kind === 'dependency' ? dependencyDistribution(sentence) : nonProjectiveDistribution(sentence);
      return { logZ: d.logZ, entropy: d.entropy, bestScore: d.best.score, marginals: d.marginals };
    }
  }
}

/**
 * Every structure of instance b of a SemiMarkovCRF or an AlignmentCRF, by brute force, as the flat indices of its
 * parts within the instance's block: labelled segmentations (a label at position 0, then segments of k < K positions,
 * each labelled at its last position, up to n − 1), or monotonic paths (global: (0, 0) by a match to (n − 1, m − 1);
 * local: from any cell by a match, every non-empty path).
 */
export function pathStructures(inst: Instance, b: number): number[][] {
  const n = lengthOf(inst, b);
  const out: number[][] = [];
  if (inst.kind === 'semi-markov') {
    const { C } = dims(inst);
    const K = extent(inst);
    const grow = (p: number, y: number, parts: number[]) => {
      if (p === n - 1) {
        out.push(parts);
        return;
      }
      for (let k = 1; k < K && p + k < n; k++) for (let c = 0; c < C; c++) grow(p + k, c, [...parts, ((p * K + k) * C + c) * C + y]);
    };
    for (let y = 0; y < C; y++) grow(0, y, []);
    return out;
  }
  const [M, m] = [extent(inst), targetLengthOf(inst, b)];
  const local = inst.kind === 'alignment-local';
  const at = (i: number, j: number, op: number) => (i * M + j) * 3 + op;
  const moves: [number, number, number][] = [[0, 1, 0], [1, 1, 1], [1, 0, 2]];
  const grow = (i: number, j: number, parts: number[]) => {
    if (local || (i === n - 1 && j === m - 1)) out.push(parts);
    for (const [di, dj, op] of moves) if (i + di < n && j + dj < m) grow(i + di, j + dj, [...parts, at(i + di, j + dj, op)]);
  };
  if (local) for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) grow(i, j, [at(i, j, 1)]);
  else grow(0, 0, [at(0, 0, 1)]);
  return out;
}

/** log Z, entropy, the best score and the marginals of a distribution given by its structures (part index lists). */
function exactOfStructures(inst: Instance, block: ArrayLike<number>, structures: number[][]): Exact {
  const scores = structures.map((parts) => parts.reduce((a, q) => a + block[q], 0));
  const best = Math.max(...scores);
  const logZ = best + Math.log(scores.reduce((a, s) => a + Math.exp(s - best), 0));
  const marginals = new Float64Array(block.length);
  let entropy = 0;
  structures.forEach((parts, z) => {
    const p = Math.exp(scores[z] - logZ);
    if (p > 0) entropy -= p * (scores[z] - logZ);
    for (const q of parts) marginals[q] += p;
  });
  return { logZ, entropy, bestScore: best, marginals };
}
