import { tensor, AlignmentCRF, estimators } from 'latent-struct';

// Two pairs of series to align. scores[b, i, j, op] scores entering cell (i, j) by op 0 from (i, j−1), 1 from
// (i−1, j−1) or 2 from (i−1, j): here 1 − |x_i − y_j|, minus 1.5 for ops 0 and 2 (a position used twice)
const x = [[1, 2, 3, 4], [7, 1, 5, 0]];
const y = [[1, 1, 2, 4, 4], [5, 5, 1, 5, 9]];
const [B, N, M] = [2, 4, 5];
const scores = tensor(Float64Array.from({ length: B * N * M * 3 }, (_, q) => {
  const [b, i, j, op] = [Math.floor(q / (N * M * 3)), Math.floor(q / (M * 3)) % N, Math.floor(q / 3) % M, q % 3];
  return 1 - Math.abs(x[b][i] - y[b][j]) - (op === 1 ? 0 : 1.5);
}), [B, N, M, 3]);
// the aligned pairs "i-j" of instance b in decoded paths [..., B, N+M−1, 3]: rows (i, j, op), then rows of −1
function pairs(path: Int32Array, b: number): string {
  const rows = path.subarray(b * (N + M - 1) * 3, (b + 1) * (N + M - 1) * 3);
  const found: string[] = [];
  for (let r = 0; r < rows.length && rows[r] >= 0; r += 3) found.push(`${rows[r]}-${rows[r + 1]}`);
  return found.join(' ');
}

const align = new AlignmentCRF(scores, { lengths: [4, 4], targetLengths: [5, 4] });   // paths (0, 0) → (n−1, m−1)
const { path, score } = align.argmaxDecoded();             // path rows (i, j, op) [B, N+M−1, 3], score [B]
const sample = align.sampleDecoded(1, { seed: 1 }).path;   // [1, B, N+M−1, 3]
const mu = align.marginals();                              // [B, N, M, 3]: P(the path enters (i, j) by op)
const aligned = (i: number, j: number) => (mu.data[(i * M + j) * 3] + mu.data[(i * M + j) * 3 + 1] + mu.data[(i * M + j) * 3 + 2]).toFixed(2);
const local = new AlignmentCRF(scores, { local: true });   // Smith–Waterman: a non-empty path between any two cells
const { support, weights } = align.sparsemap();            // a sparse mix of a few paths
// a score-function step whose loss is each path's length (z: one-hot moves [B, N, M, 3])
const pathLengths = (z: ArrayLike<number>) => Float64Array.from({ length: B }, (_, b) => Array.from(z).slice(b * N * M * 3, (b + 1) * N * M * 3).reduce((a, v) => a + v, 0));
const { loss, gradScores } = estimators.reinforce({ samples: 4, seed: 1 }).step(align, (z) => ({ loss: pathLengths(z.data) }));
console.log('log Z', align.logPartition().data, 'MAP', [pairs(path, 0), pairs(path, 1)], 'score', score.data);
console.log('a sample', [pairs(sample, 0), pairs(sample, 1)], 'P(x_1 aligned to y_j) in pair 0', [0, 1, 2, 3, 4].map((j) => aligned(1, j)));
console.log('local MAP', [pairs(local.argmaxDecoded().path, 0), pairs(local.argmaxDecoded().path, 1)], 'local log Z', local.logPartition().data);
console.log('SparseMAP support of pair 1', support[1].map((p) => pairs(p, 0)), 'weights', weights[1]);
console.log('REINFORCE: loss (path length, mean of 4 samples)', loss, 'gradient w.r.t. the scores', gradScores.shape);
