/**
 * Issue 17: every error carries a `code`. Exhaustively (not sampled, so it costs the CI fuzz nothing): `null` and
 * other non-object options for every structure constructor and estimator factory, non-structures and
 * non-functions for every estimator's step, and non-tensor, non-object values in every argument of every public
 * structure method must give a value or a coded TypeError / RangeError — never a code-less TypeError
 * ("Cannot read properties of null").
 */
import {
  AlignmentCRF,
  AnyTensor,
  Categorical,
  DependencyCRF,
  DeviceTensor,
  HMM,
  HMMParams,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  SemiMarkovCRF,
  SentCFG,
  SentCFGScores,
  Tensor,
  TreeCRF,
  backendInfo,
  tensor,
} from '../../lib';
import * as estimators from '../../lib/estimators';
import { LatentStructure } from '../../lib/estimators';
import { badError as badErrorOfRealm, describeError, outcomeOf } from './fuzz/outcome';
import { methodCases } from './fuzz/structure_cases';

/** {@link badErrorOfRealm} for errors of any realm (the addon's come from Node's main realm, not jest's sandbox). */
function badError(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return `threw a non-error ${String(error)}`;
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  return badErrorOfRealm({ name, code, message });
}

/** Options that are not an options object. */
const badOptions: unknown[] = [null, 3, 'x', [], true, () => undefined];
/** Values that are neither tensors nor options objects, nor structures. */
const junk: unknown[] = [null, 3, 'x', [], true, {}, () => undefined];

function host(shape: number[], seed = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: size }, (_, i) => Math.sin(seed * 7.1 + i * 1.3)), shape);
}

type Construct = (scores: unknown, options: unknown) => unknown;
const constructors: { name: string; make: Construct; scores: () => unknown }[] = [
  { name: 'Categorical', make: (s, o) => new Categorical(s as Tensor, o as object), scores: () => host([2, 3]) },
  { name: 'LinearChainCRF (edges)', make: (s, o) => new LinearChainCRF(s as Tensor, o as object), scores: () => host([2, 2, 2, 2]) },
  {
    name: 'LinearChainCRF (factored)',
    make: (s, o) => new LinearChainCRF(s as { unary: Tensor; transition: Tensor }, o as object),
    scores: () => ({ unary: host([2, 3, 2]), transition: host([2, 2], 2) }),
  },
  { name: 'TreeCRF', make: (s, o) => new TreeCRF(s as Tensor, o as object), scores: () => host([2, 3, 3]) },
  { name: 'TreeCRF (labelled)', make: (s, o) => new TreeCRF(s as Tensor, o as object), scores: () => host([2, 3, 3, 2]) },
  {
    name: 'SentCFG',
    make: (s, o) => new SentCFG(s as SentCFGScores<Tensor>, o as object),
    scores: () => ({ terms: host([2, 3, 2]), rules: host([2, 2, 4, 4], 2), roots: host([2, 2], 3) }),
  },
  { name: 'DependencyCRF', make: (s, o) => new DependencyCRF(s as Tensor, o as object), scores: () => host([2, 3, 3]) },
  {
    name: 'NonProjectiveDependencyCRF',
    make: (s, o) => new NonProjectiveDependencyCRF(s as Tensor, o as object),
    scores: () => host([2, 3, 3]),
  },
  { name: 'SemiMarkovCRF', make: (s, o) => new SemiMarkovCRF(s as Tensor, o as object), scores: () => host([2, 3, 3, 2, 2]) },
  { name: 'AlignmentCRF', make: (s, o) => new AlignmentCRF(s as Tensor, o as object), scores: () => host([2, 3, 4, 3]) },
  {
    name: 'AlignmentCRF (local)',
    make: (s, o) => new AlignmentCRF(s as Tensor, o === undefined || (o !== null && typeof o === 'object' && !Array.isArray(o)) ? { ...(o as object), local: true } : (o as object)),
    scores: () => host([2, 3, 4, 3]),
  },
  {
    name: 'HMM',
    make: (s, o) => new HMM(s as HMMParams<Tensor>, { data: Int32Array.of(0, 1, 2, 2, 1, 0), shape: [2, 3] }, o as object),
    scores: () => ({ transition: host([2, 2], 3), emission: host([3, 2], 4), init: host([2], 5) }),
  },
];

/** A coded TypeError or RangeError (or resource Error) from the library; a clear failure message otherwise. */
function expectCoded(error: unknown, what: string): void {
  const why = badError(error);
  if (why !== undefined) throw new Error(`${what}: ${why} (${describeError(error)})`);
}

function expectThrowsCoded(call: () => unknown, what: string, code: string, mention?: RegExp): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error(`${what}: did not throw`);
  expectCoded(thrown, what);
  expect([what, (thrown as { code?: string }).code]).toEqual([what, code]);
  if (mention) expect((thrown as Error).message).toMatch(mention);
}

describe('structure constructors', () => {
  test.each(constructors.map((c) => [c.name, c] as const))('%s rejects non-object options with a coded TypeError', (_, c) => {
    for (const options of badOptions) {
      expectThrowsCoded(() => c.make(c.scores(), options), `${c.name} options ${String(options)}`, 'ERR_INVALID_ARG_TYPE', /options must be an object/);
    }
    // undefined and {} are fine
    expect(() => c.make(c.scores(), undefined)).not.toThrow();
    expect(() => c.make(c.scores(), {})).not.toThrow();
  });

  test.each(constructors.map((c) => [c.name, c] as const))('%s rejects non-tensor scores with a coded error', (_, c) => {
    for (const scores of [...junk, undefined]) {
      for (const options of [undefined, {}, null]) {
        let thrown: unknown;
        try {
          c.make(scores, options);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeDefined();
        expectCoded(thrown, `${c.name}(${String(scores)}, ${String(options)})`);
      }
    }
  });

  test('AlignmentCRF names targetLengths and local when they are bad', () => {
    const scores = (): Tensor => host([2, 3, 4, 3]);
    const make = (options: unknown) => () => new AlignmentCRF(scores(), options as object);
    for (const [targetLengths, code] of [
      ['x', 'ERR_INVALID_ARG_TYPE'],
      [null, 'ERR_INVALID_ARG_TYPE'],
      [[1, 2, 3], 'ERR_SHAPE_MISMATCH'],
      [[0, 1], 'ERR_OUT_OF_RANGE'],
      [[1, 5], 'ERR_OUT_OF_RANGE'],
      [[1, 1.5], 'ERR_OUT_OF_RANGE'],
      [[1, Number.NaN], 'ERR_OUT_OF_RANGE'],
    ] as const) {
      expectThrowsCoded(make({ targetLengths }), `targetLengths ${JSON.stringify(targetLengths)}`, code, /targetLengths/);
    }
    for (const local of ['yes', 1, null, {}, 'false']) {
      expectThrowsCoded(make({ local }), `local ${JSON.stringify(local)}`, 'ERR_INVALID_ARG_TYPE', /local must be a boolean/);
    }
    expect(new AlignmentCRF(scores(), { local: false }).local).toBe(false);
  });

  test('HMM rejects bad observations, naming them', () => {
    const params = (): HMMParams<Tensor> => ({ transition: host([2, 2], 3), emission: host([3, 2], 4), init: host([2], 5) });
    const cases: [unknown, string][] = [
      [null, 'ERR_INVALID_ARG_TYPE'],
      [3, 'ERR_INVALID_ARG_TYPE'],
      [{}, 'ERR_INVALID_ARG_TYPE'],
      [[], 'ERR_INVALID_SHAPE'],
      [[[0, 1], [1]], 'ERR_SHAPE_MISMATCH'],
      [[['a', 'b']], 'ERR_OUT_OF_RANGE'],
      [[[0, 3]], 'ERR_OUT_OF_RANGE'],
      [[[0, -1]], 'ERR_OUT_OF_RANGE'],
      [{ data: new Float64Array(2), shape: [1, 2] }, 'ERR_INVALID_ARG_TYPE'],
      [{ data: Int32Array.of(0, 1), shape: [2, 2] }, 'ERR_SHAPE_MISMATCH'],
      [{ data: Int32Array.of(0, 1), shape: [2] }, 'ERR_INVALID_SHAPE'],
      [{ data: Int32Array.of(0, 1), shape: 'x' }, 'ERR_INVALID_SHAPE'],
    ];
    for (const [observations, code] of cases) {
      expectThrowsCoded(() => new HMM(params(), observations as never), `observations ${JSON.stringify(observations)}`, code, /observations/);
    }
  });

  test('the messages name the argument', () => {
    expect(() => new LinearChainCRF(host([2, 2, 2, 2]), null as unknown as object)).toThrow(/options must be an object, got null/);
    expect(() => new Categorical(host([2, 3]), 3 as unknown as object)).toThrow(/options must be an object, got number/);
    expect(() => new TreeCRF(host([2, 3, 3]), [] as unknown as object)).toThrow(/options must be an object, got an array/);
    expect(() => new SemiMarkovCRF(host([2, 3, 1, 2, 2]))).toThrow(/edges must have shape \[B, N - 1, K, C, C\] with N ≥ 2, K ≥ 2/);
    expect(() => new SemiMarkovCRF(host([2, 3, 2, 2, 3]))).toThrow(/edges must have shape/);
    expect(() => new AlignmentCRF(host([2, 3, 4, 2]))).toThrow(/scores must have shape \[B, N, M, 3\]/);
    expect(() => new AlignmentCRF(host([2, 3, 4, 3]), { lengths: [1, 4] })).toThrow(/lengths\[1\] = 4 is outside \[1, 3\]/);
    expect(() => new AlignmentCRF(host([2, 3, 4, 3]), { targetLengths: [5, 4] })).toThrow(/targetLengths\[0\] = 5 is outside \[1, 4\]/);
  });
});

describe('DeviceTensor', () => {
  test('a DeviceTensor needs a native buffer', () => {
    const D = DeviceTensor as unknown as new (...args: unknown[]) => DeviceTensor;
    for (const args of [[null], [], [3, [2, 3]], ['x'], [{}], [{ shape: [2, 3] }], [[2, 3]], [{ shape: 'x', dtype: 'float32' }]]) {
      expectThrowsCoded(() => new D(...args), `new DeviceTensor(${JSON.stringify(args)})`, 'ERR_INVALID_ARG_TYPE', /DeviceTensor needs a native device buffer/);
    }
  });
});

/** Every estimator factory, with options that are valid for it. */
const factories: { name: string; make: (options?: unknown) => estimators.Estimator; options: unknown }[] = [
  { name: 'marginals', make: () => estimators.marginals(), options: undefined },
  { name: 'softmax', make: () => estimators.softmax(), options: undefined },
  { name: 'sparsemap', make: (o) => estimators.sparsemap(o as object), options: {} },
  { name: 'sparsemax', make: (o) => estimators.sparsemax(o as object), options: {} },
  { name: 'entmax15', make: () => estimators.entmax15(), options: undefined },
  { name: 'perturbedMarginals', make: (o) => estimators.perturbedMarginals(o as object), options: { seed: 1 } },
  { name: 'gumbelSoftmax', make: (o) => estimators.gumbelSoftmax(o as object), options: { seed: 1 } },
  { name: 'straightThrough', make: (o) => estimators.straightThrough(o as object), options: { backward: 'marginals' } },
  { name: 'perturbAndMap', make: (o) => estimators.perturbAndMap(o as object), options: { seed: 2 } },
  { name: 'stGumbel', make: (o) => estimators.stGumbel(o as object), options: {} },
  { name: 'spigot', make: (o) => estimators.spigot(o as object), options: { step: 0.5 } },
  { name: 'exactMarginalization', make: () => estimators.exactMarginalization(), options: undefined },
  { name: 'sparseMarginalization', make: (o) => estimators.sparseMarginalization(o as object), options: {} },
  { name: 'reinforce', make: (o) => estimators.reinforce(o as object), options: { samples: 2 } },
  { name: 'rebar', make: (o) => estimators.rebar(o as object), options: { seed: 3 } },
];

test('the factory table lists every estimator factory', () => {
  const exported = Object.entries(estimators)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();
  expect(factories.map((f) => f.name).sort()).toEqual(exported);
});

const withOptions = factories.filter((f) => f.options !== undefined);

describe('estimator factories', () => {
  test.each(withOptions.map((f) => [f.name, f] as const))('%s rejects non-object options with a coded TypeError', (_, f) => {
    for (const options of badOptions) {
      expectThrowsCoded(() => f.make(options), `${f.name}(${String(options)})`, 'ERR_INVALID_ARG_TYPE', /options must be an object/);
    }
    expect(() => f.make(undefined)).not.toThrow();
    expect(() => f.make({})).not.toThrow();
  });

  test('spigot checks its nested sparsemap options', () => {
    expectThrowsCoded(() => estimators.spigot({ sparsemap: null as unknown as object }), 'spigot sparsemap null', 'ERR_INVALID_ARG_TYPE', /sparsemap must be an object/);
  });
});

/** A decoder with loss ⟨z, 1⟩ and gradient 1 over the parts. */
function decoder(z: unknown): { loss: number[]; gradZ: unknown } {
  const leaves = z instanceof Tensor ? { z } : (z as Record<string, Tensor>);
  const batch = Object.values(leaves)[0].shape[z instanceof Tensor ? 0 : 0];
  const ones = Object.fromEntries(Object.entries(leaves).map(([k, t]) => [k, tensor(new Float64Array(t.size).fill(1), t.shape)]));
  return { loss: new Array(batch).fill(1), gradZ: z instanceof Tensor ? ones.z : ones };
}

describe('estimator steps', () => {
  const categorical = (): Categorical => new Categorical(host([2, 3]));
  const notStructures: unknown[] = [...junk, undefined, host([2, 3]), { batch: 2 }];

  test.each(factories.map((f) => [f.name, f] as const))('%s.step rejects a non-structure and a non-function decoder', (_, f) => {
    const estimator = f.make(f.options);
    const step = estimator.step.bind(estimator) as unknown as (s: unknown, d: unknown) => unknown;
    for (const structure of notStructures) {
      expectThrowsCoded(() => step(structure, decoder), `${f.name}.step(${String(structure)}, decoder)`, 'ERR_INVALID_ARG_TYPE', /structure must be a structure/);
    }
    for (const d of [...junk.filter((v) => typeof v !== 'function'), undefined]) {
      expectThrowsCoded(() => step(categorical(), d), `${f.name}.step(categorical, ${String(d)})`, 'ERR_INVALID_ARG_TYPE', /decoder must be a function/);
    }
    const forward = (estimator as Partial<estimators.LayerEstimator>).forward;
    if (forward) {
      for (const structure of notStructures) {
        expectThrowsCoded(() => forward.call(estimator, structure as LatentStructure), `${f.name}.forward(${String(structure)})`, 'ERR_INVALID_ARG_TYPE', /structure must be a structure/);
      }
    }
  });

  test('the message names the estimator and what it got', () => {
    expect(() => estimators.reinforce().step(host([2, 3]) as unknown as LatentStructure, decoder as never)).toThrow(/reinforce\.step: structure must be a structure .* got a Tensor/);
    expect(() => estimators.marginals().step(null as unknown as LatentStructure, decoder as never)).toThrow(/marginals\.step: structure must be a structure .* got null/);
  });
});

/** Every public method of a structure (own prototype and its bases; those the fuzz's method table lists). */
function methodsOf(structure: object): string[] {
  const publicMethods = new Set(Object.keys(methodCases));
  const names = new Set<string>();
  for (let proto = Object.getPrototypeOf(structure); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (publicMethods.has(name) && d && typeof d.value === 'function') names.add(name);
    }
  }
  return [...names].sort();
}

describe('structure methods', () => {
  // Method arity is at most 2; each argument position gets each junk value, the others a valid-looking default.
  // On the device too where there is one (the emulated CUDA build of `npm run test:emulated`).
  const devices: ('cpu' | 'cuda')[] = backendInfo().cuda.available ? ['cpu', 'cuda'] : ['cpu'];
  const cases = constructors.flatMap((c) => devices.map((device) => [`${c.name} on ${device}`, c, device] as const));
  test.each(cases)('%s: junk arguments give coded errors', async (_, c, device) => {
    const structure = c.make(c.scores(), { device }) as Record<string, (...args: unknown[]) => unknown> & { dispose?: () => void };
    const failures: string[] = [];
    const methods = methodsOf(structure).filter((m) => m !== 'dispose');
    expect(methods.length).toBeGreaterThan(10);
    for (const method of methods) {
      for (let position = 0; position < 2; position++) {
        for (const value of junk) {
          const args: unknown[] = [undefined, undefined];
          args[position] = value;
          const outcome = await outcomeOf(() => structure[method](...args));
          if (outcome.threw) {
            const why = badError(outcome.error);
            if (why !== undefined) failures.push(`${method}(${position}: ${String(value)}): ${why} — ${describeError(outcome.error)}`);
          } else {
            disposeResult(outcome.value);
          }
        }
      }
    }
    structure.dispose?.();
    expect(failures).toEqual([]);
  });
});

function disposeResult(value: unknown): void {
  if (value instanceof DeviceTensor) value.dispose();
}

export type { AnyTensor };
