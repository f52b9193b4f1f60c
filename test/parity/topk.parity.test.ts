/**
 * CUDA/CPU parity of topk(k): Categorical (a thread per row) and the path structures SemiMarkovCRF and AlignmentCRF,
 * global and local (k-best Viterbi, a block per instance and a thread per node of each layer), on random scores
 * in float32 and float64, with mixed lengths, −Infinity masks, integer scores (ties) and k past the number of
 * structures (the −Infinity tail): the CPU backend, DeviceTensor scores (device-resident results) and `{ device:
 * 'cuda' }` on host scores (host results) give identical decoded forms, scores and parts. Correctness of the CPU
 * results is test/topk.test.ts's job. Sizes stay small: the emulated device runs a fiber per thread.
 */
import { AlignmentCRF, AnyTensor, Categorical, SemiMarkovCRF } from '../../lib';
import { toFloat32 } from '../helpers';
import { gpuDescribe } from './gpu';
import { Top, dtypes, expectSame, modes, scoresOf } from './topk_support';

const describeGpu = gpuDescribe('topk parity');

describeGpu('CUDA topk matches the CPU backend', () => {
  test.each(dtypes.flatMap((dtype) => modes.map((mode) => [dtype, mode] as const)))('Categorical, %s, %s', (dtype, mode) => {
    const [B, K] = [4, 6];
    let x = scoresOf([B, K], 1, mode, (t) => {
      for (let b = 0; b < B; b++) t.data[b * K] = 0;
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of [1, 3, K, K + 2]) {
      const cpu = new Categorical(x).topk(k);
      const asTop = (r: { index: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.index, score: r.score, parts: r.parts });
      const resident = x.toDevice();
      expectSame(asTop(new Categorical(resident).topk(k)), asTop(cpu), true);
      resident.dispose();
      const moved = new Categorical(x, { device: 'cuda' });
      expectSame(asTop(moved.topk(k)), asTop(cpu), false);
      moved.dispose();
    }
  });

  test.each(dtypes.flatMap((dtype) => modes.map((mode) => [dtype, mode] as const)))('SemiMarkovCRF, %s, %s', (dtype, mode) => {
    const [B, N, K, C] = [3, 5, 3, 2];
    const lengths = [5, 1, 3];
    const partCount = (N - 1) * K * C * C;
    let x = scoresOf([B, N - 1, K, C, C], 2, mode, (t) => {
      for (let b = 0; b < B; b++) for (let n = 0; n < N - 1; n++) t.data[b * partCount + (n * K + 1) * C * C] = 0;
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of [1, 4, 40, 100]) {
      const asTop = (r: { labels: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.labels, score: r.score, parts: r.parts });
      const cpu = asTop(new SemiMarkovCRF(x, { lengths }).topk(k));
      const resident = x.toDevice();
      expectSame(asTop(new SemiMarkovCRF(resident, { lengths }).topk(k)), cpu, true);
      resident.dispose();
      const moved = new SemiMarkovCRF(x, { lengths, device: 'cuda' });
      expectSame(asTop(moved.topk(k)), cpu, false);
      moved.dispose();
    }
  });

  test.each(
    [false, true].flatMap((local) => dtypes.flatMap((dtype) => modes.map((mode) => [local, dtype, mode] as const))),
  )('AlignmentCRF (local %s), %s, %s', async (local, dtype, mode) => {
    const [B, N, M] = [3, 4, 3];
    const options = { lengths: [4, 2, 1], targetLengths: [3, 3, 2], local };
    let x = scoresOf([B, N, M, 3], 3, mode, (t) => {
      for (let b = 0; b < B; b++) {
        const at = (i: number, j: number, op: number) => ((b * N + i) * M + j) * 3 + op;
        t.data[at(0, 0, 1)] = 0;
        for (let j = 1; j < M; j++) t.data[at(0, j, 0)] = 0;
        for (let i = 1; i < N; i++) t.data[at(i, options.targetLengths[b] - 1, 2)] = 0;
      }
    });
    if (dtype === 'float32') x = toFloat32(x);
    for (const k of [1, 5, 60, 200]) {
      const asTop = (r: { path: Int32Array; score: AnyTensor; parts: AnyTensor }): Top => ({ decoded: r.path, score: r.score, parts: r.parts });
      const cpu = asTop(new AlignmentCRF(x, options).topk(k));
      const resident = x.toDevice();
      const crf = new AlignmentCRF(resident, options);
      expectSame(asTop(crf.topk(k)), cpu, true);
      expectSame(asTop(await crf.topkAsync(k)), cpu, true);
      resident.dispose();
      const moved = new AlignmentCRF(x, { ...options, device: 'cuda' });
      expectSame(asTop(moved.topk(k)), cpu, false);
      moved.dispose();
    }
  });
});
