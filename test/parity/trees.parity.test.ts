/**
 * CUDA/CPU parity of the tree kernels — TreeCRF (CKY, unlabelled and labelled), DependencyCRF (Eisner) and
 * NonProjectiveDependencyCRF (Matrix-Tree), single root and any number of roots — on random continuous scores: float32 and float64, N = 1, small N
 * and N around 40-70, mixed lengths, −Infinity masks (never enough to leave a sentence without a tree),
 * junk in the ignored entries. Every quantity is compared three ways: the CPU backend, `{ device: 'cuda' }`
 * on host potentials (host results) and DeviceTensor potentials (device-resident results, copied to the
 * host to compare). Correctness of the CPU results themselves is the oracle tests' job. Skips, saying so,
 * when no GPU is usable.
 */
import { AnyTensor, DependencyCRF, DeviceTensor, NonProjectiveDependencyCRF, Tensor, TreeCRF } from '../../lib';
import { values } from '../arcs';
import { expectClose, normal, randomTensor, rng, toFloat32 } from '../helpers';
import { gpuDescribe, rowAgreement } from './gpu';

const describeGpu = gpuDescribe('tree (CKY, Eisner) parity');

/** The decoded form both structures share (spans for TreeCRF, heads for DependencyCRF). */
interface Decoded {
  spans?: Int32Array;
  heads?: Int32Array;
  parts: AnyTensor;
}

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
  dispose(): void;
}

type Kind = 'tree' | 'labelled' | 'dependency' | 'dependency (any roots)' | 'nonprojective' | 'nonprojective (any roots)';

interface Case {
  kind: Kind;
  B: number;
  N: number;
  /** Labels (labelled trees only). */
  L: number;
}

/** Frees the device tensors of a decoded result, keeping its host index arrays. */
function released<D extends Decoded & { score?: AnyTensor }>(d: D): D {
  for (const t of [d.parts, d.score]) if (t instanceof DeviceTensor) t.dispose();
  return d;
}

function build(c: Case, p: AnyTensor, lengths: number[], device?: 'cpu' | 'cuda'): Crf {
  if (c.kind === 'tree' || c.kind === 'labelled') return new TreeCRF(p, { lengths, device });
  if (c.kind.startsWith('nonprojective')) return new NonProjectiveDependencyCRF(p, { lengths, device, singleRoot: c.kind === 'nonprojective' });
  return new DependencyCRF(p, { lengths, device, singleRoot: c.kind === 'dependency' });
}

function decodedOf(d: Decoded): Int32Array {
  const rows = d.spans ?? d.heads;
  if (rows === undefined) throw new Error('decoded result has neither spans nor heads');
  return rows;
}

/** Ints per (sample, sentence) row of the decoded output. */
function rowWidth(c: Case): number {
  return c.kind === 'tree' || c.kind === 'labelled' ? (2 * c.N - 1) * 3 : c.N;
}

/**
 * Random scores with −Infinity masks that always leave a tree of finite score: CKY keeps every width-1
 * span and every span ending at len−1 (the right-branching tree; label 0 of each of them when labelled);
 * Eisner keeps root → 0 and m−1 → m (the chain tree, single-rooted). The ignored entries (i > j, or past
 * the length) get large values and −Infinity, which must change nothing.
 */
function potentialsOf(c: Case, lengths: number[], random: () => number): Tensor {
  const { B, N, L } = c;
  const labelled = c.kind === 'labelled';
  const p = randomTensor(labelled ? [B, N, N, L] : [B, N, N], random, 1.5);
  const d = p.data;
  const per = labelled ? L : 1;
  for (let b = 0; b < B; b++) {
    const len = lengths[b];
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const at = ((b * N + i) * N + j) * per;
        const ignored = c.kind === 'tree' || c.kind === 'labelled' ? i > j || j >= len : i >= len || j >= len;
        if (ignored) {
          for (let l = 0; l < per; l++) d[at + l] = random() < 0.3 ? -Infinity : 40 * normal(random);
          continue;
        }
        const kept = c.kind === 'tree' || c.kind === 'labelled' ? i === j || j === len - 1 : (i === 0 && j === 0) || i === j - 1;
        if (!kept && random() < 0.15) {
          for (let l = 0; l < per; l++) d[at + l] = -Infinity;
        } else if (labelled) {
          for (let l = 1; l < per; l++) if (random() < 0.2) d[at + l] = -Infinity;
        }
      }
    }
  }
  return p;
}

/** A random finite gradient over the parts, same shape and dtype as the potentials. */
function gradOf(p: Tensor, random: () => number): Tensor {
  const g = randomTensor([...p.shape], random);
  return p.dtype === 'float32' ? toFloat32(g) : g;
}

const TOLERANCES = {
  float64: { logZ: [1e-9, 1e-9], marginals: [1e-9, 1e-12], hvp: [1e-8, 1e-10], entropy: [1e-9, 1e-9] },
  float32: { logZ: [1e-4, 1e-4], marginals: [1e-4, 1e-4], hvp: [1e-3, 1e-3], entropy: [1e-4, 1e-3] },
} as const;

describeGpu('CUDA TreeCRF and DependencyCRF match the CPU backend', () => {
  const random = rng(2024);
  const cases: Case[] = [
    { kind: 'tree', B: 3, N: 1, L: 1 },
    { kind: 'tree', B: 6, N: 2, L: 1 },
    { kind: 'tree', B: 5, N: 7, L: 1 },
    { kind: 'tree', B: 4, N: 40, L: 1 },
    { kind: 'tree', B: 3, N: 64, L: 1 },
    { kind: 'labelled', B: 3, N: 1, L: 3 },
    { kind: 'labelled', B: 5, N: 6, L: 4 },
    { kind: 'labelled', B: 3, N: 45, L: 5 },
    { kind: 'dependency', B: 3, N: 1, L: 1 },
    { kind: 'dependency', B: 6, N: 2, L: 1 },
    { kind: 'dependency', B: 5, N: 8, L: 1 },
    { kind: 'dependency', B: 4, N: 41, L: 1 },
    { kind: 'dependency', B: 3, N: 70, L: 1 },
    { kind: 'dependency (any roots)', B: 3, N: 1, L: 1 },
    { kind: 'dependency (any roots)', B: 5, N: 8, L: 1 },
    { kind: 'dependency (any roots)', B: 3, N: 64, L: 1 },
    { kind: 'nonprojective', B: 3, N: 1, L: 1 },
    { kind: 'nonprojective', B: 6, N: 2, L: 1 },
    { kind: 'nonprojective', B: 5, N: 8, L: 1 },
    { kind: 'nonprojective', B: 3, N: 37, L: 1 },
    { kind: 'nonprojective (any roots)', B: 5, N: 8, L: 1 },
    { kind: 'nonprojective (any roots)', B: 3, N: 30, L: 1 },
  ];

  test.each(cases.map((c) => [c.kind, c.B, c.N, c.L, c] as const))('%s B=%i N=%i L=%i', (_kind, _B, _N, _L, c) => {
    const { B, N } = c;
    // Mixed lengths: the first sentence full, the last of length 1 (when B > 2), the rest random.
    const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? N : b === B - 1 && B > 2 ? 1 : 1 + Math.floor(random() * N)));
    const p64 = potentialsOf(c, lengths, random);
    const g64 = gradOf(p64, random);
    for (const dtype of ['float64', 'float32'] as const) {
      const p = dtype === 'float64' ? p64 : toFloat32(p64);
      const g = dtype === 'float64' ? g64 : toFloat32(g64);
      const tol = TOLERANCES[dtype];
      const device = p.toDevice();
      const gDevice = g.toDevice();
      const cpu = build(c, p, lengths, 'cpu');
      const viaHost = build(c, p, lengths, 'cuda');
      const onDevice = build(c, device, lengths);

      /** CPU result vs the two GPU placements: host results for host potentials, device ones for device. */
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

      // MAP: one-hot parts equal exactly; the decoded trees equal (continuous random scores: no ties).
      compare('argmax', (crf) => crf.argmax(), [0, 0]);
      const best = cpu.argmaxDecoded();
      for (const crf of [viaHost, onDevice]) {
        const other = crf.argmaxDecoded();
        expect(decodedOf(other)).toEqual(decodedOf(best));
        expect(values(other.parts)).toEqual(values(best.parts));
        expectClose(values(other.score), values(best.score), tol.logZ[0], tol.logZ[1]);
      }
      // logProb of the MAP parts, host parts for host potentials, device parts for device ones.
      const bestParts = best.parts as Tensor;
      const bestPartsDevice = bestParts.toDevice();
      compare('logProb(argmax)', (crf, onGpu) => crf.logProb(onGpu ? bestPartsDevice : bestParts), tol.logZ);
      bestPartsDevice.dispose();

      // Same seed → the same samples on both backends (float32: up to a rare boundary flip in the last bits
      // of an exp; float64: identical).
      const k = 16;
      const cpuSamples = cpu.sampleDecoded(k, { seed: 9 });
      const width = rowWidth(c);
      for (const crf of [viaHost, onDevice]) {
        const samples = crf.sampleDecoded(k, { seed: 9 });
        const agreement = rowAgreement(decodedOf(samples), decodedOf(cpuSamples), width);
        if (dtype === 'float64') expect(agreement).toBe(1);
        else expect(agreement).toBeGreaterThanOrEqual(0.95);
        expect(samples.parts.shape).toEqual([k, ...p.shape]);
        // sample(k) is the parts of sampleDecoded(k) with the same seed, on the same backend.
        const parts = values(crf.sample(k, { seed: 9 }));
        expect(parts).toEqual(values(samples.parts));
      }
      // logProb of a batch of samples [S, ...shape] → [S, B].
      const sampleParts = cpuSamples.parts as Tensor;
      const samplePartsDevice = sampleParts.toDevice();
      compare('logProb(samples)', (crf, onGpu) => crf.logProb(onGpu ? samplePartsDevice : sampleParts), tol.logZ);
      samplePartsDevice.dispose();

      // Padding rows of the decoded output are −1 on the GPU too.
      const decoded = decodedOf(released(onDevice.argmaxDecoded()));
      for (let b = 0; b < B; b++) {
        const len = lengths[b];
        if (c.kind === 'tree' || c.kind === 'labelled') {
          const rows = 2 * N - 1;
          for (let r = 2 * len - 1; r < rows; r++) expect(decoded[(b * rows + r) * 3]).toBe(-1);
          expect([decoded[b * rows * 3], decoded[b * rows * 3 + 1]]).toEqual([0, len - 1]);
        } else {
          for (let m = len; m < N; m++) expect(decoded[b * N + m]).toBe(-1);
        }
      }

      [cpu, viaHost, onDevice].forEach((crf) => crf.dispose());
      [device, gDevice].forEach((t) => t.dispose());
    }
  });

  test('device-resident potentials give device-resident results (async twins)', async () => {
    const spans = randomTensor([3, 9, 9], random).toDevice();
    const arcs = randomTensor([3, 9, 9], random).toDevice();
    const tree = new TreeCRF(spans, { lengths: [9, 4, 1] });
    const dependency = new DependencyCRF(arcs, { lengths: [9, 4, 1] });
    for (const crf of [tree, dependency] as Crf[]) {
      const structure = crf as unknown as {
        logPartitionAsync(): Promise<AnyTensor>;
        marginalsAsync(): Promise<AnyTensor>;
        marginalsBackwardAsync(g: AnyTensor): Promise<AnyTensor>;
        entropyAsync(): Promise<AnyTensor>;
        argmaxAsync(): Promise<Decoded & { score: AnyTensor }>;
        sampleAsync(k: number, options: { seed: number }): Promise<Decoded>;
        logProbAsync(parts: AnyTensor): Promise<AnyTensor>;
      };
      const logZ = await structure.logPartitionAsync();
      expect(logZ).toBeInstanceOf(DeviceTensor);
      expect(logZ.shape).toEqual([3]);
      const marginals = await structure.marginalsAsync();
      expect(marginals).toBeInstanceOf(DeviceTensor);
      expect(marginals.shape).toEqual([3, 9, 9]);
      const back = await structure.marginalsBackwardAsync(marginals);
      expect(back).toBeInstanceOf(DeviceTensor);
      expect(back.shape).toEqual([3, 9, 9]);
      expectClose(values(back), values(crf.marginalsBackward(marginals)), 1e-12, 1e-14);
      const entropy = await structure.entropyAsync();
      expect(entropy).toBeInstanceOf(DeviceTensor);
      const best = await structure.argmaxAsync();
      expect(best.score).toBeInstanceOf(DeviceTensor);
      expect(best.parts).toBeInstanceOf(DeviceTensor);
      expect(decodedOf(best)).toEqual(decodedOf(released(crf.argmaxDecoded())));
      const samples = await structure.sampleAsync(4, { seed: 3 });
      expect(samples.parts).toBeInstanceOf(DeviceTensor);
      expect(decodedOf(samples)).toEqual(decodedOf(released(crf.sampleDecoded(4, { seed: 3 }))));
      const logProb = await structure.logProbAsync(samples.parts);
      expect(logProb).toBeInstanceOf(DeviceTensor);
      expect(logProb.shape).toEqual([4, 3]);
      // Probabilities of trees: log p ≤ 0.
      values(logProb).forEach((v) => expect(v).toBeLessThanOrEqual(1e-12));
      [logZ, marginals, entropy, best.score, best.parts, samples.parts].forEach((t) => (t as DeviceTensor).dispose());
      crf.dispose();
    }
    spans.dispose();
    arcs.dispose();
  });
});
