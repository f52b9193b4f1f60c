import { tensor, Tensor, SemiMarkovCRF, estimators } from 'latent-struct';

const [B, N, K, C] = [2, 6, 3, 2];   // segments of 1 to K − 1 = 2 positions, C labels
// edges[b, n, k, c, c′] scores label c′ at n followed by the segment n+1..n+k labelled c (k = 0 is never used)
const edges = tensor(Float64Array.from({ length: B * (N - 1) * K * C * C }, (_, i) => Math.sin(i)), [B, N - 1, K, C, C]);
// Σ_q w(q)·z_q over each instance's parts, [B]
function perInstance(z: Tensor, w: (q: number) => number): Float64Array {
  const sums = new Float64Array(B);
  z.data.forEach((v, q) => (sums[Math.floor(q / (z.size / B))] += w(q) * v));
  return sums;
}

const crf = new SemiMarkovCRF(edges, { lengths: [6, 4] });
const logZ = crf.logPartition();                  // [B]
const { labels, score } = crf.argmaxDecoded();    // labels [B, N]: a segment's label at its last position, −1 inside it and past a length
const sample = crf.sampleDecoded(1, { seed: 1 }); // exact samples: { labels [1, B, N], parts [1, B, N-1, K, C, C] }
const mu = crf.marginals();                       // [B, N-1, K, C, C]: Σ μ = expected number of segments after position 0
const { support, weights } = crf.sparsemap();     // a few segmentations (labels rows) with their weights
// one training step that rewards segments of 2 positions (loss −Σ z[:, :, 2]), its gradient through the marginals
const two = (q: number) => (Math.floor(q / (C * C)) % K === 2 ? -1 : 0);
const step = estimators.marginals().step(crf, (z) => ({ loss: perInstance(z, two), gradZ: tensor(Float64Array.from(z.data, (_, q) => two(q)), z.shape) }));
console.log('log Z', logZ.data, 'MAP labels', [...labels], 'score', score.data, 'log p(MAP)', crf.logProb(labels).data);
console.log('a sample', [...sample.labels], 'expected segments', perInstance(mu, () => 1).map((s) => s + 1));
console.log('SparseMAP support of sequence 0', support[0].map((row) => [...row]), 'weights', weights[0]);
console.log('loss', step.loss, 'gradient w.r.t. the edges', step.gradScores.shape);
