/**
 * CUDA/CPU parity of SentCFG (CKY over a PCFG in Chomsky normal form) on random continuous scores: float32 and
 * float64, N = 2 up to N = 16, mixed lengths in [2, N], −Infinity masks (never enough to leave a sentence without
 * a tree), junk terms past the lengths. Every op is compared three ways: the CPU backend, `{ device: 'cuda' }`
 * on host scores (host results) and DeviceTensor scores — {terms, rules, roots} packed on the device, and
 * fromPacked — (device-resident results, copied to the host to compare). Correctness of the CPU results
 * themselves is test/sent_cfg.test.ts's job. Skips, saying so, when no GPU is usable.
 */
import { AnyTensor, DeviceTensor, SentCFG, Tensor } from '../../lib';
import { native } from '../../lib/native';
import { values } from '../arcs';
import { expectClose, normal, randomTensor, rng, toFloat32 } from '../helpers';
import { CfgScores, CfgSizes, cfgPartCount, packCfg, symbols } from '../oracles/sent_cfg';
import { released } from '../path_suite';
import { gpuDescribe, rowAgreement } from './gpu';

const describeGpu = gpuDescribe('SentCFG parity');

interface Case extends CfgSizes {
  B: number;
}

/**
 * Random scores with −Infinity masks that keep preterminal 0 of every word, root 0 and the rules
 * 0 → {0, NT} {0, NT} (so every sentence has trees of finite score); terms past each length get junk.
 */
function scoresOf(c: Case, lengths: number[], random: () => number): CfgScores {
  const { B, N, NT, T } = c;
  const S = symbols(c);
  const terms = randomTensor([B, N, T], random, 1.5);
  const rules = randomTensor([B, NT, S, S], random, 1.5);
  const roots = randomTensor([B, NT], random, 1.5);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      for (let t = 0; t < T; t++) {
        const at = (b * N + i) * T + t;
        if (i >= lengths[b]) terms.data[at] = random() < 0.3 ? -Infinity : 40 * normal(random);
        else if (t > 0 && random() < 0.15) terms.data[at] = -Infinity;
      }
    }
    for (let A = 1; A < NT; A++) if (random() < 0.15) roots.data[b * NT + A] = -Infinity;
    for (let A = 0; A < NT; A++) {
      for (let X = 0; X < S; X++) {
        for (let Y = 0; Y < S; Y++) {
          const kept = A === 0 && (X === 0 || X === NT) && (Y === 0 || Y === NT);
          if (!kept && random() < 0.15) rules.data[((b * NT + A) * S + X) * S + Y] = -Infinity;
        }
      }
    }
  }
  return { terms, rules, roots };
}

function float32Of(s: CfgScores): CfgScores {
  return { terms: toFloat32(s.terms), rules: toFloat32(s.rules), roots: toFloat32(s.roots) };
}

function onDevice(s: CfgScores): { terms: DeviceTensor; rules: DeviceTensor; roots: DeviceTensor } {
  return { terms: s.terms.toDevice(), rules: s.rules.toDevice(), roots: s.roots.toDevice() };
}

const TOLERANCES = {
  float64: { logZ: [1e-9, 1e-9], marginals: [1e-9, 1e-12], hvp: [1e-8, 1e-10], entropy: [1e-9, 1e-9] },
  float32: { logZ: [1e-4, 1e-4], marginals: [1e-4, 1e-4], hvp: [1e-3, 1e-3], entropy: [1e-4, 1e-3] },
} as const;

describeGpu('CUDA SentCFG matches the CPU backend', () => {
  const random = rng(2027);
  const cases: Case[] = [
    { B: 3, N: 2, NT: 2, T: 3 },
    { B: 5, N: 6, NT: 3, T: 4 },
    { B: 4, N: 9, NT: 1, T: 2 },
    { B: 3, N: 16, NT: 5, T: 7 },
  ];

  // First, before the other tests' garbage can be finalized while it runs.
  test('device memory in use is unchanged after every op once results and structures are disposed', async () => {
    const c = { B: 3, N: 6, NT: 2, T: 3 };
    const lengths = [6, 3, 2];
    const device = onDevice(scoresOf(c, lengths, random));
    const packed = packCfg(scoresOf(c, lengths, random)).toDevice();
    const before = native.cudaMemoryInUse();
    for (const make of [() => new SentCFG(device, { lengths }), () => SentCFG.fromPacked(packed, c, { lengths })]) {
      const cfg = make();
      const other = make();
      const mu = cfg.marginals();
      const results: AnyTensor[] = [mu, cfg.logPartition(), cfg.entropy(), cfg.argmax(), await cfg.marginalsAsync(), cfg.marginalsBackward(mu)];
      const best = cfg.argmaxDecoded();
      const samples = cfg.sampleDecoded(3, { seed: 1 });
      results.push(best.parts, best.score, samples.parts, cfg.logProb(samples.parts), cfg.logProb(best.spans));
      results.push(...Object.values(cfg.unpack(mu)), cfg.perturbAndMap({ seed: 2 }));
      cfg.kl(other);
      cfg.count();
      const { self, other: theirs } = cfg.klBackward(other, [1, 1, 1]);
      results.push(self, theirs);
      results.forEach((t) => (t as DeviceTensor).dispose());
      cfg.dispose();
      other.dispose();
    }
    // A leak grows the memory in use; finalizers of earlier suites' garbage (same worker) may free some meanwhile.
    expect(native.cudaMemoryInUse()).toBeLessThanOrEqual(before);
    [device.terms, device.rules, device.roots, packed].forEach((t) => t.dispose());
  });

  test.each(cases.map((c) => [c.B, c.N, c.NT, c.T, c] as const))('B=%i N=%i NT=%i T=%i', (B, N, _NT, _T, c) => {
    const D = cfgPartCount(c);
    const rows = (2 * N - 1) * 3;
    const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? N : 2 + Math.floor(random() * (N - 1))));
    const s64 = scoresOf(c, lengths, random);
    const g64 = randomTensor([B, D], random);
    for (const dtype of ['float64', 'float32'] as const) {
      const s = dtype === 'float64' ? s64 : float32Of(s64);
      const g = dtype === 'float64' ? g64 : toFloat32(g64);
      const tol = TOLERANCES[dtype];
      const device = onDevice(s);
      const packedDevice = packCfg(s).toDevice();
      const gDevice = g.toDevice();
      const cpu = new SentCFG(s, { lengths, device: 'cpu' });
      const viaHost = new SentCFG(s, { lengths, device: 'cuda' });
      const gpus = [new SentCFG(device, { lengths }), SentCFG.fromPacked(packedDevice, c, { lengths })];
      expect(gpus[0].potentials).toBeInstanceOf(DeviceTensor);
      expect(gpus[0].potentials.shape).toEqual([B, D]);

      /** CPU result vs the GPU placements: host results for host scores, device ones for device scores. */
      const compare = (what: string, f: (cfg: SentCFG, onGpu: boolean) => AnyTensor, [rtol, atol]: readonly number[]) => {
        const expected = f(cpu, false);
        expect(expected).toBeInstanceOf(Tensor);
        const expectedValues = values(expected);
        const a = f(viaHost, false);
        expect(a).toBeInstanceOf(Tensor);
        expect(a.shape).toEqual(expected.shape);
        try {
          expectClose(values(a), expectedValues, rtol, atol);
          for (const gpu of gpus) {
            const d = f(gpu, true);
            expect(d).toBeInstanceOf(DeviceTensor);
            expect(d.shape).toEqual(expected.shape);
            expectClose(values(d), expectedValues, rtol, atol);
          }
        } catch (e) {
          throw new Error(`${what} (${dtype}): ${(e as Error).message}`);
        }
        return expectedValues;
      };

      compare('logPartition', (cfg) => cfg.logPartition(), tol.logZ);
      compare('marginals', (cfg) => cfg.marginals(), tol.marginals);
      compare('marginalsBackward', (cfg, onGpu) => cfg.marginalsBackward(onGpu ? gDevice : g), tol.hvp);
      compare('entropy', (cfg) => cfg.entropy(), tol.entropy);

      // Viterbi: counts equal exactly, the decoded trees equal (continuous random scores: no ties).
      compare('argmax', (cfg) => cfg.argmax(), [0, 0]);
      const best = cpu.argmaxDecoded();
      for (const cfg of [viaHost, ...gpus]) {
        const other = cfg.argmaxDecoded();
        expect(Array.from(other.spans)).toEqual(Array.from(best.spans));
        expect(values(other.parts)).toEqual(values(best.parts));
        expectClose(values(other.score), values(best.score), tol.logZ[0], tol.logZ[1]);
        released(other);
      }
      const bestParts = best.parts as Tensor;
      const bestPartsDevice = bestParts.toDevice();
      compare('logProb(argmax)', (cfg, onGpu) => cfg.logProb(onGpu ? bestPartsDevice : bestParts), tol.logZ);
      bestPartsDevice.dispose();

      // Same seed → the same samples on both backends (float32: up to a rare boundary flip in the last bits
      // of an exp; float64: identical).
      const k = 16;
      const cpuSamples = cpu.sampleDecoded(k, { seed: 9 });
      for (const cfg of [viaHost, ...gpus]) {
        const samples = cfg.sampleDecoded(k, { seed: 9 });
        const agreement = rowAgreement(samples.spans, cpuSamples.spans, rows);
        if (dtype === 'float64') expect(agreement).toBe(1);
        else expect(agreement).toBeGreaterThanOrEqual(0.95);
        expect(samples.parts.shape).toEqual([k, B, D]);
        expect(values(cfg.sample(k, { seed: 9 }))).toEqual(values(samples.parts));
      }
      const sampleParts = cpuSamples.parts as Tensor;
      const samplePartsDevice = sampleParts.toDevice();
      compare('logProb(samples)', (cfg, onGpu) => cfg.logProb(onGpu ? samplePartsDevice : sampleParts), tol.logZ);
      samplePartsDevice.dispose();

      // Perturb-and-MAP: the same noise for a seed on both backends.
      const pm = cpu.perturbAndMapDecoded({ seed: 4 });
      for (const cfg of [viaHost, ...gpus]) expect(Array.from(released(cfg.perturbAndMapDecoded({ seed: 4 })).spans)).toEqual(Array.from(pm.spans));

      // unpack of device counts stays on the device.
      const deviceMarginals = gpus[0].marginals();
      const unpacked = gpus[0].unpack(deviceMarginals);
      (deviceMarginals as DeviceTensor).dispose();
      const cpuUnpacked = cpu.unpack(cpu.marginals());
      for (const key of ['terms', 'rules', 'roots'] as const) {
        expect(unpacked[key]).toBeInstanceOf(DeviceTensor);
        expectClose(values(unpacked[key]), values(cpuUnpacked[key]), tol.marginals[0], tol.marginals[1]);
      }

      // Padding rows of the decoded output are −1 on the GPU too.
      const decoded = released(gpus[0].argmaxDecoded()).spans;
      for (let b = 0; b < B; b++) {
        const n = lengths[b];
        for (let r = 2 * n - 1; r < 2 * N - 1; r++) expect(decoded[(b * (2 * N - 1) + r) * 3]).toBe(-1);
        expect([decoded[b * rows], decoded[b * rows + 1]]).toEqual([0, n - 1]);
      }

      // Divergences and counts.
      expectClose(viaHost.count(), cpu.count(), 1e-12, 1e-12);
      expectClose(gpus[0].kl(gpus[1]), new Float64Array(B), 0, dtype === 'float64' ? 1e-9 : 1e-3);

      [cpu, viaHost, ...gpus].forEach((cfg) => cfg.dispose());
      [device.terms, device.rules, device.roots, packedDevice, gDevice].forEach((t) => t.dispose());
    }
  });

  test('device-resident scores give device-resident results (async twins)', async () => {
    const c = { B: 3, N: 7, NT: 3, T: 4 };
    const lengths = [7, 4, 2];
    const host = scoresOf(c, lengths, random);
    const device = onDevice(host);
    const cfg = new SentCFG(device, { lengths });
    const D = cfgPartCount(c);
    const logZ = await cfg.logPartitionAsync();
    expect(logZ).toBeInstanceOf(DeviceTensor);
    expect(logZ.shape).toEqual([3]);
    const marginals = await cfg.marginalsAsync();
    expect(marginals).toBeInstanceOf(DeviceTensor);
    expect(marginals.shape).toEqual([3, D]);
    const back = await cfg.marginalsBackwardAsync(marginals);
    expect(back).toBeInstanceOf(DeviceTensor);
    expectClose(values(back), values(cfg.marginalsBackward(marginals)), 1e-12, 1e-14);
    const entropy = await cfg.entropyAsync();
    expect(entropy).toBeInstanceOf(DeviceTensor);
    const best = await cfg.argmaxAsync();
    expect(best.score).toBeInstanceOf(DeviceTensor);
    expect(best.parts).toBeInstanceOf(DeviceTensor);
    expect(Array.from(best.spans)).toEqual(Array.from(released(cfg.argmaxDecoded()).spans));
    const samples = await cfg.sampleAsync(4, { seed: 3 });
    expect(samples.parts).toBeInstanceOf(DeviceTensor);
    expect(Array.from(samples.spans)).toEqual(Array.from(released(cfg.sampleDecoded(4, { seed: 3 })).spans));
    const logProb = await cfg.logProbAsync(samples.parts);
    expect(logProb).toBeInstanceOf(DeviceTensor);
    expect(logProb.shape).toEqual([4, 3]);
    values(logProb).forEach((v) => expect(v).toBeLessThanOrEqual(1e-12));
    [logZ, marginals, back, entropy, best.score, best.parts, samples.parts].forEach((t) => (t as DeviceTensor).dispose());
    cfg.dispose();
    [device.terms, device.rules, device.roots].forEach((t) => t.dispose());
  });
});
