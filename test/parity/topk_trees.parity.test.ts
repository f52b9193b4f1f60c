/**
 * CUDA/CPU parity of topk(k) for TreeCRF (k-best CKY, labelled and unlabelled) and DependencyCRF (k-best Eisner,
 * single-root and not): a block per sentence, a thread per chart item of each width (hypergraph_kbest.h). On random
 * scores in float32 and float64, with mixed lengths (length 1 included), −Infinity masks, integer scores (ties) and
 * k past the number of trees (the −Infinity tail): the CPU backend, DeviceTensor scores (device-resident results,
 * sync and async) and `{ device: 'cuda' }` on host scores (host results) give identical decoded forms, scores and
 * parts. Correctness of the CPU results is test/topk_trees.test.ts's job. Sizes stay small: the emulated device runs
 * a fiber per thread.
 */
import { AnyTensor, DependencyCRF, TreeCRF } from '../../lib';
import { toFloat32 } from '../helpers';
import { gpuDescribe } from './gpu';
import { Top, dtypes, expectSame, modes, scoresOf } from './topk_support';

const describeGpu = gpuDescribe('topk trees parity');

const ks = [1, 5, 40, 130];

describeGpu('CUDA topk of trees matches the CPU backend', () => {
  test.each(
    [1, 3].flatMap((L) => dtypes.flatMap((dtype) => modes.map((mode) => [L, dtype, mode] as const))),
  )('TreeCRF (L = %s), %s, %s', async (L, dtype, mode) => {
    const [B, N] = [3, 5];
    const lengths = [5, 1, 4];
    const shape = L === 1 ? [B, N, N] : [B, N, N, L];
    let x = scoresOf(shape, 7 + L, mode, (t) => {
      // the left-branching tree with label 0: spans (0, j) and (j, j)
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < N; j++) {
          t.data[((b * N + 0) * N + j) * L] = 0;
          t.data[((b * N + j) * N + j) * L] = 0;
        }
      }
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of ks) {
      const asTop = (r: { spans: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.spans, score: r.score, parts: r.parts });
      const cpu = asTop(new TreeCRF(x, { lengths }).topk(k));
      const resident = x.toDevice();
      const crf = new TreeCRF(resident, { lengths });
      expectSame(asTop(crf.topk(k)), cpu, true);
      if (k === 5) expectSame(asTop(await crf.topkAsync(k)), cpu, true);
      resident.dispose();
      const moved = new TreeCRF(x, { lengths, device: 'cuda' });
      expectSame(asTop(moved.topk(k)), cpu, false);
      moved.dispose();
    }
  });

  test.each(
    [true, false].flatMap((singleRoot) => dtypes.flatMap((dtype) => modes.map((mode) => [singleRoot, dtype, mode] as const))),
  )('DependencyCRF (singleRoot %s), %s, %s', async (singleRoot, dtype, mode) => {
    const [B, N] = [3, 5];
    const options = { lengths: [5, 1, 3], singleRoot };
    let x = scoresOf([B, N, N], singleRoot ? 11 : 12, mode, (t) => {
      // the chain root -> 0 -> 1 -> ...
      for (let b = 0; b < B; b++) {
        t.data[b * N * N] = 0;
        for (let m = 1; m < N; m++) t.data[(b * N + m - 1) * N + m] = 0;
      }
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of ks) {
      const asTop = (r: { heads: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.heads, score: r.score, parts: r.parts });
      const cpu = asTop(new DependencyCRF(x, options).topk(k));
      const resident = x.toDevice();
      const crf = new DependencyCRF(resident, options);
      expectSame(asTop(crf.topk(k)), cpu, true);
      if (k === 5) expectSame(asTop(await crf.topkAsync(k)), cpu, true);
      resident.dispose();
      const moved = new DependencyCRF(x, { ...options, device: 'cuda' });
      expectSame(asTop(moved.topk(k)), cpu, false);
      moved.dispose();
    }
  });
});
