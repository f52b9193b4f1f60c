/**
 * CUDA/CPU parity of the path structures — SemiMarkovCRF and AlignmentCRF, global and local — on random continuous
 * scores: float32 and float64, length-1 instances (SemiMarkov: C structures without parts; Alignment: 1 × 1, 1 × m,
 * n × 1), mixed lengths (and target lengths), −Infinity masks (never on one kept structure per instance), junk in
 * the ignored entries. Every op is compared three ways: the CPU backend, `{ device: 'cuda' }` on host scores (host
 * results) and DeviceTensor scores (device-resident results): logPartition, marginals, marginalsBackward, entropy,
 * argmax / argmaxDecoded, sample / sampleDecoded (same seed → same samples), logProb, perturbAndMap(Decoded),
 * perturbedMarginals(Backward), sparsemap and sparsemapBackward, and the async twins on device-resident scores.
 * Correctness of the CPU results themselves is the oracle tests' job (test/semi_markov.test.ts,
 * test/alignment.test.ts). Sizes stay small: the emulated device (`npm run test:emulated`) runs a fiber per thread.
 */
import { AlignmentCRF, AnyTensor, DeviceTensor, SemiMarkovCRF, Tensor } from '../../lib';
import { values } from '../arcs';
import { expectClose, normal, randomTensor, rng, toFloat32 } from '../helpers';
import { alignmentInstance, alignmentKeeper, alignmentUsed } from '../oracles/alignment';
import { semiMarkovInstance, semiMarkovKeeper, semiMarkovUsed } from '../oracles/semi_markov';
import { gpuDescribe, rowAgreement } from './gpu';

const describeGpu = gpuDescribe('path structure (SemiMarkov, Alignment) parity');

interface Decoded {
  labels?: Int32Array;
  path?: Int32Array;
  parts: AnyTensor;
}

type Solution = { marginals: AnyTensor; support: Int32Array[][]; weights: Float64Array[]; converged: boolean[] };

/** The methods compared, over either structure and either placement. */
interface Crf {
  logPartition(): AnyTensor;
  marginals(): AnyTensor;
  marginalsBackward(grad: AnyTensor): AnyTensor;
  entropy(): AnyTensor;
  argmax(): AnyTensor;
  argmaxDecoded(): Decoded & { score: AnyTensor };
  sample(k: number, options: { seed: number }): AnyTensor;
  sampleDecoded(k: number, options: { seed: number }): Decoded;
  logProb(parts: AnyTensor): AnyTensor;
  perturbAndMap(options: { seed: number; temperature?: number }): AnyTensor;
  perturbAndMapDecoded(options: { seed: number; temperature?: number }): Decoded & { score: AnyTensor };
  perturbedMarginals(options: { seed: number; temperature?: number }): AnyTensor;
  perturbedMarginalsBackward(grad: AnyTensor, options: { seed: number; temperature?: number }): AnyTensor;
  sparsemap(): Solution;
  sparsemapBackward(grad: AnyTensor, solution?: Solution): AnyTensor;
  dispose(): void;
}

type Kind = 'semi-Markov' | 'alignment' | 'alignment (local)';

interface Case {
  kind: Kind;
  B: number;
  /** SemiMarkov: [N, K, C]; Alignment: [N, M]. */
  dims: number[];
}

/** Per instance: [l] or [n, m]; instance 0 full, then the length-1 corner cases, then random. */
function lensOf(c: Case, random: () => number): number[][] {
  if (c.kind === 'semi-Markov') {
    const [N] = c.dims;
    return Array.from({ length: c.B }, (_, b) => [b === 0 ? N : b === 1 ? 1 : 1 + Math.floor(random() * N)]);
  }
  const [N, M] = c.dims;
  const ones = [
    [1, 1],
    [1, M],
    [N, 1],
  ];
  return Array.from({ length: c.B }, (_, b) =>
    b === 0 ? [N, M] : b - 1 < ones.length ? ones[b - 1] : [1 + Math.floor(random() * N), 1 + Math.floor(random() * M)],
  );
}

function shapeOf(c: Case): number[] {
  const { B, dims } = c;
  return c.kind === 'semi-Markov' ? [B, dims[0] - 1, dims[1], dims[2], dims[2]] : [B, dims[0], dims[1], 3];
}

function build(c: Case, p: AnyTensor, lens: number[][], device?: 'cpu' | 'cuda'): Crf {
  if (c.kind === 'semi-Markov') return new SemiMarkovCRF(p, { lengths: lens.map((l) => l[0]), device });
  return new AlignmentCRF(p, { lengths: lens.map((l) => l[0]), targetLengths: lens.map((l) => l[1]), local: c.kind !== 'alignment', device });
}

/** Whether part q of instance b is used, and the parts masks keep. */
function instanceOf(c: Case, p: Tensor, b: number, lens: number[][]): { used: (q: number) => boolean; keeper: number[] } {
  if (c.kind === 'semi-Markov') {
    const x = semiMarkovInstance(p, b, lens.map((l) => l[0]));
    return { used: (q) => semiMarkovUsed(x, q), keeper: semiMarkovKeeper(x) };
  }
  const x = alignmentInstance(p, b, { lengths: lens.map((l) => l[0]), targetLengths: lens.map((l) => l[1]), local: c.kind !== 'alignment' });
  return { used: (q) => alignmentUsed(x, q), keeper: alignmentKeeper(x) };
}

/** Random scores with −Infinity masks (15%) off the kept structure, junk (±40·N(0, 1), −Infinity) where unused. */
function potentialsOf(c: Case, lens: number[][], random: () => number): Tensor {
  const p = randomTensor(shapeOf(c), random, 1.5);
  const block = p.size / c.B;
  for (let b = 0; b < c.B; b++) {
    const { used, keeper } = instanceOf(c, p, b, lens);
    const kept = new Set(keeper);
    for (let q = 0; q < block; q++) {
      const at = b * block + q;
      if (!used(q)) p.data[at] = random() < 0.3 ? -Infinity : 40 * normal(random);
      else if (!kept.has(q) && random() < 0.15) p.data[at] = -Infinity;
    }
  }
  return p;
}

function decodedOf(d: { labels?: Int32Array; path?: Int32Array }): Int32Array {
  const rows = d.labels ?? d.path;
  if (rows === undefined) throw new Error('decoded result has neither labels nor path');
  return rows;
}

function rowWidth(c: Case): number {
  return c.kind === 'semi-Markov' ? c.dims[0] : (c.dims[0] + c.dims[1] - 1) * 3;
}

/** Frees the device tensors of a result, keeping its host index arrays. */
function released<D extends { parts: AnyTensor; score?: AnyTensor }>(d: D): D {
  for (const t of [d.parts, d.score]) if (t instanceof DeviceTensor) t.dispose();
  return d;
}

const TOLERANCES = {
  float64: { logZ: [1e-9, 1e-9], marginals: [1e-9, 1e-12], hvp: [1e-8, 1e-10], entropy: [1e-9, 1e-9], sparsemap: [0, 1e-7] },
  float32: { logZ: [1e-4, 1e-4], marginals: [1e-4, 1e-4], hvp: [1e-3, 1e-3], entropy: [1e-4, 1e-3], sparsemap: [0, 1e-3] },
} as const;

describeGpu('CUDA SemiMarkovCRF and AlignmentCRF match the CPU backend', () => {
  const random = rng(2025);
  const cases: Case[] = [
    { kind: 'semi-Markov', B: 3, dims: [2, 2, 1] },
    { kind: 'semi-Markov', B: 4, dims: [6, 3, 3] },
    { kind: 'semi-Markov', B: 3, dims: [11, 4, 2] },
    { kind: 'semi-Markov', B: 3, dims: [30, 6, 3] },
    { kind: 'alignment', B: 2, dims: [1, 1] },
    { kind: 'alignment', B: 5, dims: [4, 6] },
    { kind: 'alignment', B: 4, dims: [7, 3] },
    { kind: 'alignment', B: 3, dims: [16, 21] },
    { kind: 'alignment (local)', B: 5, dims: [4, 5] },
    { kind: 'alignment (local)', B: 4, dims: [6, 2] },
    { kind: 'alignment (local)', B: 3, dims: [13, 9] },
  ];

  test.each(cases.map((c) => [c.kind, c.B, c.dims.join('×'), c] as const))('%s B=%i dims=%s', (_kind, _B, _dims, c) => {
    const lens = lensOf(c, random);
    const p64 = potentialsOf(c, lens, random);
    const g64 = randomTensor([...p64.shape], random);
    const width = rowWidth(c);
    for (const dtype of ['float64', 'float32'] as const) {
      const p = dtype === 'float64' ? p64 : toFloat32(p64);
      const g = dtype === 'float64' ? g64 : toFloat32(g64);
      const tol = TOLERANCES[dtype];
      const device = p.toDevice();
      const gDevice = g.toDevice();
      const cpu = build(c, p, lens, 'cpu');
      const viaHost = build(c, p, lens, 'cuda');
      const onDevice = build(c, device, lens);

      /** CPU result vs the two GPU placements: host results for host scores, device ones for device scores. */
      const compare = (what: string, f: (crf: Crf, onGpu: boolean) => AnyTensor, [rtol, atol]: readonly number[]) => {
        const expected = f(cpu, false);
        expect(expected).toBeInstanceOf(Tensor);
        const expectedValues = values(expected);
        const a = f(viaHost, false);
        expect(a).toBeInstanceOf(Tensor);
        expect(a.shape).toEqual(expected.shape);
        const d = f(onDevice, true);
        expect(d).toBeInstanceOf(DeviceTensor);
        expect(d.shape).toEqual(expected.shape);
        try {
          expectClose(values(a), expectedValues, rtol, atol);
          expectClose(values(d), expectedValues, rtol, atol);
        } catch (e) {
          throw new Error(`${what} (${dtype}): ${(e as Error).message}`);
        }
        return expectedValues;
      };

      compare('logPartition', (crf) => crf.logPartition(), tol.logZ);
      compare('marginals', (crf) => crf.marginals(), tol.marginals);
      compare('marginalsBackward', (crf, onGpu) => crf.marginalsBackward(onGpu ? gDevice : g), tol.hvp);
      compare('entropy', (crf) => crf.entropy(), tol.entropy);

      // MAP: one-hot parts equal exactly; the decoded forms equal (continuous random scores: no ties).
      compare('argmax', (crf) => crf.argmax(), [0, 0]);
      const best = cpu.argmaxDecoded();
      for (const crf of [viaHost, onDevice]) {
        const other = crf.argmaxDecoded();
        expect(decodedOf(other)).toEqual(decodedOf(best));
        expect(values(other.parts)).toEqual(values(best.parts));
        expectClose(values(other.score), values(best.score), tol.logZ[0], tol.logZ[1]);
      }
      const bestParts = best.parts as Tensor;
      const bestPartsDevice = bestParts.toDevice();
      compare('logProb(argmax)', (crf, onGpu) => crf.logProb(onGpu ? bestPartsDevice : bestParts), tol.logZ);
      bestPartsDevice.dispose();

      // Same seed → the same samples on both backends (float32: up to a rare boundary flip; float64: identical).
      const k = 16;
      const cpuSamples = cpu.sampleDecoded(k, { seed: 9 });
      for (const crf of [viaHost, onDevice]) {
        const samples = crf.sampleDecoded(k, { seed: 9 });
        const agreement = rowAgreement(decodedOf(samples), decodedOf(cpuSamples), width);
        if (dtype === 'float64') expect(agreement).toBe(1);
        else expect(agreement).toBeGreaterThanOrEqual(0.9);
        expect(samples.parts.shape).toEqual([k, ...p.shape]);
        expect(values(crf.sample(k, { seed: 9 }))).toEqual(values(samples.parts));
      }
      const sampleParts = cpuSamples.parts as Tensor;
      const samplePartsDevice = sampleParts.toDevice();
      compare('logProb(samples)', (crf, onGpu) => crf.logProb(onGpu ? samplePartsDevice : sampleParts), tol.logZ);
      samplePartsDevice.dispose();

      // Perturbations: the same Gumbel noise on both backends.
      const options = { seed: 17, temperature: 0.7 };
      const cpuPerturbed = cpu.perturbAndMapDecoded(options);
      for (const crf of [viaHost, onDevice]) {
        const other = released(crf.perturbAndMapDecoded(options));
        expect(decodedOf(other)).toEqual(decodedOf(cpuPerturbed));
      }
      compare('perturbAndMap', (crf) => crf.perturbAndMap(options), [0, 0]);
      compare('perturbedMarginals', (crf) => crf.perturbedMarginals(options), tol.marginals);
      compare('perturbedMarginalsBackward', (crf, onGpu) => crf.perturbedMarginalsBackward(onGpu ? gDevice : g, options), tol.hvp);

      // SparseMAP: μ close, the same supports (float64), the backward on each backend's own solution.
      const cpuSolution = cpu.sparsemap();
      for (const crf of [viaHost, onDevice]) {
        const sol = crf.sparsemap();
        if (dtype === 'float64') expect(sol.converged).toEqual(cpuSolution.converged);
        try {
          expectClose(values(sol.marginals), values(cpuSolution.marginals), tol.sparsemap[0], tol.sparsemap[1]);
        } catch (e) {
          throw new Error(`sparsemap (${dtype}): ${(e as Error).message}`);
        }
        if (dtype === 'float64') {
          const key = (s: Solution) => s.support.map((list) => list.map((d) => Array.from(d).join(',')).sort());
          expect(key(sol)).toEqual(key(cpuSolution));
        }
      }
      if (dtype === 'float64') {
        compare('sparsemapBackward', (crf, onGpu) => crf.sparsemapBackward(onGpu ? gDevice : g, crf.sparsemap()), [1e-7, 1e-9]);
      }

      // Padding of the decoded output is −1 on the GPU too.
      const decoded = decodedOf(released(onDevice.argmaxDecoded()));
      for (let b = 0; b < c.B; b++) {
        const r = Array.from(decoded.subarray(b * width, (b + 1) * width));
        if (c.kind === 'semi-Markov') {
          const l = lens[b][0];
          expect(r.slice(l)).toEqual(new Array(width - l).fill(-1));
          expect(r[0]).toBeGreaterThanOrEqual(0);
          expect(r[l - 1]).toBeGreaterThanOrEqual(0);
        } else {
          const rows = r.findIndex((v, e) => e % 3 === 0 && v === -1);
          const used = rows < 0 ? width : rows;
          expect(r.slice(used)).toEqual(new Array(width - used).fill(-1));
          if (c.kind === 'alignment') expect(r.slice(used - 3, used - 1)).toEqual([lens[b][0] - 1, lens[b][1] - 1]);
        }
      }

      [cpu, viaHost, onDevice].forEach((crf) => crf.dispose());
      [device, gDevice].forEach((t) => t.dispose());
    }
  });

  test('device-resident scores give device-resident results (async twins)', async () => {
    const semi = new SemiMarkovCRF(randomTensor([3, 5, 3, 2, 2], random).toDevice(), { lengths: [6, 3, 1] });
    const global = new AlignmentCRF(randomTensor([3, 4, 5, 3], random).toDevice(), { lengths: [4, 2, 1], targetLengths: [5, 1, 3] });
    const local = new AlignmentCRF(randomTensor([3, 4, 5, 3], random).toDevice(), { lengths: [4, 2, 1], targetLengths: [5, 1, 3], local: true });
    for (const crf of [semi, global, local]) {
      const structure = crf as unknown as Crf & {
        potentials: AnyTensor;
        logPartitionAsync(): Promise<AnyTensor>;
        marginalsAsync(): Promise<AnyTensor>;
        marginalsBackwardAsync(g: AnyTensor): Promise<AnyTensor>;
        entropyAsync(): Promise<AnyTensor>;
        argmaxAsync(): Promise<Decoded & { score: AnyTensor }>;
        sampleAsync(k: number, options: { seed: number }): Promise<Decoded>;
        logProbAsync(parts: AnyTensor): Promise<AnyTensor>;
        perturbAndMapAsync(options: { seed: number }): Promise<Decoded & { score: AnyTensor }>;
        perturbedMarginalsAsync(options: { seed: number }): Promise<AnyTensor>;
        sparsemapAsync(): Promise<Solution>;
        sparsemapBackwardAsync(g: AnyTensor, s?: Solution): Promise<AnyTensor>;
      };
      const shape = structure.potentials.shape;
      const logZ = await structure.logPartitionAsync();
      expect(logZ).toBeInstanceOf(DeviceTensor);
      expect(logZ.shape).toEqual([3]);
      const marginals = await structure.marginalsAsync();
      expect(marginals).toBeInstanceOf(DeviceTensor);
      expect(marginals.shape).toEqual(shape);
      const back = await structure.marginalsBackwardAsync(marginals);
      expect(back).toBeInstanceOf(DeviceTensor);
      expectClose(values(back), values(structure.marginalsBackward(marginals)), 1e-12, 1e-14);
      const entropy = await structure.entropyAsync();
      expect(entropy).toBeInstanceOf(DeviceTensor);
      const best = await structure.argmaxAsync();
      expect(best.score).toBeInstanceOf(DeviceTensor);
      expect(best.parts).toBeInstanceOf(DeviceTensor);
      expect(decodedOf(best)).toEqual(decodedOf(released(structure.argmaxDecoded())));
      const samples = await structure.sampleAsync(4, { seed: 3 });
      expect(samples.parts).toBeInstanceOf(DeviceTensor);
      expect(decodedOf(samples)).toEqual(decodedOf(released(structure.sampleDecoded(4, { seed: 3 }))));
      const logProb = await structure.logProbAsync(samples.parts);
      expect(logProb).toBeInstanceOf(DeviceTensor);
      expect(logProb.shape).toEqual([4, 3]);
      values(logProb).forEach((v) => expect(v).toBeLessThanOrEqual(1e-12));
      const perturbed = await structure.perturbAndMapAsync({ seed: 5 });
      expect(perturbed.parts).toBeInstanceOf(DeviceTensor);
      expect(decodedOf(perturbed)).toEqual(decodedOf(released(structure.perturbAndMapDecoded({ seed: 5 }))));
      const relaxed = await structure.perturbedMarginalsAsync({ seed: 5 });
      expect(relaxed).toBeInstanceOf(DeviceTensor);
      const sol = await structure.sparsemapAsync();
      expect(sol.marginals).toBeInstanceOf(DeviceTensor);
      const sb = await structure.sparsemapBackwardAsync(marginals, sol);
      expect(sb).toBeInstanceOf(DeviceTensor);
      expectClose(values(sb), values(structure.sparsemapBackward(marginals, sol)), 1e-12, 1e-14);
      [logZ, marginals, entropy, best.score, best.parts, samples.parts, perturbed.parts, perturbed.score, relaxed, sol.marginals].forEach((t) =>
        (t as DeviceTensor).dispose(),
      );
      (structure.potentials as DeviceTensor).dispose();
      crf.dispose();
    }
  });
});
