import { tensor, Categorical, AlignmentCRF, LinearChainCRF, NonProjectiveDependencyCRF } from 'latent-struct';

// The k best classes of each row, best first (ties: the smaller class first)
const classes = new Categorical(tensor(Float64Array.from([2, 0.5, 3, 1, -1, 4, 4, 0]), [2, 4]));
const best = classes.topk(3);   // { index [k, B], score [k, B], parts [k, B, K] }
console.log('top classes', [...best.index], 'scores', best.score.data);

// The k best monotonic alignments (k-best Viterbi): rank 0 is argmaxDecoded()'s path; −Infinity past the count
const [B, N, M] = [1, 2, 3];
const scores = tensor(Float64Array.from({ length: B * N * M * 3 }, (_, i) => Math.cos(i)), [B, N, M, 3]);
const alignment = new AlignmentCRF(scores);
const { path, score } = alignment.topk(4);   // path [k, B, N + M − 1, 3] rows (i, j, op), score [k, B]
for (let r = 0; r < 4; r++) console.log(`#${r}`, score.data[r].toFixed(3), [...path.subarray(r * 12, r * 12 + 12)].join(' '));

// The 3 best taggings of a chain and the 3 best non-projective trees, best first
const chain = new LinearChainCRF(tensor(Float64Array.from({ length: 3 * 2 * 2 }, (_, i) => Math.sin(i)), [1, 3, 2, 2]));
console.log('3 best taggings', chain.topk(3).labels);   // labels [k, B, N]
const arcs = tensor(Float64Array.from({ length: 16 }, (_, i) => Math.cos(3 * i)), [1, 4, 4]);
const trees = new NonProjectiveDependencyCRF(arcs).topk(3);   // { heads [k, B, N], score [k, B], parts [k, B, N, N] }
console.log('3 best trees', trees.heads, trees.score.data);
