import { tensor, HMM, estimators } from 'latent-struct';

const [C, V] = [2, 3];   // hidden states, observable symbols; parameters are log-probabilities (torch-struct's HMM)
const transition = tensor(Float64Array.from([0.9, 0.2, 0.1, 0.8], Math.log), [C, C]);   // [next, previous]
const emission = tensor(Float64Array.from([0.6, 0.1, 0.3, 0.3, 0.1, 0.6], Math.log), [V, C]);   // [symbol, state]
const init = tensor(Float64Array.from([0.5, 0.5], Math.log), [C]);

const observations = { data: Int32Array.from([0, 0, 1, 2, 2, 2, 0, -1]), shape: [2, 4] as [number, number] };
const hmm = new HMM({ transition, emission, init }, observations, { lengths: [4, 3] });   // -1: padding past a length
hmm.logPartition();                       // log p(x) per sequence, [B]
const mu = hmm.marginals();               // posterior { unary [B, N, C], transition [B, C, C] } (the chain's parts)
const grad = hmm.partsBackward(mu);       // ∇ Σ log p(x): { transition [C, C], emission [V, C], init [C] }
const { labels } = hmm.argmaxDecoded();   // Viterbi states [B, N], -1 past a length
const reinforce = estimators.reinforce({ samples: 8, baseline: 'leaveOneOut' });   // any estimator runs on it:
const { gradScores } = reinforce.step(hmm, (z) => ({ loss: [0, 1].map((b) => z.unary.data[b * 4 * C + 1]) }));   // loss: z_0 = 1
console.log('Viterbi', labels, 'log p(x)', hmm.logPartition().data, 'd/d init', grad.init.data, 'REINFORCE d/d emission', gradScores.emission.data);
