/**
 * The `out` option (issue 18) of marginals, marginalsBackward and their Async forms (LinearChainCRF, TreeCRF,
 * DependencyCRF, NonProjectiveDependencyCRF) and of LinearChainCRF.edgeMarginals, on every backend: the method
 * returns the caller's object, whose every element is overwritten (it starts as NaN) with the values of a call
 * without `out`, bit for bit (zeros past the lengths included), also when one `out` is reused across calls; async
 * forms write it when the promise resolves (SharedArrayBuffer-backed arrays too; a detached one rejects); wrong
 * kinds, dtypes, shapes, places and outs sharing memory with an input are coded errors.
 */
import {
  AnyTensor,
  DependencyCRF,
  DeviceTensor,
  FactoredPotentials,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  Tensor,
  TreeCRF,
} from '../lib';
import { backends, randomTensor, rng, toFloat32 } from './helpers';

type Parts = AnyTensor | { unary: AnyTensor; transition: AnyTensor };

function hostOf(t: AnyTensor): Tensor {
  return t instanceof DeviceTensor ? t.toHost() : t;
}

/** A tensor like t (dtype, shape, place) filled with NaN. */
function nanLike(t: AnyTensor): AnyTensor {
  const h = hostOf(t);
  const data = h.dtype === 'float64' ? new Float64Array(h.size) : new Float32Array(h.size);
  data.fill(NaN);
  const fresh = new Tensor(data, h.shape);
  return t instanceof DeviceTensor ? fresh.toDevice() : fresh;
}

function nanParts(p: Parts): Parts {
  return p instanceof Tensor || p instanceof DeviceTensor ? nanLike(p) : { unary: nanLike(p.unary), transition: nanLike(p.transition) };
}

function expectSameBits(actual: Parts, expected: Parts): void {
  const pairs: [AnyTensor, AnyTensor][] =
    actual instanceof Tensor || actual instanceof DeviceTensor
      ? [[actual, expected as AnyTensor]]
      : [
          [actual.unary, (expected as { unary: AnyTensor }).unary],
          [actual.transition, (expected as { transition: AnyTensor }).transition],
        ];
  for (const [a, e] of pairs) {
    const x = hostOf(a), y = hostOf(e);
    expect(x.shape).toEqual(y.shape);
    expect(x.dtype).toBe(y.dtype);
    expect(Array.from(x.data).every((v, i) => Object.is(v, y.data[i]))).toBe(true);
  }
}

type Form = 'edges' | 'shared' | 'batched';
const B = 4, N = 6, C = 3;
const lengths = [6, 2, 4, 1];

function chainOf(form: Form, dtype: 'float32' | 'float64', backend: 'cpu' | 'cuda', seed: number, options: { moved?: boolean } = {}): LinearChainCRF {
  const random = rng(seed);
  const cast = (t: Tensor): AnyTensor => {
    const typed = dtype === 'float32' ? toFloat32(t) : t;
    return backend === 'cuda' && !options.moved ? typed.toDevice() : typed;
  };
  const device = options.moved ? ('cuda' as const) : undefined;
  if (form === 'edges') return new LinearChainCRF(cast(randomTensor([B, N - 1, C, C], random, 2)), { lengths, device });
  const potentials: FactoredPotentials = {
    unary: cast(randomTensor([B, N, C], random, 2)),
    transition: cast(randomTensor(form === 'shared' ? [C, C] : [B, C, C], random, 2)),
  };
  return new LinearChainCRF(potentials, { lengths, device });
}

/** The places a chain's potentials can be in: the backend's own, and host potentials run on the GPU. */
const placements: ['cpu' | 'cuda', boolean][] = backends.flatMap((b) => (b === 'cuda' ? [['cuda', false], ['cuda', true]] : [['cpu', false]]) as ['cpu' | 'cuda', boolean][]);

describe.each(placements)('LinearChainCRF on %s (host potentials moved: %s)', (backend, moved) => {
  describe.each(['edges', 'shared', 'batched'] as Form[])('%s', (form) => {
    test.each(['float64', 'float32'] as const)('%s: marginals, edgeMarginals, marginalsBackward (and Async) write out', async (dtype) => {
      const crf = chainOf(form, dtype, backend, 11, { moved });
      const fresh = crf.marginals() as Parts;
      let out = nanParts(fresh);
      expect(crf.marginals({ out } as never)).toBe(out);
      expectSameBits(out, fresh);
      out = nanParts(fresh);
      expect(await crf.marginalsAsync({ out } as never)).toBe(out);
      expectSameBits(out, fresh);

      const edges = crf.edgeMarginals();
      const edgesOut = nanLike(edges);
      expect(crf.edgeMarginals({ out: edgesOut } as never)).toBe(edgesOut);
      expectSameBits(edgesOut, edges);

      const grad = crf.marginals();
      const backward = crf.marginalsBackward(grad) as Parts;
      let gradOut = nanParts(backward);
      expect(crf.marginalsBackward(grad, { out: gradOut } as never)).toBe(gradOut);
      expectSameBits(gradOut, backward);
      gradOut = nanParts(backward);
      expect(await crf.marginalsBackwardAsync(grad, { out: gradOut } as never)).toBe(gradOut);
      expectSameBits(gradOut, backward);
    });
  });

  test('one out reused across calls on other potentials equals fresh results', () => {
    const out = nanParts(chainOf('batched', 'float64', backend, 1, { moved }).marginals() as Parts);
    for (const seed of [2, 3, 4]) {
      const crf = chainOf('batched', 'float64', backend, seed, { moved });
      expectSameBits(crf.marginals({ out } as never) as Parts, crf.marginals() as Parts);
    }
  });
});

const trees: [string, (scores: AnyTensor, lengths: number[]) => TreeCRF | DependencyCRF | NonProjectiveDependencyCRF, number[]][] = [
  ['TreeCRF', (s, l) => new TreeCRF(s, { lengths: l }), [B, N, N]],
  ['TreeCRF (labels)', (s, l) => new TreeCRF(s, { lengths: l }), [B, N, N, 2]],
  ['DependencyCRF', (s, l) => new DependencyCRF(s, { lengths: l }), [B, N, N]],
  ['NonProjectiveDependencyCRF', (s, l) => new NonProjectiveDependencyCRF(s, { lengths: l }), [B, N, N]],
];

describe.each(backends)('trees on %s', (backend) => {
  describe.each(trees)('%s', (_name, make, shape) => {
    test.each(['float64', 'float32'] as const)('%s: marginals, marginalsBackward (and Async) write out; reuse', async (dtype) => {
      const random = rng(7);
      const host = dtype === 'float32' ? toFloat32(randomTensor(shape, random, 2)) : randomTensor(shape, random, 2);
      const tree = make(backend === 'cuda' ? host.toDevice() : host, lengths);
      const fresh = tree.marginals();
      let out = nanLike(fresh);
      expect(tree.marginals({ out } as never)).toBe(out);
      expectSameBits(out, fresh);
      out = nanLike(fresh);
      expect(await tree.marginalsAsync({ out } as never)).toBe(out);
      expectSameBits(out, fresh);
      const backward = tree.marginalsBackward(fresh as never);
      out = nanLike(fresh);
      expect(tree.marginalsBackward(fresh as never, { out } as never)).toBe(out);
      expectSameBits(out, backward);
      out = nanLike(fresh);
      expect(await tree.marginalsBackwardAsync(fresh as never, { out } as never)).toBe(out);
      expectSameBits(out, backward);
      // The same out on other scores.
      const other = make(backend === 'cuda' ? toFloatOf(dtype, randomTensor(shape, random, 2)).toDevice() : toFloatOf(dtype, randomTensor(shape, random, 2)), lengths);
      expectSameBits(other.marginals({ out } as never), other.marginals());
    });
  });

  if (backend === 'cpu' && backends.includes('cuda')) {
    test('host scores run on the GPU ({ device: "cuda" }) take a host out', async () => {
      const scores = randomTensor([B, N, N], rng(3), 2);
      const tree = new DependencyCRF(scores, { lengths, device: 'cuda' });
      const out = nanLike(tree.marginals()) as Tensor;
      expect(await tree.marginalsAsync({ out })).toBe(out);
      expectSameBits(out, tree.marginals());
      tree.dispose();
    });
  }
});

function toFloatOf(dtype: 'float32' | 'float64', t: Tensor): Tensor {
  return dtype === 'float32' ? toFloat32(t) : t;
}

describe('async out', () => {
  test('a SharedArrayBuffer-backed out is written by the time the promise resolves', async () => {
    const crf = chainOf('edges', 'float64', 'cpu', 5);
    const fresh = crf.marginals() as Tensor;
    const out = new Tensor(new Float64Array(new SharedArrayBuffer(fresh.size * 8)), fresh.shape);
    expect(await crf.marginalsAsync({ out } as never)).toBe(out);
    expectSameBits(out, fresh);
  });

  test('an out detached before the promise resolves rejects with ERR_BUFFER_DETACHED', async () => {
    const crf = chainOf('edges', 'float64', 'cpu', 5);
    const out = new Tensor(new Float64Array(B * (N - 1) * C * C), [B, N - 1, C, C]);
    const pending = crf.marginalsAsync({ out } as never);
    structuredClone(out.data.buffer, { transfer: [out.data.buffer as ArrayBuffer] });
    await expect(pending).rejects.toMatchObject({ code: 'ERR_BUFFER_DETACHED' });
  });

  test('an async out is untouched until the job settles', async () => {
    const crf = chainOf('edges', 'float64', 'cpu', 5);
    const out = nanLike(crf.marginals() as AnyTensor) as Tensor;
    const pending = crf.marginalsAsync({ out } as never);
    expect(Number.isNaN(out.data[0])).toBe(true);
    await pending;
    expect(Number.isNaN(out.data[0])).toBe(false);
  });
});

describe('out errors', () => {
  const crf = chainOf('edges', 'float64', 'cpu', 8);
  const shape = [B, N - 1, C, C];
  const code = (f: () => unknown): unknown => {
    try {
      f();
    } catch (error) {
      return { type: (error as Error).constructor.name, code: (error as { code: string }).code, message: (error as Error).message };
    }
    return 'no error';
  };

  test('kind, dtype, shape and options', () => {
    expect(code(() => crf.marginals({ out: new Float64Array(10) } as never))).toMatchObject({ type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(code(() => crf.marginals(3 as never))).toMatchObject({ type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const float32 = new Tensor(new Float32Array(B * (N - 1) * C * C), shape);
    expect(code(() => crf.marginals({ out: float32 } as never))).toMatchObject({ type: 'TypeError', code: 'ERR_DTYPE_MISMATCH', message: expect.stringContaining('options.out') });
    const flat = new Tensor(new Float64Array(B * (N - 1) * C * C), [B * (N - 1) * C * C]);
    expect(code(() => crf.marginals({ out: flat } as never))).toMatchObject({ type: 'RangeError', code: 'ERR_SHAPE_MISMATCH' });
    const factored = chainOf('shared', 'float64', 'cpu', 8);
    const marginals = factored.marginals() as { unary: Tensor; transition: Tensor };
    expect(code(() => factored.marginals({ out: marginals.unary } as never))).toMatchObject({ type: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(code(() => factored.marginals({ out: { unary: marginals.unary } } as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.out.transition') });
    // marginalsBackward of a shared transition is [C, C], not the per-sequence [B, C, C] of marginals.
    expect(code(() => factored.marginalsBackward(marginals as never, { out: nanParts(marginals) } as never))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH', message: expect.stringContaining('options.out.transition') });
    const tree = new TreeCRF(randomTensor([B, N, N], rng(1), 1));
    expect(code(() => tree.marginals({ out: new Tensor(new Float64Array(B * N * N * 2), [B, N, N, 2]) }))).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  });

  test('outs that share memory with an input or with each other', () => {
    const edges = crf.potentials as Tensor;
    expect(code(() => crf.marginals({ out: edges } as never))).toMatchObject({ type: 'RangeError', code: 'ERR_OUT_ALIASES_INPUT' });
    const grad = crf.marginals() as Tensor;
    expect(code(() => crf.marginalsBackward(grad as never, { out: grad } as never))).toMatchObject({ code: 'ERR_OUT_ALIASES_INPUT', message: expect.stringContaining('grad') });
    // A view of part of the potentials' buffer overlaps; a view of another part does not.
    const size = B * (N - 1) * C * C;
    const both = new Float64Array(2 * size);
    const first = new Tensor(both.subarray(0, size), shape);
    const overlapping = new Tensor(both.subarray(size / 2, size / 2 + size), shape);
    const second = new Tensor(both.subarray(size), shape);
    first.data.set(edges.data);
    const viewCrf = new LinearChainCRF(first, { lengths });
    expect(code(() => viewCrf.marginals({ out: overlapping } as never))).toMatchObject({ code: 'ERR_OUT_ALIASES_INPUT' });
    expect(viewCrf.marginals({ out: second } as never)).toBe(second);
    expectSameBits(second, crf.marginals() as Tensor);
    const factored = chainOf('batched', 'float64', 'cpu', 8);
    const m = factored.marginals() as { unary: Tensor; transition: Tensor };
    const sharedMemory = new Tensor(new Float64Array(m.unary.data.buffer, 0, B * C * C), [B, C, C]);
    expect(code(() => factored.marginals({ out: { unary: m.unary, transition: sharedMemory } } as never))).toMatchObject({ code: 'ERR_OUT_ALIASES_INPUT' });
    const tree = new TreeCRF(randomTensor([B, N, N], rng(1), 1));
    expect(code(() => tree.marginals({ out: tree.potentials }))).toMatchObject({ code: 'ERR_OUT_ALIASES_INPUT' });
  });

  if (backends.includes('cuda')) {
    test('a host out for a device result and the reverse are ERR_MIXED_DEVICES; a disposed one ERR_TENSOR_DISPOSED', () => {
      const device = chainOf('edges', 'float64', 'cuda', 8);
      const hostOut = new Tensor(new Float64Array(B * (N - 1) * C * C), shape);
      expect(code(() => device.marginals({ out: hostOut } as never))).toMatchObject({ type: 'TypeError', code: 'ERR_MIXED_DEVICES' });
      expect(code(() => crf.marginals({ out: hostOut.toDevice() } as never))).toMatchObject({ type: 'TypeError', code: 'ERR_MIXED_DEVICES' });
      const disposed = hostOut.toDevice();
      disposed.dispose();
      expect(code(() => device.marginals({ out: disposed } as never))).toMatchObject({ code: 'ERR_TENSOR_DISPOSED' });
      expect(code(() => device.marginals({ out: (device.potentials as DeviceTensor) } as never))).toMatchObject({ code: 'ERR_OUT_ALIASES_INPUT' });
    });
  }
});
