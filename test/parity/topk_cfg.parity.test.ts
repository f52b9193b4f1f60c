/**
 * CUDA/CPU parity of SentCFG's topk(k) (k-best PCFG parsing, cfg_sweeps.h topk_op: a block per sentence, a thread
 * and a candidate heap per (span, label) item of each width). On random scores in float32 and float64, with mixed
 * lengths, −Infinity masks, integer scores (ties) and k past the number of trees (the −Infinity tail): the CPU
 * backend, DeviceTensor scores (device-resident results, sync and async, packed and as three blocks) and
 * `{ device: 'cuda' }` on host scores (host results) give identical decoded forms, scores and parts. Correctness of
 * the CPU results is test/topk_cfg.test.ts's job. Sizes stay small: the emulated device runs a fiber per thread.
 */
import { AnyTensor, SentCFG } from '../../lib';
import { toFloat32 } from '../helpers';
import { cfgPartCount, rootPart, rulePart, termPart } from '../oracles/sent_cfg';
import { gpuDescribe } from './gpu';
import { Top, dtypes, expectSame, modes, scoresOf } from './topk_support';

const describeGpu = gpuDescribe('topk SentCFG parity');

const asTop = (r: { spans: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.spans, score: r.score, parts: r.parts });

describeGpu('CUDA topk of SentCFG matches the CPU backend', () => {
  test.each(dtypes.flatMap((dtype) => modes.map((mode) => [dtype, mode] as const)))('%s, %s', async (dtype, mode) => {
    const z = { N: 5, NT: 2, T: 3 };
    const S = z.NT + z.T;
    const B = 3;
    const D = cfgPartCount(z);
    const lengths = [5, 2, 4];
    let x = scoresOf([B, D], 17, mode, (t) => {
      // a tree of finite score in every sentence: root 0, preterminal 0, the rules 0 -> {0, NT} {0, NT}
      for (let b = 0; b < B; b++) {
        t.data[b * D + rootPart(z, 0)] = 0;
        for (let i = 0; i < z.N; i++) t.data[b * D + termPart(z, i, 0)] = 0;
        for (const X of [0, z.NT]) for (const Y of [0, z.NT]) t.data[b * D + rulePart(z, 0, X, Y)] = 0;
      }
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of [1, 5, 40, 300]) {
      const cpu = asTop(SentCFG.fromPacked(x, z, { lengths }).topk(k));
      const resident = x.toDevice();
      const cfg = SentCFG.fromPacked(resident, z, { lengths });
      expectSame(asTop(cfg.topk(k)), cpu, true);
      if (k === 5) {
        expectSame(asTop(await cfg.topkAsync(k)), cpu, true);
        const blocks = SentCFG.fromPacked(x, z).unpack(x);
        const onDevice = { terms: blocks.terms.toDevice(), rules: blocks.rules.toDevice(), roots: blocks.roots.toDevice() };
        expect(blocks.rules.shape).toEqual([B, z.NT, S, S]);
        expectSame(asTop(new SentCFG(onDevice, { lengths }).topk(k)), cpu, true);
        for (const t of Object.values(onDevice)) t.dispose();
      }
      resident.dispose();
      const moved = SentCFG.fromPacked(x, z, { lengths, device: 'cuda' });
      expectSame(asTop(moved.topk(k)), cpu, false);
      moved.dispose();
    }
  });
});
