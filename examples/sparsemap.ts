import { tensor, DependencyCRF } from 'latent-struct';

const [B, N] = [2, 4];
const arcs = tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.cos(3 * i)), [B, N, N]);
const g = tensor(Float64Array.from({ length: B * N * N }, (_, i) => (i % 5) - 2), [B, N, N]);   // a gradient over arcs
const dep = new DependencyCRF(arcs);

const sol = dep.sparsemap({ tolerance: 1e-9 });   // { marginals, support (decoded trees), weights, iterations, converged }
dep.sparsemapBackward(g, sol);                    // M_I Z M_I^T g (Niculae et al., Prop. 1)
dep.perturbAndMap({ seed: 1, temperature: 1 });   // the MAP tree of scores + τ·G, G = gumbelNoise(shape, { seed })
dep.perturbedMarginals({ seed: 1, temperature: 0.5 });   // marginals of (scores + G)/τ (perturb-and-parse), with
dep.perturbedMarginalsBackward(g, { seed: 1, temperature: 0.5 });   // its backward
console.log('support of sentence 0', sol.support[0], 'weights', sol.weights[0]);
