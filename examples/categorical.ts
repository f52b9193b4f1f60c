import { tensor, backendInfo, Categorical, sparsemax, sparsemaxBackward } from 'latent-struct';

async function main(): Promise<void> {
  const scores = tensor(new Float32Array([2, 1, -Infinity, 0.5, 0.5, 3]), [2, 3]);   // [B, K], -inf masks
  const dist = new Categorical(scores);            // add { device: 'cuda' } to run on the GPU
  dist.logPartition();                             // Tensor [B]
  dist.marginals();                                // softmax, Tensor [B, K]
  dist.sample(16, { seed: 1 });                    // one-hot samples [16, B, K], same seed = same noise on CPU and CUDA
  const p = sparsemax(scores);                     // sparse probabilities [B, K]
  const grad = sparsemaxBackward(p, tensor(new Float32Array(6).fill(1), [2, 3]));
  console.log(backendInfo().cuda.available ? 'CUDA' : 'CPU', (await dist.marginalsAsync()).data, p.data, grad.data);
}

main().catch((error) => { console.error(error); process.exitCode = 1; });
