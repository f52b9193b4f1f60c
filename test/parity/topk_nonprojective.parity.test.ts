/**
 * CUDA/CPU parity of NonProjectiveDependencyCRF.topk(k) (Lawler's partition over the constrained Chu-Liu-Edmonds,
 * arborescence_kbest.h: serial on one thread of a block per sentence), with a single root and with any number of
 * roots, on random scores in float32 and float64 with mixed lengths (length 1 included), −Infinity masks, integer
 * scores (ties, whose order must agree too) and k past the number of trees (the −Infinity tail): the CPU backend,
 * DeviceTensor scores (device-resident results, sync and async) and `{ device: 'cuda' }` on host scores (host
 * results) give identical heads, scores and parts. Correctness of the CPU results is
 * test/topk_nonprojective.test.ts's job. Sizes stay small: the emulated device runs a fiber per thread.
 */
import { NonProjectiveDependencyCRF, Tensor } from '../../lib';
import { toFloat32 } from '../helpers';
import { gpuDescribe } from './gpu';
import { Top, dtypes, expectSame, modes, scoresOf } from './topk_support';

const describeGpu = gpuDescribe('non-projective topk parity');

const rows = (r: { heads: Int32Array } & Omit<Top, 'decoded'>): Top => ({ decoded: r.heads, score: r.score, parts: r.parts });

describeGpu('CUDA NonProjectiveDependencyCRF.topk matches the CPU backend', () => {
  test.each([true, false].flatMap((singleRoot) => dtypes.flatMap((dtype) => modes.map((mode) => [singleRoot, dtype, mode] as const))))(
    'singleRoot %s, %s, %s',
    async (singleRoot, dtype, mode) => {
      // N = 5, lengths 5, 1, 4: 625 / 1296, 1 and 64 / 125 trees
      const [B, N] = [3, 5];
      const lengths = [5, 1, 4];
      let x: Tensor = scoresOf([B, N, N], 1 + Number(singleRoot), mode, (t) => {
        // keep the chain root → 0 → 1 → … so that every sentence has a tree
        for (let b = 0; b < B; b++) {
          t.data[b * N * N] = 0;
          for (let m = 1; m < N; m++) t.data[(b * N + m - 1) * N + m] = 0;
        }
      });
      if (dtype === 'float32') x = toFloat32(x);
      for (const k of [1, 7, 70, 130]) {
        const cpu = rows(new NonProjectiveDependencyCRF(x, { lengths, singleRoot }).topk(k));
        const resident = x.toDevice();
        const crf = new NonProjectiveDependencyCRF(resident, { lengths, singleRoot });
        expectSame(rows(crf.topk(k)), cpu, true);
        expectSame(rows(await crf.topkAsync(k)), cpu, true);
        resident.dispose();
        const moved = new NonProjectiveDependencyCRF(x, { lengths, singleRoot, device: 'cuda' });
        expectSame(rows(moved.topk(k)), cpu, false);
        moved.dispose();
      }
    },
  );
});
