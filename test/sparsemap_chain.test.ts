/**
 * SparseMAP of LinearChainCRF (edge potentials) on every available backend, against the reference projection
 * onto the convex hull of every enumerated labelling (test/oracles/sparsemap.ts): μ, a valid support and weights
 * that represent it, the duality gap, the backward against the reference Jacobian and finite differences, mixed
 * lengths with length 1, float32, and the typed errors (the factored form has no SparseMAP).
 */
import { AnyTensor, LinearChainCRF, Tensor } from '../lib';
import { row, values } from './arcs';
import { backends, errorCode, errorMessage, expectClose, randomTensor, rng, toFloat32 } from './helpers';
import { Structure } from './oracles/enumerate';
import { labellings, oracleChain, partsOf } from './oracles/linear_chain';
import { dualityGap, jacobianProduct, sparsemapReference, stableFiniteDifferenceVjp } from './oracles/sparsemap';

/** Every labelling of sequence b as a Structure over the edge parts of its [N-1, C, C] block. */
function structuresOf(edges: Tensor, b: number, lengths: number[]): Structure[] {
  const x = oracleChain({ edges }, b, lengths);
  return labellings(x).map((y) => ({ decoded: y, parts: partsOf(x, y), score: 0 }));
}

describe.each(backends)('LinearChainCRF SparseMAP on %s', (device) => {
  const [B, N, C] = [4, 4, 3];
  const lengths = [4, 3, 1, 2];
  const size = (N - 1) * C * C;

  test.each([
    ['random', 1],
    ['peaked', 100],
    ['flat', 0],
  ] as const)('%s scores: μ = the reference projection, support and weights represent it, the gap closes', (_kind, scale) => {
    const random = rng(17 + scale);
    const edges = scale === 0 ? new Tensor(new Float64Array(B * size).fill(0.5), [B, N - 1, C, C]) : randomTensor([B, N - 1, C, C], random, scale);
    const crf = new LinearChainCRF(edges, { lengths, device });
    const sol = crf.sparsemap();
    const mu = values(sol.marginals as AnyTensor);
    for (let b = 0; b < B; b++) {
      const structures = structuresOf(edges, b, lengths);
      const eta = row(edges.data, b, size);
      const ref = sparsemapReference(structures, eta, size);
      const got = row(mu, b, size);
      expectClose(got, Array.from(ref.marginals), 1e-7, 1e-7);
      expect(sol.converged[b]).toBe(true);
      expect(dualityGap(structures, eta, got)).toBeLessThanOrEqual(1e-8);
      // μ = Σ weights · parts of the support; each support labelling is a labelling of the sequence.
      const sum = new Float64Array(size);
      let total = 0;
      sol.support[b].forEach((labels, i) => {
        const y = Array.from(labels).slice(0, lengths[b]);
        expect(y.every((c) => c >= 0 && c < C)).toBe(true);
        expect(Array.from(labels).slice(lengths[b]).every((c) => c === -1)).toBe(true);
        for (const q of partsOf(oracleChain({ edges }, b, lengths), y)) sum[q] += sol.weights[b][i];
        expect(sol.weights[b][i]).toBeGreaterThan(0);
        total += sol.weights[b][i];
      });
      expectClose([total], [1], 1e-12, 1e-12);
      expectClose(Array.from(sum), got, 1e-9, 1e-9);
      if (scale === 100 && ref.support.length === 1) expect(sol.support[b].length).toBe(1);
    }
    crf.dispose();
  });

  test('sparsemapBackward = the reference Jacobian = finite differences (stable supports); float32 agrees', () => {
    const random = rng(5);
    const edges = randomTensor([B, N - 1, C, C], random);
    const crf = new LinearChainCRF(edges, { lengths, device });
    const sol = crf.sparsemap();
    const g = randomTensor([B, N - 1, C, C], random);
    const back = values(crf.sparsemapBackward(g, sol));
    expect(values(crf.sparsemapBackward(g))).toEqual(back);
    for (let b = 0; b < B; b++) {
      const structures = structuresOf(edges, b, lengths);
      const ref = sparsemapReference(structures, row(edges.data, b, size), size);
      if (ref.stable) expectClose(row(back, b, size), Array.from(jacobianProduct(ref.jacobian, row(g.data, b, size))), 1e-7, 1e-7);
    }
    // Central differences of <g, μ*> on the coordinates where the support is the same at ±h.
    const solve = (x: Float64Array) => {
      const r = new LinearChainCRF(new Tensor(x, edges.shape), { lengths, device }).sparsemap();
      return { values: values(r.marginals as AnyTensor), key: r.support.map((s) => s.map((y) => Array.from(y).join(',')).sort().join('|')).join(';') };
    };
    const fd = stableFiniteDifferenceVjp(solve, edges.data as Float64Array, g.data, 1e-6);
    const checked = fd.stable.map((ok, i) => (ok ? i : -1)).filter((i) => i >= 0);
    expect(checked.length).toBeGreaterThan(edges.size / 2);
    expectClose(checked.map((i) => back[i]), checked.map((i) => fd.grad[i]), 1e-5, 1e-6);
    const m32 = values(new LinearChainCRF(toFloat32(edges), { lengths, device }).sparsemap().marginals as AnyTensor);
    expectClose(m32, values(sol.marginals as AnyTensor), 1e-4, 1e-4);
    crf.dispose();
  });

  test('typed errors: the factored form, bad options, a gradient of the wrong shape', async () => {
    const random = rng(8);
    const factored = new LinearChainCRF({ unary: randomTensor([B, N, C], random), transition: randomTensor([C, C], random) }, { device });
    expect(errorCode(() => factored.sparsemap())).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    const crf = new LinearChainCRF(randomTensor([B, N - 1, C, C], random), { lengths, device });
    expect(errorCode(() => crf.sparsemap({ maxIterations: 0 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.sparsemap({ tolerance: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.sparsemap({ maxActive: 0 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(errorCode(() => crf.sparsemapBackward(randomTensor([B, N, C, C], random)))).toBe('RangeError:ERR_SHAPE_MISMATCH');
    const sync = crf.sparsemap();
    const async = await crf.sparsemapAsync();
    expect(values(async.marginals as AnyTensor)).toEqual(values(sync.marginals as AnyTensor));
    const g = randomTensor([B, N - 1, C, C], random);
    expect(values(await crf.sparsemapBackwardAsync(g, sync))).toEqual(values(crf.sparsemapBackward(g, sync)));
    crf.dispose();
  });
});

describe('LinearChainCRF SparseMAP part count', () => {
  test('(N-1)·C² past 2^31 - 1 is RangeError ERR_SIZE_OVERFLOW naming edges, before any allocation or kernel', async () => {
    // C = 46341: C² = 2147488281 parts in one sequence, stored as int32 part indices by the solver (negative
    // offsets past 2^31). The edges are a zero-filled Float32Array the kernel never touches, so the OS never
    // commits its 8 GiB; the check must come before the marginals (8 GiB) and the solver's workspace (3 D doubles).
    const C = 46341;
    const edges = new Tensor(new Float32Array(C * C), [1, 1, C, C]);
    const crf = new LinearChainCRF(edges);
    const rss = process.memoryUsage().rss;
    expect(errorCode(() => crf.sparsemap())).toBe('RangeError:ERR_SIZE_OVERFLOW');
    expect(errorMessage(() => crf.sparsemap())).toMatch(/^edges \[1, 1, 46341, 46341\] has \(N-1\)·C² = 2147488281 parts per instance; .*2\^31 - 1/);
    await expect(crf.sparsemapAsync()).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SIZE_OVERFLOW' });
    const solution = { support: [[Int32Array.of(0, 0)]], weights: [Float64Array.of(1)] } as unknown as Parameters<typeof crf.sparsemapBackward>[1];
    expect(errorCode(() => crf.sparsemapBackward(edges, solution))).toBe('RangeError:ERR_SIZE_OVERFLOW');
    await expect(crf.sparsemapBackwardAsync(edges, solution)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SIZE_OVERFLOW' });
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
  });
});
