import { tensor, Tensor, Categorical, DependencyCRF, estimators } from 'latent-struct';

const [B, N, K] = [2, 4, 3];
const lengths = [4, 3];
const arcs = tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.cos(3 * i)), [B, N, N]);
const categorical = new Categorical(tensor(Float64Array.from({ length: B * K }, (_, i) => Math.sin(i)), [B, K]));
// a downstream loss and its gradient: L_b(z) = Σ (z − 0.5)² over instance b's parts
function myLoss(z: Tensor): Float64Array {
  const loss = new Float64Array(B);
  for (let i = 0; i < z.size; i++) loss[Math.floor((i * B) / z.size)] += (z.data[i] - 0.5) ** 2;
  return loss;
}
const myLossGrad = (z: Tensor) => tensor(Float64Array.from(z.data, (v) => 2 * (v - 0.5)), z.shape);

const dep = new DependencyCRF(arcs, { lengths });
const decoder = (z: Tensor) => ({ loss: myLoss(z), gradZ: myLossGrad(z) });   // z: [B, N, N] arcs (relaxed or one-hot)

// 1. continuous relaxation: z is a point of the marginal polytope, gradScores its exact backward
estimators.marginals().step(dep, decoder);                    // structured attention (softmax for Categorical)
estimators.sparsemap().step(dep, decoder);                    // SparseMAP (sparsemax for Categorical)
estimators.perturbedMarginals({ temperature: 0.5 }).step(dep, decoder);   // perturb-and-parse (Gumbel-softmax)
estimators.entmax15().step(categorical, decoder);             // 1.5-entmax

// 2. surrogate gradients: z is the discrete MAP (or perturbed MAP), the backward is a stand-in
estimators.straightThrough({ backward: 'identity' }).step(dep, decoder);  // or 'marginals' (ST-softmax)
estimators.perturbAndMap({ backward: 'marginals', temperature: 0.5 }).step(dep, decoder);   // ST-Gumbel
estimators.spigot({ step: 1 }).step(dep, decoder);            // z − SparseMAP-projection(z − η ∂L/∂z)

// 3. probabilistic: the gradient of E_p[L(z)] (gradZ not needed)
estimators.reinforce({ samples: 4, baseline: 'leaveOneOut', entropyBonus: 0.01 }).step(dep, decoder);
estimators.sparseMarginalization().step(dep, decoder);        // exact over the SparseMAP support
estimators.exactMarginalization().step(categorical, decoder); // all K classes
const { loss, gradScores } = estimators.rebar({ temperature: 0.5 }).step(categorical, decoder);   // REBAR control variate
console.log('REBAR loss', loss, 'gradient', gradScores.data);
