/**
 * Device-resident estimator steps (issue 20): for every estimator × structure pair of the estimator table, one
 * `step()` on DeviceTensor scores, with a decoder that keeps its computation on the device (loss_b = ⟨z_b, t_b⟩
 * by the library's per-instance dot — `[B]` back to the host — and ∂L/∂z = t, a device tensor), moves no tensor
 * of the parts' size between host and device: the library's copies (cudaTransfers(): every copy it makes is
 * counted) total less than ONE parts tensor, so no single copy is one. What does cross: per-instance coefficients
 * and dot products (O(B) float64 each per call), log Z / entropies `[B]`, sample indices `[k, B]`, and the positions
 * of one-hot parts of decoded structures (one int32 per part of each structure, O(S·B·N)) where a structure builds
 * parts from decoded forms (SparseMAP supports). The gradient equals the host path's (float64, 1e-9).
 *
 * Not counted against that budget, but measured apart: the structure's SparseMAP solver I/O (`sparsemap()` and
 * `sparsemapBackward()`: the support rows and weights, up to maxActive per instance — the "O(B·K) scalars" of a
 * SparseMAP solution; Categorical's sparsemax reads μ `[B, K]` back to list them), the one-hot positions that
 * `supportParts()` uploads and the decoded indices that `sample()`, `argmax()` and `perturbAndMap()` return to
 * the host (each less than half a parts tensor per structure built). exactMarginalization calls the decoder
 * K times, so its budget is per call (under half a parts tensor each).
 *
 * Beyond the table, the same check for a factored LinearChainCRF with a shared `[C, C]` transition and for an HMM
 * with device parameters (their partScores / partsBackward repeat, sum and gather on the device).
 */
import {
  AlignmentCRF,
  HMM,
  AnyTensor,
  Categorical,
  DependencyCRF,
  DeviceTensor,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  SemiMarkovCRF,
  Tensor,
  TreeCRF,
  cudaTransfers,
  estimators,
  resetCudaTransfers,
} from '../../lib';
import { scoreOf } from '../../lib/estimators/parts';
import { expectClose, randomTensor, rng } from '../helpers';
import { latentCases } from '../oracles/latent';
import { gpuDescribe } from './gpu';

const describeGpu = gpuDescribe('transfer-count');

type Structure = estimators.LatentStructure<AnyTensor, AnyTensor>;

/** Each structure of the estimator table (test/oracles/latent.ts), with parts much larger than B = 2. */
const cases: { name: string; shape: number[]; make: (scores: AnyTensor) => Structure }[] = [
  { name: 'Categorical', shape: [2, 48], make: (s) => new Categorical(s) as unknown as Structure },
  { name: 'LinearChainCRF', shape: [2, 4, 4, 4], make: (s) => new LinearChainCRF(s, { lengths: [5, 3] }) as unknown as Structure },
  { name: 'TreeCRF', shape: [2, 5, 5, 2], make: (s) => new TreeCRF(s, { lengths: [5, 3] }) as unknown as Structure },
  { name: 'DependencyCRF', shape: [2, 6, 6], make: (s) => new DependencyCRF(s, { lengths: [6, 4] }) as unknown as Structure },
  {
    name: 'NonProjectiveDependencyCRF',
    shape: [2, 6, 6],
    make: (s) => new NonProjectiveDependencyCRF(s, { lengths: [6, 4], singleRoot: false }) as unknown as Structure,
  },
  { name: 'SemiMarkovCRF', shape: [2, 4, 3, 3, 3], make: (s) => new SemiMarkovCRF(s, { lengths: [5, 3] }) as unknown as Structure },
  {
    name: 'AlignmentCRF',
    shape: [2, 4, 3, 3],
    make: (s) => new AlignmentCRF(s, { lengths: [4, 3], targetLengths: [3, 2] }) as unknown as Structure,
  },
  {
    name: 'AlignmentCRF local',
    shape: [2, 4, 3, 3],
    make: (s) => new AlignmentCRF(s, { lengths: [4, 2], local: true }) as unknown as Structure,
  },
];

/** Every estimator of lib/estimators/index.ts (REINFORCE with each baseline and the entropy bonus). */
const estimatorTable: { name: string; make: () => estimators.Estimator }[] = [
  { name: 'marginals', make: () => estimators.marginals() },
  { name: 'sparsemap', make: () => estimators.sparsemap() },
  { name: 'entmax15', make: () => estimators.entmax15() },
  { name: 'perturbedMarginals', make: () => estimators.perturbedMarginals({ temperature: 0.7, seed: 3 }) },
  { name: 'straightThrough(identity)', make: () => estimators.straightThrough() },
  { name: 'straightThrough(marginals)', make: () => estimators.straightThrough({ backward: 'marginals' }) },
  { name: 'perturbAndMap(identity)', make: () => estimators.perturbAndMap({ seed: 5 }) },
  { name: 'perturbAndMap(marginals)', make: () => estimators.perturbAndMap({ backward: 'marginals', temperature: 0.8, seed: 5 }) },
  { name: 'spigot', make: () => estimators.spigot({ step: 0.5 }) },
  { name: 'exactMarginalization', make: () => estimators.exactMarginalization() },
  { name: 'sparseMarginalization', make: () => estimators.sparseMarginalization() },
  { name: 'reinforce', make: () => estimators.reinforce({ samples: 2, seed: 7 }) },
  { name: 'reinforce(leaveOneOut, entropyBonus)', make: () => estimators.reinforce({ samples: 2, baseline: 'leaveOneOut', entropyBonus: 0.1, seed: 7 }) },
  { name: 'reinforce(movingAverage)', make: () => estimators.reinforce({ samples: 1, baseline: 'movingAverage', seed: 7 }) },
  { name: 'rebar', make: () => estimators.rebar({ temperature: 0.5, seed: 9 }) },
];

/** Pairs whose step needs a block the structure lacks (a TypeError on either path): Categorical-only estimators. */
const categoricalOnly = new Set(['entmax15', 'exactMarginalization', 'rebar']);
/** Estimators that solve SparseMAP (Categorical's reads μ back: see the header). */
const sparse = new Set(['sparsemap', 'spigot', 'sparseMarginalization']);

/** Host <-> device bytes and copies so far. */
function moved(): { bytes: number; copies: number } {
  const t = cudaTransfers();
  return { bytes: t.toDevice.bytes + t.toHost.bytes, copies: t.toDevice.count + t.toHost.count };
}

/**
 * Transfers of a structure's own building blocks, counted apart: its SparseMAP solver I/O (`sparsemap`,
 * `sparsemapBackward`: support rows and weights), the positions `supportParts` uploads, and the decoded forms that
 * `sample`, `argmax` and `perturbAndMap` return to the host beside their device parts (indices, O(B·N) per
 * structure); `rows` counts the structures each of the last two produced.
 */
interface Ledger {
  sparsemap: number;
  supportParts: number;
  supportRows: number;
  decoded: number;
  decodedRows: number;
}

type Booked = 'sparsemap' | 'sparsemapBackward' | 'supportParts' | 'sample' | 'argmax' | 'perturbAndMap';

/** `structure` (and the structures its withScores makes) with the transfers of its building blocks booked in `ledger`. */
function booked(structure: Structure, ledger: Ledger): Structure {
  const target = structure as unknown as Record<Booked, (...args: unknown[]) => unknown>;
  const account = (method: Booked, into: 'sparsemap' | 'supportParts' | 'decoded'): void => {
    const original = target[method].bind(structure);
    target[method] = (...args: unknown[]): unknown => {
      const before = moved().bytes;
      const value = original(...args);
      ledger[into] += moved().bytes - before;
      if (into === 'supportParts') ledger.supportRows += (value as AnyTensor).shape[0];
      if (into === 'decoded') ledger.decodedRows += method === 'sample' ? (args[0] as number) : 1;
      return value;
    };
  };
  account('sparsemap', 'sparsemap');
  account('sparsemapBackward', 'sparsemap');
  account('supportParts', 'supportParts');
  account('sample', 'decoded');
  account('argmax', 'decoded');
  account('perturbAndMap', 'decoded');
  const withScores = structure.withScores.bind(structure);
  structure.withScores = (scores) => booked(withScores(scores) as Structure, ledger);
  return structure;
}

/** The decoder L_b(z) = ⟨z_b, t_b⟩ on the device: the loss by the library's per-instance dot, ∂L/∂z = t. */
function dotDecoder(target: AnyTensor, batch: number): estimators.Decoder<AnyTensor> {
  return (z) => ({ loss: scoreOf(z, target, batch), gradZ: target });
}

describeGpu('estimator steps on device scores keep the parts on the device', () => {
  test('the table covers every structure of the estimator oracle', () => {
    expect(cases.map((c) => c.name)).toEqual(latentCases.map((c) => c.name));
  });

  describe.each(cases)('$name', (c) => {
    const random = rng(31 + c.name.length);
    const scores = randomTensor(c.shape, random, 1.5);
    const target = randomTensor(c.shape, random);
    const B = c.shape[0];
    const partsBytes = scores.size * 8;

    test.each(estimatorTable)('$name', ({ name, make }) => {
      const hostStructure = c.make(scores);
      if (categoricalOnly.has(name) && c.name !== 'Categorical') {
        expect(() => make().step(hostStructure, dotDecoder(target, B))).toThrow(TypeError);
        return;
      }
      const expected = make().step(hostStructure, dotDecoder(target, B));
      const deviceScores = scores.toDevice();
      const deviceTarget = target.toDevice();
      const ledger: Ledger = { sparsemap: 0, supportParts: 0, supportRows: 0, decoded: 0, decodedRows: 0 };
      const structure = booked(c.make(deviceScores), ledger);
      resetCudaTransfers();
      const result = make().step(structure, dotDecoder(deviceTarget, B));
      const total = moved();
      const bytes = total.bytes - ledger.sparsemap - ledger.supportParts - ledger.decoded;
      const calls = result.samples.length;
      if (process.env.LATENT_STRUCT_LOG_TRANSFERS === '1') {
        // eslint-disable-next-line no-console
        console.log(
          `${c.name} × ${name}: ${total.bytes} bytes in ${total.copies} copies; estimator ${bytes}, sparsemap I/O ${ledger.sparsemap}, ` +
            `supportParts positions ${ledger.supportParts}, decoded forms ${ledger.decoded}; one parts tensor ${partsBytes}; ${calls} decoder calls`,
        );
      }
      if (name === 'exactMarginalization') {
        expect(bytes).toBeLessThan((calls * partsBytes) / 2);
      } else {
        expect(bytes).toBeLessThan(partsBytes);
      }
      expect(ledger.supportParts).toBeLessThan((ledger.supportRows * partsBytes) / 2 + 1);
      expect(ledger.decoded).toBeLessThan((ledger.decodedRows * partsBytes) / 2 + 1);
      expect(result.gradScores).toBeInstanceOf(DeviceTensor);
      const grad = (result.gradScores as DeviceTensor).toHost();
      expectClose(grad.data, (expected.gradScores as Tensor).data, 1e-9, 1e-12);
      expectClose(result.loss, expected.loss, 1e-9, 1e-12);
      structure.dispose?.();
      deviceScores.dispose();
      deviceTarget.dispose();
    });
  });
});

/** Beyond the table: the factored chain with a shared `[C, C]` transition (partScores repeats it, partsBackward sums it). */
describeGpu('estimator steps on a factored LinearChainCRF with a shared transition stay on the device', () => {
  type Factored = { unary: AnyTensor; transition: AnyTensor };
  const random = rng(77);
  const [B, N, C] = [2, 5, 4];
  const unary = randomTensor([B, N, C], random, 1.5);
  const transition = randomTensor([C, C], random, 1.5);
  const target = { unary: randomTensor([B, N, C], random), transition: randomTensor([B, C, C], random) };
  const partsBytes = (B * N * C + B * C * C) * 8;
  const make = (u: AnyTensor, t: AnyTensor): estimators.LatentStructure<Factored, Factored> =>
    new LinearChainCRF({ unary: u, transition: t }, { lengths: [5, 3] }) as unknown as estimators.LatentStructure<Factored, Factored>;
  const decoder = (t: Factored): estimators.Decoder<Factored> => (z) => ({ loss: scoreOf(z, t, B), gradZ: t });

  test.each(estimatorTable)('$name', ({ name, make: estimator }) => {
    let expected: estimators.EstimatorResult<Factored, Factored>;
    try {
      expected = estimator().step(make(unary, transition), decoder(target));
    } catch (error) {
      // Blocks the factored chain lacks (SparseMAP needs edge potentials; Categorical-only estimators).
      expect((error as Error).name).toBe('TypeError');
      expect(name === 'entmax15' || name === 'exactMarginalization' || name === 'rebar' || sparse.has(name)).toBe(true);
      return;
    }
    const [u, t] = [unary.toDevice(), transition.toDevice()];
    const deviceTarget = { unary: target.unary.toDevice(), transition: target.transition.toDevice() };
    resetCudaTransfers();
    const result = estimator().step(make(u, t), decoder(deviceTarget));
    const { bytes } = moved();
    expect(bytes).toBeLessThan(partsBytes);
    for (const key of ['unary', 'transition'] as const) {
      const leaf = result.gradScores[key];
      expect(leaf).toBeInstanceOf(DeviceTensor);
      expectClose((leaf as DeviceTensor).toHost().data, (expected.gradScores[key] as Tensor).data, 1e-9, 1e-12);
    }
    for (const x of [u, t, deviceTarget.unary, deviceTarget.transition]) x.dispose();
  });
});

/** Beyond the table: the HMM, whose partsBackward gathers the emission gradient by observation (on the device). */
describeGpu('estimator steps on an HMM with device parameters stay on the device', () => {
  type Factored = { unary: AnyTensor; transition: AnyTensor };
  type Params = { transition: AnyTensor; emission: AnyTensor; init: AnyTensor };
  const random = rng(78);
  const [B, N, C, V] = [2, 12, 8, 6];
  const params = { transition: randomTensor([C, C], random), emission: randomTensor([V, C], random), init: randomTensor([C], random) };
  const observations = { data: Int32Array.from({ length: B * N }, () => Math.floor(random() * V)), shape: [B, N] as [number, number] };
  const target = { unary: randomTensor([B, N, C], random), transition: randomTensor([B, C, C], random) };
  const partsBytes = (B * N * C + B * C * C) * 8;
  const make = (p: Params): estimators.LatentStructure<Factored, Params> =>
    new HMM(p, observations, { lengths: [12, 7] }) as unknown as estimators.LatentStructure<Factored, Params>;
  const decoder = (t: Factored): estimators.Decoder<Factored> => (z) => ({ loss: scoreOf(z, t, B), gradZ: t });

  test.each(estimatorTable)('$name', ({ name, make: estimator }) => {
    let expected: estimators.EstimatorResult<Factored, Params>;
    try {
      expected = estimator().step(make(params), decoder(target));
    } catch (error) {
      // Blocks the HMM lacks (SparseMAP needs edge potentials; Categorical-only estimators).
      expect((error as Error).name).toBe('TypeError');
      expect(name === 'entmax15' || name === 'exactMarginalization' || name === 'rebar' || sparse.has(name)).toBe(true);
      return;
    }
    const deviceParams = { transition: params.transition.toDevice(), emission: params.emission.toDevice(), init: params.init.toDevice() };
    const deviceTarget = { unary: target.unary.toDevice(), transition: target.transition.toDevice() };
    const structure = make(deviceParams);
    resetCudaTransfers();
    const result = estimator().step(structure, decoder(deviceTarget));
    const { bytes } = moved();
    if (process.env.LATENT_STRUCT_LOG_TRANSFERS === '1') {
      // eslint-disable-next-line no-console
      console.log(`HMM × ${name}: ${bytes} bytes; one parts tensor ${partsBytes}`);
    }
    expect(bytes).toBeLessThan(partsBytes);
    for (const key of ['transition', 'emission', 'init'] as const) {
      const leaf = result.gradScores[key];
      expect(leaf).toBeInstanceOf(DeviceTensor);
      expectClose((leaf as DeviceTensor).toHost().data, (expected.gradScores[key] as Tensor).data, 1e-9, 1e-12);
    }
    structure.dispose?.();
    for (const x of [...Object.values(deviceParams), deviceTarget.unary, deviceTarget.transition]) x.dispose();
  });
});
