import { tensor, Tensor, Categorical, LinearChainCRF, TreeCRF, NonProjectiveDependencyCRF, estimators } from 'latent-struct';

const random = (shape: number[]) => tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(7 * i + 1)), shape);
const [B, N, C, K] = [2, 4, 3, 5];
const lengths = [4, 2];
const [logits, edges, spans, arcs] = [random([B, K]), random([B, N - 1, C, C]), random([B, N, N]), random([B, N, N])];
// any downstream loss of z (one instance per row) and its gradient: here Σ z² per instance
function lossOfEachTree(z: Tensor): Float64Array {
  const loss = new Float64Array(B);
  for (let i = 0; i < z.size; i++) loss[Math.floor((i * B) / z.size)] += z.data[i] ** 2;
  return loss;
}
const decoder = (z: Tensor) => ({ loss: lossOfEachTree(z), gradZ: tensor(Float64Array.from(z.data, (v) => 2 * v), z.shape) });

const st = estimators.straightThrough({ backward: 'marginals' });
st.step(new Categorical(logits), decoder);                           // z one-hot [B, K]
st.step(new LinearChainCRF(edges, { lengths }), decoder);            // z [B, N-1, C, C]; factored form: { unary, transition }
st.step(new TreeCRF(spans, { lengths }), decoder);                   // z [B, N, N] spans
st.step(new NonProjectiveDependencyCRF(arcs, { lengths }), decoder); // z [B, N, N] arcs
const { loss, gradScores, samples, weights } = estimators.reinforce({ samples: 8, baseline: 'leaveOneOut' })
  .step(new TreeCRF(spans, { lengths }), (z) => ({ loss: lossOfEachTree(z) }));   // no gradZ needed
console.log(loss, gradScores.shape, samples.length, weights.length);
