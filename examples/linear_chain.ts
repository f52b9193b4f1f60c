import { tensor, LinearChainCRF } from 'latent-struct';

const [B, N, C] = [2, 5, 3];
const unary = tensor(Float64Array.from({ length: B * N * C }, (_, i) => Math.sin(i)), [B, N, C]);
const transition = tensor(Float64Array.from({ length: C * C }, (_, i) => Math.cos(i)), [C, C]);

const crf = new LinearChainCRF({ unary, transition }, { lengths: [5, 3] });  // unary [B, N, C], transition [C, C] or [B, C, C]
crf.logPartition();                  // [B]
const mu = crf.marginals();          // { unary [B, N, C], transition [B, C, C] } (edge form: one [B, N-1, C, C])
crf.marginalsBackward(mu);           // Cov(z)·g in the potentials' shapes, exact (expectation semiring)
const { labels } = crf.argmaxDecoded();   // Viterbi: { labels Int32Array [B, N] (-1 past a length), score [B], parts }
crf.sampleDecoded(8, { seed: 1 });   // exact samples: { labels [8, B, N], parts [8, ...] }
crf.entropy(); crf.logProb(labels);  // [B], [B] or [S, B]
console.log('Viterbi labels', labels, 'log p', crf.logProb(labels).data);
