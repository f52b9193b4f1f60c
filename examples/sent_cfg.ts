import { tensor, SentCFG } from 'latent-struct';

const [B, N, NT, T] = [2, 5, 3, 4];   // sentences, words, nonterminals, preterminals
const S = NT + T;                     // a rule's children: nonterminals 0..NT-1, then preterminals NT..S-1
const wave = (size: number, seed: number) => Float64Array.from({ length: size }, (_, i) => Math.sin(seed * (i + 1)));
const terms = tensor(wave(B * N * T, 1), [B, N, T]);            // [b, i, t]: preterminal t emits word i
const rules = tensor(wave(B * NT * S * S, 2), [B, NT, S, S]);   // [b, A, X, Y]: A -> X Y
const roots = tensor(wave(B * NT, 3), [B, NT]);                 // [b, A]: A at the root
const cfg = new SentCFG({ terms, rules, roots }, { lengths: [5, 3] });   // lengths in [2, N]

const logZ = cfg.logPartition();                   // [B]
const mu = cfg.unpack(cfg.marginals());            // expected counts { terms [B, N, T], rules [B, NT, S, S], roots [B, NT] }
const { spans, score } = cfg.argmaxDecoded();      // Viterbi parse: rows (start, end, label) [B, 2N-1, 3], breadth-first
const sample = cfg.sampleDecoded(1, { seed: 7 });  // an exact sample: spans [1, B, 2N-1, 3], counts [1, B, D]
console.log('log Z', logZ.data, 'P(root = A)', mu.roots.data, 'Viterbi score', score.data);
console.log('Viterbi spans of sentence 1', spans.subarray(0, 3 * (2 * 5 - 1)), 'a sample', sample.spans.subarray(0, 3 * (2 * 5 - 1)));

// Learning (e.g. a compound PCFG whose network outputs the scores): ∇ Σ_b log Z_b w.r.t. the packed
// scores [B, D] (terms | rules | roots per sentence) is the expected counts; one gradient-ascent step:
const packed = cfg.potentials;
const grad = cfg.marginals();
const ascended = tensor(packed.data.map((s, i) => s + 0.1 * grad.data[i]), packed.shape);
const stepped = SentCFG.fromPacked(ascended, { N, NT, T }, { lengths: [5, 3] });
console.log('log Z after the step', stepped.logPartition().data);
