/**
 * Gumbel perturbations of the tree structures (TreeCRF, DependencyCRF, NonProjectiveDependencyCRF) and of
 * LinearChainCRF (edges and factored), on every available backend: perturbAndMap is the argmax of scores + τ·G with G = gumbelNoise(shape, { seed }) built here
 * independently, perturbedMarginals the marginals of (scores + G)/τ, their backward matches finite differences
 * (same seed: the noise is fixed), −Infinity masks stay forbidden, same seed = same result, async = sync, typed
 * errors.
 */
import { AnyTensor, DependencyCRF, Device, LinearChainCRF, NonProjectiveDependencyCRF, Tensor, TreeCRF, gumbelNoise } from '../lib';
import { values } from './arcs';
import { backends, errorCode, expectClose, finiteDifferenceVjp, randomTensor, rng } from './helpers';

interface Perturbable {
  argmaxDecoded(): { parts: AnyTensor; score: AnyTensor };
  marginals(): AnyTensor;
  perturbAndMap(options: { seed: number; temperature?: number }): AnyTensor;
  perturbAndMapDecoded(options: { seed: number; temperature?: number }): { parts: AnyTensor; score: AnyTensor };
  perturbAndMapAsync(options: { seed: number; temperature?: number }): Promise<{ parts: AnyTensor; score: AnyTensor }>;
  perturbedMarginals(options: { seed: number; temperature?: number }): AnyTensor;
  perturbedMarginalsAsync(options: { seed: number; temperature?: number }): Promise<AnyTensor>;
  perturbedMarginalsBackward(grad: AnyTensor, options: { seed: number; temperature?: number }): AnyTensor;
  dispose(): void;
}

type Make = (p: Tensor, lengths: number[], device: Device) => Perturbable;

const structures: [string, number[], number[], Make][] = [
  ['TreeCRF', [3, 5, 5], [5, 3, 1], (p, lengths, device) => new TreeCRF(p, { lengths, device })],
  ['TreeCRF labelled', [2, 4, 4, 3], [4, 2], (p, lengths, device) => new TreeCRF(p, { lengths, device })],
  ['DependencyCRF', [3, 5, 5], [5, 4, 1], (p, lengths, device) => new DependencyCRF(p, { lengths, device })],
  [
    'NonProjectiveDependencyCRF any roots',
    [3, 5, 5],
    [5, 2, 4],
    (p, lengths, device) => new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot: false }),
  ],
];

/** scale·(p + noiseScale·G) computed here, G = gumbelNoise(p.shape, { seed, stream, dtype }). */
function perturbedHere(p: Tensor, seed: number, noiseScale: number, scale: number, stream = 0): Tensor {
  const noise = gumbelNoise(p.shape, { seed, stream, dtype: p.dtype }) as Tensor;
  const out = p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size);
  for (let i = 0; i < p.size; i++) out[i] = scale * (p.data[i] + noiseScale * noise.data[i]);
  return new Tensor(out, p.shape);
}

describe.each(backends)('Gumbel perturbations on %s', (device) => {
  describe.each(structures)('%s', (_name, shape, lengths, make) => {
    const random = rng(shape.reduce((a, b) => a * b, 3));
    const p = randomTensor(shape, random);
    p.data[2] = -Infinity; // a forbidden part (span 0..2, or arc 0 -> 2)

    test.each([1, 0.5, 3])('perturbAndMap = argmax of scores + τ·G (τ = %d), same seed same tree', (tau) => {
      const crf = make(p, lengths, device);
      const expected = make(perturbedHere(p, 11, tau, 1), lengths, device).argmaxDecoded();
      const got = crf.perturbAndMapDecoded({ seed: 11, temperature: tau });
      expect(values(got.parts)).toEqual(values(expected.parts));
      expectClose(values(got.score), values(expected.score), 1e-12, 1e-12);
      expect(values(crf.perturbAndMap({ seed: 11, temperature: tau }))).toEqual(values(expected.parts));
      expect(values(got.parts)[2]).toBe(0);
      crf.dispose();
    });

    test('different seeds give different trees; τ → 0 gives the argmax', () => {
      const crf = make(p, lengths, device);
      const trees = new Set(Array.from({ length: 12 }, (_, s) => values(crf.perturbAndMap({ seed: s })).join(',')));
      expect(trees.size).toBeGreaterThan(1);
      expect(values(crf.perturbAndMap({ seed: 5, temperature: 1e-9 }))).toEqual(values(crf.argmaxDecoded().parts));
      crf.dispose();
    });

    test.each([1, 0.25])('perturbedMarginals = marginals of (scores + G)/τ (τ = %d); backward = finite differences', (tau) => {
      const crf = make(p, lengths, device);
      const options = { seed: 21, temperature: tau };
      const expected = values(make(perturbedHere(p, 21, 1, 1 / tau), lengths, device).marginals());
      const got = values(crf.perturbedMarginals(options));
      expectClose(got, expected, 1e-12, 1e-12);
      expect(got[2]).toBe(0);
      const g = randomTensor(shape, random);
      const back = values(crf.perturbedMarginalsBackward(g, options));
      const marginalsAt = (x: Float64Array) => values(make(new Tensor(x, shape), lengths, device).perturbedMarginals(options));
      const finite = new Float64Array(p.data).map((v) => (v === -Infinity ? -1e30 : v));
      const fd = finiteDifferenceVjp(marginalsAt, finite, g.data as Float64Array, 1e-6);
      expectClose(back, fd, 1e-5, 1e-6);
      crf.dispose();
    });

    test('small τ: perturbedMarginals tend to the perturb-and-MAP tree', () => {
      const crf = make(p, lengths, device);
      const tree = values(crf.perturbAndMap({ seed: 8 }));
      expectClose(values(crf.perturbedMarginals({ seed: 8, temperature: 1e-4 })), tree, 0, 1e-6);
      crf.dispose();
    });

    test('async twins equal the sync ones; bad temperatures are typed errors', async () => {
      const crf = make(p, lengths, device);
      expect(values((await crf.perturbAndMapAsync({ seed: 4 })).parts)).toEqual(values(crf.perturbAndMap({ seed: 4 })));
      expect(values(await crf.perturbedMarginalsAsync({ seed: 4, temperature: 2 }))).toEqual(
        values(crf.perturbedMarginals({ seed: 4, temperature: 2 })),
      );
      for (const temperature of [0, -1, NaN, Infinity]) {
        expect(errorCode(() => crf.perturbAndMap({ seed: 1, temperature }))).toBe('RangeError:ERR_OUT_OF_RANGE');
        expect(errorCode(() => crf.perturbedMarginals({ seed: 1, temperature }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      }
      expect(errorCode(() => crf.perturbAndMap({ seed: -1 }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      crf.dispose();
    });
  });
});

describe.each(backends)('LinearChainCRF perturbations on %s', (device) => {
  const [B, N, C] = [3, 5, 3];
  const lengths = [5, 2, 4];
  const random = rng(99);
  const edges = randomTensor([B, N - 1, C, C], random);
  const unary = randomTensor([B, N, C], random);
  const transition = randomTensor([C, C], random);
  const flat = (parts: AnyTensor | { unary: AnyTensor; transition: AnyTensor }): number[] =>
    'unary' in parts ? [...values(parts.unary), ...values(parts.transition)] : values(parts);

  test.each([1, 0.5])('edges: perturbAndMap = Viterbi of edges + τ·G, perturbedMarginals = marginals of (edges + G)/τ (τ = %d)', (tau) => {
    const crf = new LinearChainCRF(edges, { lengths, device });
    const best = new LinearChainCRF(perturbedHere(edges, 3, tau, 1), { lengths, device }).argmaxDecoded();
    const got = crf.perturbAndMapDecoded({ seed: 3, temperature: tau });
    expect(Array.from(got.labels)).toEqual(Array.from(best.labels));
    expect(flat(crf.perturbAndMap({ seed: 3, temperature: tau }))).toEqual(flat(best.parts));
    const expected = new LinearChainCRF(perturbedHere(edges, 3, 1, 1 / tau), { lengths, device }).marginals();
    expectClose(flat(crf.perturbedMarginals({ seed: 3, temperature: tau })), flat(expected), 1e-12, 1e-12);
    crf.dispose();
  });

  test('factored: the unary takes stream 0 and the transition stream 1; backward = finite differences', async () => {
    const crf = new LinearChainCRF({ unary, transition }, { lengths, device });
    const here = { unary: perturbedHere(unary, 6, 0.7, 1, 0), transition: perturbedHere(transition, 6, 0.7, 1, 1) };
    const best = new LinearChainCRF(here, { lengths, device }).argmaxDecoded();
    expect(Array.from(crf.perturbAndMapDecoded({ seed: 6, temperature: 0.7 }).labels)).toEqual(Array.from(best.labels));
    expect(Array.from((await crf.perturbAndMapAsync({ seed: 6, temperature: 0.7 })).labels)).toEqual(Array.from(best.labels));
    const options = { seed: 6, temperature: 0.5 };
    expect(flat(await crf.perturbedMarginalsAsync(options))).toEqual(flat(crf.perturbedMarginals(options)));
    // d/d(unary, transition) of <g, perturbedMarginals> against central differences.
    const g = { unary: randomTensor([B, N, C], random), transition: randomTensor([B, C, C], random) };
    const back = crf.perturbedMarginalsBackward(g, options) as { unary: AnyTensor; transition: AnyTensor };
    const x0 = new Float64Array([...unary.data, ...transition.data]);
    const split = (x: Float64Array) => ({
      unary: new Tensor(x.slice(0, unary.size), unary.shape),
      transition: new Tensor(x.slice(unary.size), transition.shape),
    });
    const objective = (x: Float64Array) => {
      const m = new LinearChainCRF(split(x), { lengths, device }).perturbedMarginals(options) as { unary: AnyTensor; transition: AnyTensor };
      const gu = g.unary.data;
      const gt = g.transition.data;
      let v = 0;
      values(m.unary).forEach((u, i) => (v += u * gu[i]));
      values(m.transition).forEach((t, i) => (v += t * gt[i]));
      return [v];
    };
    const fd = finiteDifferenceVjp(objective, x0, new Float64Array([1]), 1e-6);
    expectClose([...values(back.unary), ...values(back.transition)], fd, 1e-5, 1e-6);
    crf.dispose();
  });

  test('bad temperatures are typed errors', () => {
    const crf = new LinearChainCRF(edges, { lengths, device });
    for (const temperature of [0, -2, NaN]) {
      expect(errorCode(() => crf.perturbAndMap({ seed: 1, temperature }))).toBe('RangeError:ERR_OUT_OF_RANGE');
      expect(errorCode(() => crf.perturbedMarginals({ seed: 1, temperature }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    }
    crf.dispose();
  });
});

