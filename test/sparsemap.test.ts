/**
 * SparseMAP (Niculae et al. 2018) of the tree structures — TreeCRF unlabelled and labelled, DependencyCRF and
 * NonProjectiveDependencyCRF with a single root and with any number of roots — on every available backend, against
 * the independent reference of test/oracles/sparsemap.ts (projected gradient over every enumerated structure, with
 * a duality-gap certificate). μ* = argmax_{μ ∈ M} η·μ − ½‖μ‖² is checked to match the reference, to be a point of
 * M with the returned support and weights (every support structure a valid tree of its sentence), and to be optimal
 * (the duality gap over every enumerated structure); on flat, ±100, tied and far-ahead scores; sparsemapBackward
 * against finite differences (where the support is stable) and the reference Jacobian; float32 against float64; a
 * batch against each sentence alone with zero padding; async twins; options and typed errors.
 */
import { DependencyCRF, Device, NonProjectiveDependencyCRF, Tensor, TreeCRF } from '../lib';
import { expectZero, host, row, values } from './arcs';
import { backends, errorCode, errorMessage, expectClose, normal, randomTensor, rng, toFloat32 } from './helpers';
import { Structure, keyOf, oneHot } from './oracles/enumerate';
import { dependencySentence, projectiveTrees, structureOf } from './oracles/dependency';
import { nonProjectiveTrees } from './oracles/nonprojective';
import { treeSentence, treeStructures } from './oracles/tree';
import { entmax } from './oracles/categorical';
import {
  SparseMapReference,
  dualityGap,
  jacobianProduct,
  propositionOneJacobian,
  sparsemapReference,
  stableFiniteDifferenceVjp,
  usedParts,
} from './oracles/sparsemap';

type Crf = TreeCRF | DependencyCRF | NonProjectiveDependencyCRF;
type Solution = ReturnType<TreeCRF['sparsemap']>;
type Options = Parameters<TreeCRF['sparsemap']>[0];

/** One structure under test: how to build it, enumerate a sentence's structures, and read its argmax. */
interface Spec {
  name: string;
  /** Potentials' shape for B sentences of up to N words. */
  shape: (B: number, N: number) => number[];
  make: (p: Tensor, lengths: number[] | undefined, device: Device) => Crf;
  /** Every structure of sentence b (parts and decoded form; their `score` is not used here). */
  structures: (p: Tensor, b: number, lengths: number[]) => Structure[];
  /** The decoded argmax, `[B, decoded size]` flat. */
  argmaxDecoded: (crf: Crf) => Int32Array;
  /** [B, N] of the tests. */
  size: [number, number];
}

const treeSpec = (L: number, size: [number, number]): Spec => ({
  name: L ? `TreeCRF labelled L=${L}` : 'TreeCRF unlabelled',
  shape: (B, N) => (L ? [B, N, N, L] : [B, N, N]),
  make: (p, lengths, device) => new TreeCRF(p, { lengths, device }),
  structures: (p, b, lengths) => treeStructures(treeSentence(p, b, lengths)),
  argmaxDecoded: (crf) => (crf as TreeCRF).argmaxDecoded().spans,
  size,
});

const arcSpec = (projective: boolean, singleRoot: boolean, size: [number, number]): Spec => ({
  name: `${projective ? 'DependencyCRF' : 'NonProjectiveDependencyCRF'} ${singleRoot ? 'single root' : 'any number of roots'}`,
  shape: (B, N) => [B, N, N],
  make: (p, lengths, device) =>
    projective ? new DependencyCRF(p, { lengths, device, singleRoot }) : new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot }),
  structures: (p, b, lengths) => {
    const x = dependencySentence(p, b, lengths, singleRoot);
    return (projective ? projectiveTrees : nonProjectiveTrees)(x.n, singleRoot).map((heads) => structureOf(x, heads));
  },
  argmaxDecoded: (crf) => (crf as DependencyCRF).argmaxDecoded().heads,
  size,
});

const specs: Spec[] = [
  treeSpec(0, [4, 5]),
  treeSpec(2, [3, 4]),
  arcSpec(true, true, [4, 5]),
  arcSpec(true, false, [4, 5]),
  arcSpec(false, true, [3, 4]),
  arcSpec(false, false, [3, 4]),
];

const tagOf = (x: unknown) => Object.prototype.toString.call(x);

/** Runs f, prefixing the message of what it throws with `label`. */
function labelled(label: string, f: () => void): void {
  try {
    f();
  } catch (error) {
    (error as Error).message = `${label}: ${(error as Error).message}`;
    throw error;
  }
}

/** A batch of scores with every sentence's structures; entries outside every structure hold junk. */
class Problem {
  readonly p: Tensor;
  readonly block: number;
  readonly lists: Structure[][];
  readonly used: Set<number>[];
  private readonly refs: (SparseMapReference | undefined)[];

  /** `inside(b, q)` gives the score of part q of sentence b; the rest gets ±40·N(0, 1) or −Infinity. */
  constructor(
    readonly spec: Spec,
    readonly lengths: number[],
    random: () => number,
    inside: (b: number, q: number, list: Structure[]) => number,
  ) {
    const shape = spec.shape(lengths.length, spec.size[1]);
    this.p = new Tensor(new Float64Array(shape.reduce((a, b) => a * b, 1)), shape);
    this.block = this.p.data.length / lengths.length;
    this.lists = lengths.map((_, b) => spec.structures(this.p, b, lengths));
    this.used = this.lists.map((list) => new Set(usedParts(list)));
    this.lists.forEach((list, b) => {
      for (let q = 0; q < this.block; q++) {
        this.p.data[b * this.block + q] = this.used[b].has(q) ? inside(b, q, list) : random() < 0.3 ? -Infinity : 40 * normal(random);
      }
    });
    this.refs = lengths.map(() => undefined);
  }

  get B(): number {
    return this.lengths.length;
  }
  /** Scores of sentence b. */
  eta(b: number): number[] {
    return row(this.p.data, b, this.block);
  }
  /** The reference solution of sentence b (computed once). */
  ref(b: number): SparseMapReference {
    return (this.refs[b] ??= sparsemapReference(this.lists[b], this.eta(b), this.block));
  }
  crf(device: Device, p: Tensor = this.p): Crf {
    return this.spec.make(p, this.lengths, device);
  }
  solve(device: Device, options?: Options, p: Tensor = this.p): Solution {
    const crf = this.crf(device, p);
    try {
      return crf.sparsemap(options);
    } finally {
      crf.dispose();
    }
  }
  /** The solution, g ~ N(0, 1) from `seed`, and sparsemapBackward(g, solution); `also` sees the structure before it is freed. */
  solveWithBackward(device: Device, seed: number, also?: (crf: Crf, g: Tensor) => void): { sol: Solution; g: Tensor; backward: number[] } {
    const crf = this.crf(device);
    try {
      const sol = crf.sparsemap();
      const g = randomTensor([...this.p.shape], rng(seed));
      const backward = values(crf.sparsemapBackward(g, sol));
      also?.(crf, g);
      return { sol, g, backward };
    } finally {
      crf.dispose();
    }
  }
  /** The index of a decoded structure of sentence b, or −1 when it is none of its structures. */
  indexOf(b: number, decoded: ArrayLike<number>): number {
    const key = keyOf(decoded);
    return this.lists[b].findIndex((s) => keyOf(s.decoded) === key);
  }
}

/** Lengths N, 1, then random (as the other suites). */
function mixedLengths(B: number, N: number, random: () => number): number[] {
  return Array.from({ length: B }, (_, b) => (b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)));
}

/** Random scores scale · N(0, 1) on the parts, junk elsewhere. */
function randomProblem(spec: Spec, seed: number, scale = 1): Problem {
  const random = rng(seed);
  const [B, N] = spec.size;
  return new Problem(spec, mixedLengths(B, N, random), random, () => scale * normal(random));
}

/** The sorted keys of the support of sentence b (to compare supports as sets). */
function supportKey(sol: Solution, b: number): string {
  return sol.support[b]
    .map((d) => keyOf(d))
    .sort()
    .join('|');
}

interface Tolerances {
  /** μ against Σ weights · parts, and the weights' sum. */
  representation: number;
  /** The duality gap of μ (when converged). */
  gap: number;
  /** μ against the reference (when references are given). */
  reference: number;
}
const float64Tolerances: Tolerances = { representation: 1e-9, gap: 1e-8, reference: 1e-7 };

/**
 * Checks a solution of a problem: the result's types and sizes; per sentence, every support structure is one of
 * the sentence's structures (its decoded form in the API's conventions), distinct; weights > 0 summing to 1; μ =
 * Σ weights · parts (so μ ∈ M), zero on the padding; converged with iterations ≥ 1 and duality gap ≤ tolerance;
 * and, given references, μ = the reference's, with the weights too where they are unique.
 */
function expectSolution(
  pr: Problem,
  sol: Solution,
  options: { refs?: (b: number) => SparseMapReference; tolerances?: Tolerances; converged?: boolean } = {},
): void {
  const { tolerances = float64Tolerances, converged = true } = options;
  const { B, block } = pr;
  const mu = values(sol.marginals);
  expect(mu.length).toBe(B * block);
  expect(sol.support.length).toBe(B);
  expect(sol.weights.length).toBe(B);
  expect(tagOf(sol.iterations)).toBe('[object Int32Array]');
  expect(sol.iterations.length).toBe(B);
  expect(sol.converged.length).toBe(B);
  for (let b = 0; b < B; b++) {
    labelled(`${pr.spec.name}, sentence ${b} (length ${pr.lengths[b]})`, () => {
      const m = row(mu, b, block);
      const list = pr.lists[b];
      const support = sol.support[b];
      const weights = sol.weights[b];
      expect(tagOf(weights)).toBe('[object Float64Array]');
      expect(weights.length).toBe(support.length);
      expect(support.length).toBeGreaterThanOrEqual(1);
      const combination = new Float64Array(block);
      const seen = new Set<string>();
      support.forEach((decoded, i) => {
        expect(tagOf(decoded)).toBe('[object Int32Array]');
        const k = pr.indexOf(b, decoded);
        if (k < 0) throw new Error(`support structure ${i} [${Array.from(decoded)}] is no structure of the sentence`);
        if (seen.has(keyOf(decoded))) throw new Error(`support structure ${i} [${Array.from(decoded)}] appears twice`);
        seen.add(keyOf(decoded));
        if (!(weights[i] > 0)) throw new Error(`weight ${i} is ${weights[i]}, expected > 0`);
        for (const q of list[k].parts) combination[q] += weights[i];
      });
      labelled('Σ weights', () => expectClose([weights.reduce((a, c) => a + c, 0)], [1], 0, tolerances.representation));
      labelled('μ against Σ weights · parts of the support', () => expectClose(m, combination, 0, tolerances.representation));
      for (let q = 0; q < block; q++) if (!pr.used[b].has(q)) expectZero(m[q], `μ of padding part ${q}`);
      expect(typeof sol.converged[b]).toBe('boolean');
      if (converged) {
        expect(sol.converged[b]).toBe(true);
        expect(sol.iterations[b]).toBeGreaterThanOrEqual(1);
      }
      if (sol.converged[b]) {
        const gap = dualityGap(list, pr.eta(b), m);
        if (!(gap <= tolerances.gap)) throw new Error(`duality gap ${gap} > ${tolerances.gap}`);
      }
      if (options.refs) {
        const ref = options.refs(b);
        labelled('μ against the reference', () => expectClose(m, ref.marginals, 0, tolerances.reference));
        if (ref.uniqueWeights) {
          const expected = new Map(ref.support.map((k, i) => [keyOf(list[k].decoded), ref.weights[i]]));
          const got = new Map(support.map((d, i) => [keyOf(d), weights[i]]));
          for (const key of new Set([...expected.keys(), ...got.keys()])) {
            const [w, e] = [got.get(key) ?? 0, expected.get(key) ?? 0];
            if (!(Math.abs(w - e) <= tolerances.reference)) throw new Error(`weight of [${key}]: got ${w}, expected ${e} (unique weights)`);
          }
        }
      }
    });
  }
}

describe('the SparseMAP reference itself', () => {
  test('on the simplex (one-hot structures) it is sparsemax', () => {
    const random = rng(11);
    for (let t = 0; t < 30; t++) {
      const x = Array.from({ length: 6 }, () => (t % 3 === 0 ? 10 : 1) * normal(random));
      const structures = x.map((_, k) => ({ parts: [k], decoded: [k], score: 0 }));
      const ref = sparsemapReference(structures, x, 6);
      expectClose(ref.marginals, entmax(x, 2), 0, 1e-12);
      expect(ref.support).toEqual(ref.support.filter((k) => ref.marginals[k] > 0));
      expectClose(ref.weights, ref.support.map((k) => ref.marginals[k]), 0, 1e-12);
    }
  });

  test.each(specs.map((s) => [s.name, s] as [string, Spec]))(
    '%s: certificate, weights, and the Jacobian = Prop. 1 on a basis of the face = finite differences',
    (_name, spec) => {
      const random = rng(21);
      const N = Math.min(spec.size[1], 3);
      const pr = new Problem({ ...spec, size: [1, N] }, [N], random, () => normal(random));
      const ref = pr.ref(0);
      const list = pr.lists[0];
      expect(ref.gap).toBeLessThanOrEqual(1e-11);
      expectClose([ref.weights.reduce((a, b) => a + b, 0)], [1], 0, 1e-12);
      const combination = new Float64Array(pr.block);
      ref.support.forEach((k, i) => list[k].parts.forEach((q) => (combination[q] += ref.weights[i])));
      expectClose(combination, ref.marginals, 0, 1e-12);
      expect(ref.stable).toBe(true);
      // An affinely independent subset of the face spanning its affine hull: Prop. 1 there is the projector.
      const basis: number[][] = [];
      const rankOf = (rows: number[][]) => {
        const g = rows.map((r) => rows.map((s) => r.reduce((a, v, i) => a + v * s[i], 0)));
        // Gaussian elimination with partial pivoting on the Gram matrix.
        let rank = 0;
        const n = g.length;
        for (let c = 0; c < n && rank < n; c++) {
          let pivot = rank;
          for (let r = rank; r < n; r++) if (Math.abs(g[r][c]) > Math.abs(g[pivot][c])) pivot = r;
          if (Math.abs(g[pivot][c]) < 1e-9) continue;
          [g[rank], g[pivot]] = [g[pivot], g[rank]];
          for (let r = 0; r < n; r++) {
            if (r === rank) continue;
            const f = g[r][c] / g[rank][c];
            for (let j = 0; j < n; j++) g[r][j] -= f * g[rank][j];
          }
          rank++;
        }
        return rank;
      };
      for (const k of ref.face) {
        const candidate = [...basis, oneHot(list[k].parts, pr.block)];
        if (rankOf(candidate) === candidate.length) basis.push(candidate[candidate.length - 1]);
      }
      expectClose(propositionOneJacobian(basis, pr.block), ref.jacobian, 0, 1e-10);
      // Finite differences of the reference itself (its face compared at ±h).
      const g = randomTensor([pr.block], random).data;
      const eta = Float64Array.from(pr.eta(0));
      const { grad, stable } = stableFiniteDifferenceVjp(
        (x) => {
          const r = sparsemapReference(list, x, pr.block);
          return { values: r.marginals, key: r.face.join(',') };
        },
        eta,
        g,
        1e-4,
      );
      const expected = jacobianProduct(ref.jacobian, g);
      expect(stable.filter((s) => s).length).toBeGreaterThan(pr.used[0].size / 2);
      expectClose(
        grad.filter((_, i) => stable[i]),
        expected.filter((_, i) => stable[i]),
        0,
        1e-7,
      );
    },
  );
});

describe.each(backends)('SparseMAP on %s', (device) => {
  describe.each(specs.map((s, i) => [s.name, s, i] as [string, Spec, number]))('%s', (_name, spec, index) => {
    const seed = 1000 + 100 * index;
    let randomCache: Problem | undefined;
    const random1 = () => (randomCache ??= randomProblem(spec, seed));

    test('μ is the projection of the scores onto M: the reference, a point of M with a valid support, optimal', () => {
      const pr = random1();
      const crf = pr.crf(device);
      const sol = crf.sparsemap();
      crf.dispose();
      expectSolution(pr, sol, { refs: (b) => pr.ref(b) });
    });

    test('flat scores: the same μ for every constant (the min-norm point of M), supports of several structures', () => {
      const random = rng(seed + 1);
      const lengths = mixedLengths(spec.size[0], spec.size[1], random);
      let first: Problem | undefined;
      let firstMu: number[] = [];
      for (const c of [0, 2.5, -3]) {
        const pr = new Problem(spec, lengths, random, () => c);
        const base = (first ??= pr);
        const sol = pr.solve(device);
        expectSolution(pr, sol, { refs: (b) => base.ref(b) });
        const mu = values(sol.marginals);
        if (c === 0) firstMu = mu;
        else expectClose(mu, firstMu, 0, 1e-9);
        pr.lists.forEach((list, b) => {
          if (list.length > 1) expect(sol.support[b].length).toBeGreaterThanOrEqual(2);
        });
      }
    });

    test('±100 scores: sparse, the argmax alone where the reference says so (μ = its parts)', () => {
      const pr = randomProblem(spec, seed + 2, 100);
      const crf = pr.crf(device);
      const sol = crf.sparsemap();
      const argmax = spec.argmaxDecoded(crf);
      crf.dispose();
      expectSolution(pr, sol, { refs: (b) => pr.ref(b) });
      const decodedSize = argmax.length / pr.B;
      let singletons = 0;
      for (let b = 0; b < pr.B; b++) {
        if (pr.ref(b).support.length !== 1) continue;
        singletons++;
        labelled(`sentence ${b}`, () => {
          expect(sol.support[b].length).toBe(1);
          expect(Array.from(sol.support[b][0])).toEqual(row(argmax, b, decodedSize));
          expect(Array.from(sol.weights[b])).toEqual([1]);
          expect(row(values(sol.marginals), b, pr.block)).toEqual(oneHot(pr.lists[b][pr.indexOf(b, sol.support[b][0])].parts, pr.block));
        });
      }
      expect(singletons).toBeGreaterThanOrEqual(1);
    });

    test('tied scores: integer scores in {−1, 0, 1}; two structures tied far ahead give their midpoint', () => {
      const random = rng(seed + 3);
      const [B, N] = spec.size;
      const ties = new Problem(spec, mixedLengths(B, N, random), random, () => Math.floor(3 * random()) - 1);
      expectSolution(ties, ties.solve(device), { refs: (b) => ties.ref(b) });
      // η = 10 (z1 + z2): μ* = (z1 + z2) / 2 (η − μ = 9.5 (z1 + z2) has (η − μ)·(z − μ) ≤ 0 for every z).
      const chosen: [number, number][] = [];
      const pair = new Problem(spec, mixedLengths(B, N, random), random, (b, q, list) => {
        if (!chosen[b]) {
          const k1 = Math.floor(random() * list.length);
          const k2 = list.length > 1 ? (k1 + 1 + Math.floor(random() * (list.length - 1))) % list.length : k1;
          chosen[b] = [k1, k2];
        }
        const [z1, z2] = chosen[b].map((k) => list[k].parts);
        return 10 * (Number(z1.includes(q)) + Number(z2.includes(q)));
      });
      const sol = pair.solve(device);
      expectSolution(pair, sol);
      for (let b = 0; b < pair.B; b++) {
        const [z1, z2] = chosen[b].map((k) => oneHot(pair.lists[b][k].parts, pair.block));
        labelled(`midpoint of sentence ${b}`, () =>
          expectClose(row(values(sol.marginals), b, pair.block), z1.map((v, q) => (v + z2[q]) / 2), 0, 1e-9),
        );
      }
    });

    test('a unique argmax far ahead: a support of one structure, μ = its parts, the argmax', () => {
      const random = rng(seed + 4);
      const [B, N] = spec.size;
      const chosen: number[] = [];
      const pr = new Problem(spec, mixedLengths(B, N, random), random, (b, q, list) => {
        chosen[b] ??= Math.floor(random() * list.length);
        return 0.1 * normal(random) + (list[chosen[b]].parts.includes(q) ? 20 : 0);
      });
      const crf = pr.crf(device);
      const sol = crf.sparsemap();
      const argmax = spec.argmaxDecoded(crf);
      crf.dispose();
      expectSolution(pr, sol);
      const mu = values(sol.marginals);
      for (let b = 0; b < pr.B; b++) {
        const z = pr.lists[b][chosen[b]];
        labelled(`sentence ${b}`, () => {
          expect(sol.support[b].map((d) => Array.from(d))).toEqual([z.decoded]);
          expect(Array.from(sol.weights[b])).toEqual([1]);
          expect(row(mu, b, pr.block)).toEqual(oneHot(z.parts, pr.block));
          expect(row(argmax, b, z.decoded.length)).toEqual(z.decoded);
        });
      }
    });

    test('sparsemapBackward = finite differences (stable supports) = the reference Jacobian; zero padding', () => {
      const pr = random1();
      const { B, block } = pr;
      let without: number[] = [];
      const { g, backward } = pr.solveWithBackward(device, seed + 5, (crf, g) => (without = values(crf.sparsemapBackward(g))));
      expect(backward.length).toBe(B * block);
      labelled('backward without the solution against with it', () => expectClose(without, backward, 0, 1e-12));
      let checked = 0;
      for (let b = 0; b < B; b++) {
        const got = row(backward, b, block);
        for (let q = 0; q < block; q++) if (!pr.used[b].has(q)) expectZero(got[q], `sentence ${b}: backward of padding part ${q}`);
        const ref = pr.ref(b);
        if (!ref.stable) continue;
        checked++;
        labelled(`sentence ${b} (length ${pr.lengths[b]}): backward against the reference Jacobian`, () =>
          expectClose(got, jacobianProduct(ref.jacobian, row(g.data, b, block)), 1e-7, 1e-7),
        );
      }
      expect(checked).toBeGreaterThanOrEqual(B - 1);
      const { grad, stable } = stableFiniteDifferenceVjp(
        (x) => {
          const s = pr.solve(device, undefined, new Tensor(x, pr.p.shape));
          return { values: values(s.marginals), key: Array.from({ length: B }, (_, b) => supportKey(s, b)).join('/') };
        },
        pr.p.data as Float64Array,
        g.data,
        1e-5,
      );
      const coordinates = pr.used.flatMap((used, b) => [...used].map((q) => b * block + q));
      expect(coordinates.filter((i) => stable[i]).length).toBeGreaterThan(coordinates.length / 2);
      const kept = backward.flatMap((_, i) => (stable[i] ? [i] : []));
      labelled('backward against finite differences', () =>
        expectClose(
          kept.map((i) => backward[i]),
          kept.map((i) => grad[i]),
          1e-6,
          1e-6,
        ),
      );
    });

    test('float32 matches float64 (1e-4), backward too where the supports agree', () => {
      const pr = random1();
      const p32 = toFloat32(pr.p);
      const crf32 = pr.crf(device, p32);
      const sol32 = crf32.sparsemap();
      expect(host(sol32.marginals).dtype).toBe('float32');
      const sol64 = pr.solve(device);
      expectSolution(pr, sol32, { refs: (b) => pr.ref(b), tolerances: { representation: 1e-6, gap: 1e-4, reference: 1e-4 } });
      expectClose(values(sol32.marginals), values(sol64.marginals), 0, 1e-4);
      const g = randomTensor([...pr.p.shape], rng(seed + 6));
      const b32 = values(crf32.sparsemapBackward(toFloat32(g), sol32));
      crf32.dispose();
      const crf64 = pr.crf(device);
      const b64 = values(crf64.sparsemapBackward(g, sol64));
      crf64.dispose();
      for (let b = 0; b < pr.B; b++) {
        if (supportKey(sol32, b) !== supportKey(sol64, b)) continue;
        labelled(`sentence ${b}: float32 backward`, () => expectClose(row(b32, b, pr.block), row(b64, b, pr.block), 1e-4, 1e-4));
      }
    });

    test('a batch equals each sentence alone (μ, support, weights, backward)', () => {
      const pr = random1();
      const { B, block } = pr;
      const { sol, g, backward } = pr.solveWithBackward(device, seed + 7);
      const mu = values(sol.marginals);
      const inner = pr.p.shape.slice(1);
      for (let b = 0; b < B; b++) {
        labelled(`sentence ${b}`, () => {
          const one = pr.spec.make(new Tensor(Float64Array.from(pr.eta(b)), [1, ...inner]), [pr.lengths[b]], device);
          const alone = one.sparsemap();
          expectClose(values(alone.marginals), row(mu, b, block), 0, 1e-12);
          expect(supportKey(alone, 0)).toBe(supportKey(sol, b));
          const weightOf = (s: Solution, r: number) => new Map(s.support[r].map((d, i) => [keyOf(d), s.weights[r][i]]));
          const [w1, w2] = [weightOf(alone, 0), weightOf(sol, b)];
          expectClose([...w1.keys()].map((k) => w1.get(k) as number), [...w1.keys()].map((k) => w2.get(k) as number), 0, 1e-12);
          const gb = new Tensor(Float64Array.from(row(g.data, b, block)), [1, ...inner]);
          expectClose(values(one.sparsemapBackward(gb, alone)), row(backward, b, block), 0, 1e-12);
          one.dispose();
        });
      }
    });

    test('options: maxIterations and maxActive cap the iterations and the support; the result stays in M', () => {
      const pr = random1();
      const capped = pr.solve(device, { maxIterations: 1 });
      expectSolution(pr, capped, { converged: false });
      capped.iterations.forEach((it) => expect(it).toBeLessThanOrEqual(1));
      const flat = new Problem(spec, pr.lengths, rng(seed + 8), () => 0);
      const small = flat.solve(device, { maxActive: 2 });
      expectSolution(flat, small, { converged: false });
      small.support.forEach((s) => expect(s.length).toBeLessThanOrEqual(2));
      const loose = pr.solve(device, { tolerance: 1e-3, maxIterations: 1000, maxActive: 64 });
      expectSolution(pr, loose, { tolerances: { ...float64Tolerances, gap: 1e-3 } });
    });

    test('async twins give the sync results', async () => {
      const pr = random1();
      const crf = pr.crf(device);
      const twin = crf as unknown as {
        sparsemapAsync?: (o?: Options) => Promise<Solution>;
        sparsemapBackwardAsync?: (g: Tensor, s?: Solution) => Promise<Tensor>;
      };
      if (typeof twin.sparsemapAsync !== 'function') {
        crf.dispose();
        return;
      }
      const sync = crf.sparsemap();
      const async = await twin.sparsemapAsync();
      expect(values(async.marginals)).toEqual(values(sync.marginals));
      expect(async.support.map((s) => s.map((d) => Array.from(d)))).toEqual(sync.support.map((s) => s.map((d) => Array.from(d))));
      expect(async.weights.map((w) => Array.from(w))).toEqual(sync.weights.map((w) => Array.from(w)));
      expect(Array.from(async.iterations)).toEqual(Array.from(sync.iterations));
      expect(async.converged).toEqual(sync.converged);
      if (typeof twin.sparsemapBackwardAsync === 'function') {
        const g = randomTensor([...pr.p.shape], rng(seed + 9));
        const expected = values(crf.sparsemapBackward(g, sync));
        expect(values(await twin.sparsemapBackwardAsync(g, sync))).toEqual(expected);
        expect(values(await twin.sparsemapBackwardAsync(g))).toEqual(expected);
      }
      crf.dispose();
    });
  });
});

describe.each(specs.map((s) => [s.name, s] as [string, Spec]))('SparseMAP errors: %s', (_name, spec) => {
  test('bad options raise RangeError ERR_OUT_OF_RANGE; a grad of the wrong shape ERR_SHAPE_MISMATCH', () => {
    const pr = randomProblem({ ...spec, size: [2, 3] }, 77);
    const crf = pr.crf('cpu');
    const bad: Options[] = [
      { maxIterations: 0 },
      { maxIterations: 1.5 },
      { maxIterations: -3 },
      { tolerance: 0 },
      { tolerance: -1e-6 },
      { tolerance: NaN },
      { maxActive: 0 },
      { maxActive: -1 },
    ];
    for (const options of bad) {
      labelled(JSON.stringify(options, (_k, v) => (Number.isNaN(v) ? 'NaN' : v)), () =>
        expect(errorCode(() => crf.sparsemap(options))).toBe('RangeError:ERR_OUT_OF_RANGE'),
      );
    }
    const shape = pr.p.shape;
    const sol = crf.sparsemap();
    const wrong = [
      [shape[0] + 1, ...shape.slice(1)],
      [...shape.slice(0, -1), shape[shape.length - 1] + 1],
    ];
    for (const s of wrong) {
      labelled(`grad [${s}]`, () => {
        expect(errorCode(() => crf.sparsemapBackward(randomTensor(s, rng(1)), sol))).toBe('RangeError:ERR_SHAPE_MISMATCH');
        expect(errorCode(() => crf.sparsemapBackward(randomTensor(s, rng(1))))).toBe('RangeError:ERR_SHAPE_MISMATCH');
      });
    }
    crf.dispose();
  });
});

describe('SparseMAP part count', () => {
  test('TreeCRF: N²·L past 2^31 - 1 is RangeError ERR_SIZE_OVERFLOW naming spans, before any allocation or kernel', async () => {
    // N = 2, L = 2^29: N²·L = 2^31 labelled spans in one sentence, stored as int32 part indices by the solver. The
    // spans are a zero-filled Float32Array the kernel never touches (its 8 GiB are never committed).
    const spans = new Tensor(new Float32Array(2 ** 31), [1, 2, 2, 2 ** 29]);
    const crf = new TreeCRF(spans);
    const rss = process.memoryUsage().rss;
    expect(errorCode(() => crf.sparsemap())).toBe('RangeError:ERR_SIZE_OVERFLOW');
    expect(errorMessage(() => crf.sparsemap())).toMatch(/^spans \[1, 2, 2, 536870912\] has N²·L = 2147483648 parts per instance; .*2\^31 - 1/);
    await expect(crf.sparsemapAsync()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SIZE_OVERFLOW' });
    // A support of the one tree of 2 words: spans (0, 1, label 0), (0, 0, 0), (1, 1, 0).
    const solution = { support: [[Int32Array.of(0, 1, 0, 0, 0, 0, 1, 1, 0)]], weights: [Float64Array.of(1)] } as unknown as Solution;
    expect(errorCode(() => crf.sparsemapBackward(spans, solution))).toBe('RangeError:ERR_SIZE_OVERFLOW');
    await expect(crf.sparsemapBackwardAsync(spans, solution)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SIZE_OVERFLOW' });
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
  });
});
