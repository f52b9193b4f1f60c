import { tensor, NonProjectiveDependencyCRF } from 'latent-struct';

const [B, N] = [2, 4];
const lengths = [4, 2];
const arcs = tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.cos(3 * i)), [B, N, N]);   // [b, h, m], root on the diagonal

const np = new NonProjectiveDependencyCRF(arcs, { lengths });   // singleRoot: true (Koo et al. 2007) by default
np.logPartition();      // log-det of the Laplacian, exact for any scores (log-space elimination, no eps)
np.marginals();         // its reverse pass; np.marginalsBackward(g) adds tangents (an exact Hessian-vector product)
np.argmaxDecoded();     // Chu-Liu-Edmonds / Tarjan, the single-root constraint exact (Gabow & Tarjan)
np.sampleDecoded(4, { seed: 1 });   // exact samples, word by word from conditional marginals (O(n^4) each)
console.log('MAP heads', np.argmaxDecoded().heads, 'log Z', np.logPartition().data);
