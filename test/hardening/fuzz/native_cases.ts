/**
 * The N-API boundary itself, fuzzed below the TypeScript checks: every function of the addon is called with
 * argument lists whose every position is either a near-valid value of the kind it expects (small tensors, specs,
 * lengths, seeds, options) or arbitrary JS (fast-check's `anything`, typed arrays of every kind, SharedArrayBuffer
 * and detached views, huge and odd shapes). A call must return (or resolve) or throw (or reject) a coded library
 * error — never crash. The signature table is keyed by the addon's names (a compile error when one is missing).
 */
import fc from 'fast-check';

import { NativeAddon, native } from '../../../lib/native';
import { FuzzFailure, badError, outcomeOf, withoutHugeValid } from './outcome';

type Kind = 'tensor' | 'rows' | 'chain' | 'spec' | 'lengths' | 'count' | 'seed' | 'number' | 'bool' | 'shape' | 'dtype' | 'int32s' | 'counter' | 'options' | 'chainGrad' | 'hostData';

/** The kinds of the arguments of each addon function (the async flag is drawn as 'bool'; it is last, or before an out). */
const signatures: Record<Exclude<keyof NativeAddon, 'DeviceBuffer'>, Kind[]> = {
  backendInfo: [],
  synchronize: [],
  cudaMemoryInUse: [],
  cudaTransfers: [],
  resetCudaTransfers: [],
  setThreads: ['number'], // not fuzzed (see `names`): test/threads.test.ts checks its arguments
  hostPoolStats: [],
  setHostPoolLimit: ['number'], // not fuzzed (see `names`): it changes the whole process
  measureExpRate: ['dtype', 'number', 'number'], // not fuzzed (see `names`): the bench's, sized by its caller
  measureCopyBandwidth: ['number', 'number'], // not fuzzed: a junk size would allocate gigabytes per thread
  logsumexp: ['rows', 'bool'],
  logsumexpBackward: ['rows', 'tensor', 'bool'],
  softmax: ['rows', 'bool'],
  sparsemax: ['rows', 'bool'],
  entmax15: ['rows', 'bool'],
  entmaxBisect: ['rows', 'number', 'bool'],
  entmaxBackward: ['rows', 'rows', 'number', 'number', 'bool'],
  entropy: ['rows', 'bool'],
  logProb: ['rows', 'int32s', 'bool'],
  argmax: ['rows', 'bool'],
  categoricalTopk: ['rows', 'count', 'bool'],
  gumbel: ['shape', 'dtype', 'seed', 'seed', 'bool', 'bool'],
  gumbelMax: ['rows', 'count', 'seed', 'number', 'bool'],
  gumbelSoftmax: ['rows', 'number', 'seed', 'bool'],
  philox4x32: ['counter', 'seed'],
  partsCombine: ['tensor', 'options', 'hostData', 'count'],
  partsDot: ['tensor', 'tensor', 'count'],
  partsFinite: ['tensor'],
  partsMasked: ['tensor', 'tensor'],
  partsRow: ['tensor', 'count'],
  partsOneHot: ['tensor', 'int32s', 'shape'],
  partsTile: ['tensor', 'count'],
  partsConcatRows: ['tensor', 'count'],
  partsSliceRows: ['tensor', 'count', 'count', 'count'],
  partsSumRows: ['tensor'],
  partsGatherSum: ['tensor', 'count', 'int32s', 'int32s'],
  partsSumRowsTransposed: ['tensor'],
  rebarPair: ['rows', 'seed'],
  rebarPairBackward: ['rows', 'tensor', 'seed'],
  chainLogPartition: ['chain', 'lengths', 'bool'],
  chainMarginals: ['chain', 'lengths', 'bool', 'bool', 'tensor'], // the last: out
  chainMarginalsBackward: ['chain', 'lengths', 'chainGrad', 'bool', 'tensor'],
  chainEntropy: ['chain', 'lengths', 'bool'],
  chainArgmax: ['chain', 'lengths', 'bool'],
  chainTopk: ['chain', 'lengths', 'count', 'bool'],
  chainSample: ['chain', 'lengths', 'count', 'seed', 'bool'],
  chainLogProb: ['chain', 'lengths', 'int32s', 'bool'],
  treeLogPartition: ['spec', 'bool'],
  treeMarginals: ['spec', 'bool', 'tensor'],
  treeMarginalsBackward: ['spec', 'tensor', 'bool', 'tensor'],
  treeEntropy: ['spec', 'bool'],
  treeArgmax: ['spec', 'bool'],
  treeSample: ['spec', 'count', 'seed', 'bool'],
  treeTopk: ['spec', 'count', 'bool'],
  treeLogProb: ['spec', 'tensor', 'bool'],
  gumbelPerturb: ['tensor', 'seed', 'seed', 'number', 'number', 'bool'],
  chainSparsemap: ['chain', 'lengths', 'options', 'bool'],
  chainSparsemapBackward: ['chain', 'lengths', 'count', 'int32s', 'int32s', 'tensor', 'bool'],
  treeSparsemap: ['spec', 'options', 'bool'],
  treeSparsemapBackward: ['spec', 'count', 'int32s', 'int32s', 'tensor', 'bool'],
};

type Fn = (...args: unknown[]) => unknown;

/** Arbitrary JS, typed arrays of every kind among it. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withDate: true, maxDepth: 2 }),
  fc.constantFrom<unknown>(undefined, null, Number.NaN, -0, Infinity, -Infinity, 2 ** 53, -1, '', 'cky', 'float32', [], {}, Symbol('x'), () => 1, 2n ** 64n),
);

function typedArrayOf(kind: string, length: number): unknown {
  const constructors: Record<string, new (n: number) => unknown> = {
    Float32Array,
    Float64Array,
    Int32Array,
    Uint8Array,
    Int16Array,
    Uint32Array,
    BigInt64Array,
  };
  return new constructors[kind](length);
}

/** Float data of `length` elements: plain, over a SharedArrayBuffer, over a resizable buffer, or detached. */
const floatData = (length: number): fc.Arbitrary<unknown> =>
  fc.record({ dtype: fc.constantFrom('Float32Array', 'Float64Array'), backing: fc.constantFrom('plain', 'shared', 'detached', 'offset'), fill: fc.double() }).map(({ dtype, backing, fill }) => {
    const bytes = dtype === 'Float32Array' ? 4 : 8;
    const Ctor = dtype === 'Float32Array' ? Float32Array : Float64Array;
    if (backing === 'shared') return new Ctor(new SharedArrayBuffer(length * bytes) as unknown as ArrayBuffer).fill(fill);
    if (backing === 'offset') return new Ctor(new ArrayBuffer((length + 2) * bytes), bytes, length).fill(fill);
    const array = new Ctor(length).fill(fill);
    if (backing === 'detached') structuredClone(array.buffer, { transfer: [array.buffer] });
    return array;
  });

const dim = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, Number.NaN, 2 ** 31 - 1, 2 ** 31, 65536, '2') });

/** A shape of rank 1..5: small dims mostly, some bad or huge. */
const shapeArbitrary = fc.oneof(
  { weight: 8, arbitrary: fc.array(dim, { minLength: 1, maxLength: 5 }).map(withoutHugeValid) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], [2 ** 31 - 1, 2 ** 31 - 1], [65536, 65536], [2 ** 25, 2 ** 25], 4, 'x', [[2]]) },
);

const sizeOf = (shape: unknown): number => (Array.isArray(shape) ? shape.reduce((a: number, d: unknown) => a * (Number.isInteger(d) && (d as number) > 0 && (d as number) < 64 ? (d as number) : 1), 1) : 1);

/** `{ data, shape }`: data of the shape's size (most of the time), its kind and backing varied. */
function tensorArbitrary(rank?: number): fc.Arbitrary<unknown> {
  const shapes = rank === undefined ? shapeArbitrary : fc.oneof({ weight: 6, arbitrary: fc.array(dim, { minLength: rank, maxLength: rank }) }, { weight: 1, arbitrary: shapeArbitrary });
  return shapes.chain((shape) =>
    fc.oneof(
      { weight: 6, arbitrary: floatData(sizeOf(shape)).map((data) => ({ data, shape })) },
      { weight: 1, arbitrary: fc.constantFrom('Int32Array', 'Uint8Array', 'Int16Array', 'BigInt64Array').map((k) => ({ data: typedArrayOf(k, sizeOf(shape)), shape })) },
      { weight: 1, arbitrary: floatData(sizeOf(shape) + 1).map((data) => ({ data, shape })) },
      { weight: 1, arbitrary: fc.record({ handle: junk, shape: fc.constant(shape) }) },
      { weight: 1, arbitrary: junk },
    ),
  );
}

/** Deterministic values in [−2, 2) from a seed. */
function valuesFrom(seed: number, count: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state / 2 ** 32) * 4 - 2;
  });
}

/**
 * Specs of SemiMarkovCRF ('semi_markov', edges `[B, N − 1, K, C, C]`) and AlignmentCRF ('alignment', scores
 * `[B, N, M, 3]`), mostly valid, with the mistakes the binding must catch: K < 2, the two label dimensions
 * differing, a last dimension other than 3, lengths and targetLengths out of range or of the wrong count, NaN and
 * +Infinity scores, an instance (or all) of −Infinity scores, and `local` of any kind.
 */
const pathSpecArbitrary: fc.Arbitrary<unknown> = fc
  .record({
    structure: fc.constantFrom('semi_markov', 'alignment'),
    B: fc.integer({ min: 1, max: 3 }),
    N: fc.integer({ min: 1, max: 6 }),
    K: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 2, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 1) }),
    C: fc.integer({ min: 1, max: 3 }),
    otherC: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
    ops: fc.oneof({ weight: 5, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 4) }),
    float64: fc.boolean(),
    fill: fc.constantFrom('random', 'random', 'random', 'nan', '+inf', '-inf instance', '-inf all'),
    lengths: fc.oneof({ weight: 3, arbitrary: fc.constant('valid') }, { weight: 1, arbitrary: fc.constantFrom('null', 'zero', 'over', 'count', 'negative') }),
    targetLengths: fc.oneof({ weight: 3, arbitrary: fc.constant('valid') }, { weight: 1, arbitrary: fc.constantFrom('null', 'zero', 'over', 'count', 'negative') }),
    local: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
    seed: fc.nat(),
  })
  .map((p) => {
    // Semi-Markov: N positions, K-wide segments; alignment: N rows, K columns (M), C unused
    const shape = p.structure === 'semi_markov' ? [p.B, p.N - 1, p.K, p.C, p.otherC ?? p.C] : [p.B, p.N, p.K, p.ops];
    const size = shape.reduce((a, d) => a * d, 1);
    const data = Float64Array.from(valuesFrom(p.seed, size));
    const block = size / p.B;
    if (p.fill === 'nan' || p.fill === '+inf') data[p.seed % Math.max(1, size)] = p.fill === 'nan' ? Number.NaN : Infinity;
    if (p.fill === '-inf instance') data.fill(-Infinity, (p.seed % p.B) * block, ((p.seed % p.B) + 1) * block);
    if (p.fill === '-inf all') data.fill(-Infinity);
    const lengthsOf = (how: string, max: number): Int32Array | null => {
      const valid = Int32Array.from(valuesFrom(p.seed + 1, p.B), (v) => 1 + (Math.floor((v + 2) * 1e6) % max));
      if (how === 'null') return null;
      if (how === 'zero') return valid.map((v, b) => (b === 0 ? 0 : v));
      if (how === 'over') return valid.map((v, b) => (b === p.B - 1 ? max + 1 : v));
      if (how === 'negative') return valid.map((v, b) => (b === 0 ? -1 : v));
      if (how === 'count') return Int32Array.from({ length: p.B + 1 }, () => 1);
      return valid;
    };
    return {
      structure: p.structure,
      scores: { data: p.float64 ? data : Float32Array.from(data), shape },
      lengths: lengthsOf(p.lengths, Math.max(1, p.N)),
      singleRoot: true,
      targetLengths: lengthsOf(p.targetLengths, Math.max(1, p.K)),
      local: p.local,
    };
  });

/**
 * treeSparsemapBackward's support arguments for a spec: `rows` of maxActive structures of the decoded width per
 * instance (semi-Markov labels, alignment path rows, CKY spans, heads), mostly in range, sometimes not (a label of
 * C or −2, a cell outside the grid, an op of 3), and `sizes` per instance.
 */
function supportRows(spec: unknown): fc.Arbitrary<[number, Int32Array, Int32Array]> {
  const s = spec as { structure?: unknown; scores?: { shape?: unknown } };
  const shape = Array.isArray(s?.scores?.shape) ? (s.scores!.shape as unknown[]).map((d) => (Number.isInteger(d) && (d as number) > 0 && (d as number) < 64 ? (d as number) : 1)) : [1, 1, 1];
  const B = shape[0] ?? 1;
  const width = s?.structure === 'alignment' ? ((shape[1] ?? 1) + (shape[2] ?? 1) - 1) * 3 : s?.structure === 'semi_markov' ? (shape[1] ?? 0) + 1 : s?.structure === 'cky' ? (2 * (shape[1] ?? 1) - 1) * 3 : shape[1] ?? 1;
  const hi = Math.max(1, ...shape.slice(1));
  return fc
    .record({
      maxActive: fc.integer({ min: 1, max: 3 }),
      entries: fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: hi - 1 }) }, { weight: 1, arbitrary: fc.constantFrom(-2, -1, hi, 3, 1 << 20, -(2 ** 31)) }), { minLength: 1, maxLength: 3 * B * width }),
      sizes: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: B, maxLength: B }),
    })
    .map(({ maxActive, entries, sizes }) => {
      const rows = Int32Array.from({ length: maxActive * B * width }, (_, q) => entries[q % entries.length]);
      return [maxActive, rows, Int32Array.from(sizes, (n) => (n === 4 ? maxActive : n))];
    });
}

function near(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'tensor':
      return tensorArbitrary();
    case 'rows':
      return tensorArbitrary(2);
    case 'chain':
      return fc.oneof(tensorArbitrary(4).map((edges) => ({ edges })), fc.record({ unary: tensorArbitrary(3), transition: tensorArbitrary(2) }), fc.record({ unary: tensorArbitrary(3), transition: tensorArbitrary(3) }));
    case 'chainGrad':
      return fc.oneof(tensorArbitrary(4).map((edges) => ({ edges })), fc.record({ unary: tensorArbitrary(3), transition: tensorArbitrary(3) }));
    case 'spec':
      return fc.oneof(
        {
          weight: 3,
          arbitrary: fc.record({
            structure: fc.oneof(fc.constantFrom('cky', 'eisner', 'matrix_tree', 'semi_markov', 'alignment'), junk),
            scores: fc.oneof(tensorArbitrary(3), tensorArbitrary(4), tensorArbitrary(5)),
            lengths: near('lengths'),
            singleRoot: fc.oneof(fc.boolean(), junk),
            targetLengths: fc.oneof(near('lengths'), junk),
            local: fc.oneof(fc.boolean(), junk),
          }),
        },
        { weight: 2, arbitrary: pathSpecArbitrary },
      );
    case 'lengths':
      return fc.oneof(fc.constant(null), fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 5 }).map((a) => Int32Array.from(a)));
    case 'count':
      return fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, Number.NaN, 2 ** 31, 2 ** 53, '2', 1025) });
    case 'seed':
      return fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(-1, 1.5, 2 ** 53, 2n ** 64n, -1n));
    case 'number':
      return fc.oneof(fc.double({ min: -4, max: 4 }), fc.constantFrom(0, 1, 1.5, 2, -1));
    case 'bool':
      return fc.boolean();
    case 'shape':
      return shapeArbitrary;
    case 'dtype':
      return fc.constantFrom('float32', 'float64', 'int8', '');
    case 'int32s':
      return fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 24 }).map((a) => Int32Array.from(a));
    case 'counter':
      return fc.array(fc.nat(), { minLength: 3, maxLength: 5 }).map((a) => Uint32Array.from(a));
    case 'options':
      return fc.record({ maxIterations: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, -1, 1.5)), tolerance: fc.oneof(fc.constant(1e-6), fc.constantFrom(0, -1, Number.NaN)), maxActive: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(0, 1025, 1.5)) });
    case 'hostData':
      return floatData(4);
  }
}

/** One call of the addon. */
export interface NativeCase {
  name: string;
  args: unknown[];
  description: string;
}

function describeValue(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${Object.prototype.toString.call(v).slice(8, -1)}(${(v as Uint8Array).length})`;
  if (Array.isArray(v)) return `[${v.map(describeValue).join(', ')}]`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return String(v);
  if (v !== null && typeof v === 'object') {
    try {
      return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${describeValue(x)}`).join(', ')} }`;
    } catch {
      return '[object]';
    }
  }
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
}

// setThreads changes the whole process (a junk 900 would start 900 threads for the rest of the fuzz), and so does
// setHostPoolLimit.
const names = (Object.keys(signatures) as (keyof typeof signatures)[]).filter(
  (name) => !['setThreads', 'setHostPoolLimit', 'measureExpRate', 'measureCopyBandwidth'].includes(name),
);

/**
 * treeSparsemapBackward of a semi-Markov or alignment spec with supports of the decoded width, in range or not, and
 * a gradient of the scores' shape: the binding reads the supports (labels, path rows) itself.
 */
const pathSupportCase: fc.Arbitrary<NativeCase> = pathSpecArbitrary.chain((spec) =>
  fc.tuple(supportRows(spec), fc.boolean()).map(([[maxActive, rows, sizes], async]) => {
    const scores = (spec as { scores: { data: Float32Array | Float64Array; shape: number[] } }).scores;
    const grad = { data: scores.data.map((_, q) => Math.sin(q)), shape: scores.shape };
    const args = [spec, maxActive, rows, sizes, grad, async];
    return { name: 'treeSparsemapBackward', args, description: `treeSparsemapBackward(${args.map(describeValue).join(', ')})` };
  }),
);

/** Any addon function, each argument near-valid or arbitrary JS. */
const anyCall: fc.Arbitrary<NativeCase> = fc
  .oneof(
    { weight: 20, arbitrary: fc.constantFrom(...names) },
    { weight: 1, arbitrary: fc.constantFrom('DeviceBuffer.fromHost', 'new DeviceBuffer') },
  )
  .chain((name) => {
    const kinds: Kind[] = name === 'DeviceBuffer.fromHost' ? ['hostData', 'shape'] : name === 'new DeviceBuffer' ? ['tensor'] : signatures[name as keyof typeof signatures];
    const positions = kinds.map((k) => fc.oneof({ weight: 5, arbitrary: near(k) }, { weight: 1, arbitrary: junk }));
    const extra = fc.array(junk, { maxLength: 1 });
    return fc.tuple(fc.tuple(...positions), extra).map(([args, more]) => {
      const all = [...(args as unknown[]), ...more];
      return { name, args: all, description: `${name}(${all.map(describeValue).join(', ')})` };
    });
  });

export const nativeCaseArbitrary: fc.Arbitrary<NativeCase> = fc.oneof({ weight: 12, arbitrary: anyCall }, { weight: 1, arbitrary: pathSupportCase });

/** Calls the addon: it may return or resolve, or throw or reject a coded library error; anything else fails. */
export async function runNative(c: NativeCase): Promise<void> {
  const outcome = await outcomeOf(() => {
    if (c.name === 'DeviceBuffer.fromHost') return native.DeviceBuffer.fromHost(...(c.args as [Float32Array, number[]]));
    if (c.name === 'new DeviceBuffer') return new (native.DeviceBuffer as unknown as new (...a: unknown[]) => unknown)(...c.args);
    return ((native as unknown as Record<string, Fn>)[c.name] as Fn)(...c.args);
  });
  if (outcome.threw) {
    const bad = badError(outcome.error);
    if (bad) throw new FuzzFailure(`${c.name}: ${bad}`);
    return;
  }
  const value = outcome.value as { dispose?: () => void } | null;
  if (value && typeof value === 'object' && typeof value.dispose === 'function') value.dispose();
}
