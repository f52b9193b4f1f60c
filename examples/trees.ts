import { tensor, TreeCRF, DependencyCRF } from 'latent-struct';

const [B, N] = [2, 4];
const lengths = [4, 3];
const spans = tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.sin(i)), [B, N, N]);
const arcs = tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.cos(3 * i)), [B, N, N]);
const g = tensor(Float64Array.from({ length: B * N * N }, (_, i) => (i % 5) - 2), [B, N, N]);   // a gradient over arcs

const tree = new TreeCRF(spans, { lengths });          // spans [B, N, N] ([b, i, j] = span i..j) or labelled [B, N, N, L]
tree.marginals();                                      // span marginals, the shape of spans
tree.argmaxDecoded();                                  // CKY: { spans Int32Array [B, 2N-1, 3] rows (i, j, label), score, parts }
const dep = new DependencyCRF(arcs, { singleRoot: true });   // arcs [B, N, N]: [b, h, m] head -> modifier, diagonal = root
dep.marginals(); dep.marginalsBackward(g); dep.entropy();
dep.sampleDecoded(8, { seed: 1 });                     // { heads [8, B, N] (heads[m] = m for the root), parts [8, B, N, N] }
dep.logProb(dep.argmax());                             // log p of parts, [B]
dep.logProb(dep.argmaxDecoded().heads);                // or of heads ([B·N] → [B], [S·B·N] → [S, B])
console.log('CKY spans', tree.argmaxDecoded().spans, 'Eisner heads', dep.argmaxDecoded().heads);
