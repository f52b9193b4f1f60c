import { tensor, DependencyCRF, LinearChainCRF } from 'latent-struct';

// Two distributions over projective dependency trees of the same sentences (lengths 3 and 2)
const [B, N] = [2, 3];
const arcs = (seed: number) => tensor(Float64Array.from({ length: B * N * N }, (_, i) => Math.sin(seed * (i + 1))), [B, N, N]);
const p = new DependencyCRF(arcs(1), { lengths: [3, 2] });
const q = new DependencyCRF(arcs(2), { lengths: [3, 2] });

console.log('KL(p‖q)', p.kl(q));                 // Float64Array [B], exact (expectation semiring)
console.log('H(p, q)', p.crossEntropy(q));       // −E_p[log q(z)] = log Z_q − ⟨μ_p, s_q⟩
console.log('KL(p‖p)', p.kl(p));                 // exactly 0
console.log('log #trees', p.count());            // log of the number of trees per sentence

// Gradients w.r.t. both distributions' scores (grad: a weight per instance)
const { self, other } = p.klBackward(q, [1, 1]);   // self = Cov_p(z)·(s_p − s_q), other = μ_q − μ_p
console.log('∂KL/∂arcs_p', self.shape, '∂KL/∂arcs_q', other.shape);

// A part p uses that q forbids makes the divergence +Infinity (a part p never uses contributes nothing)
const C = 2;
const edges = tensor(new Float64Array(1 * 2 * C * C), [1, 2, C, C]);   // one sequence of 3 labels, uniform
const forbidding = tensor(Float64Array.from([-Infinity, 0, 0, 0, 0, 0, 0, 0]), [1, 2, C, C]);
console.log('KL(uniform‖forbidding)', new LinearChainCRF(edges).kl(new LinearChainCRF(forbidding)));
console.log('KL(forbidding‖uniform)', new LinearChainCRF(forbidding).kl(new LinearChainCRF(edges)));
