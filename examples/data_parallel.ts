// Data-parallel training on worker_threads: each worker scores its shard of the batch, runs the estimator step and
// writes its gradient into a SharedArrayBuffer; the main thread averages the slots and updates the shared weights.
// Usage: node data_parallel.js [workers = 2] [batch = 64] [words = 12] [steps = 30]
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { backendInfo, setThreads, tensor, DependencyCRF, Device, Tensor, estimators } from 'latent-struct';

interface Config { workers: number; B: number; N: number; steps: number; seed: number; shared: SharedArrayBuffer; devices: (Device | undefined)[] }
const F = 8;                                  // features per word
const P = F * F + F;                          // weights: bilinear arc scorer W [F, F] and root scorer r [F]
const [GEN, DONE, FAILED] = [0, 1, 2];        // the Int32 control words at the start of the shared buffer

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

// Arc scores [B, N, N] of sentences lo..hi: x_hᵀ W x_m for head h → modifier m, r·x_m on the diagonal (root → m).
function score(w: Float64Array, x: Float64Array, lo: number, hi: number, N: number): Tensor {
  const arcs = new Float64Array((hi - lo) * N * N);
  const wx = new Float64Array(N * F);
  for (let b = lo; b < hi; b++) {
    const xb = x.subarray(b * N * F, (b + 1) * N * F);
    wx.fill(0);
    for (let m = 0; m < N; m++) for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) wx[m * F + i] += w[i * F + j] * xb[m * F + j];
    for (let h = 0; h < N; h++) for (let m = 0; m < N; m++) {
      let s = 0;
      for (let i = 0; i < F; i++) s += h === m ? w[F * F + i] * xb[m * F + i] : xb[h * F + i] * wx[m * F + i];
      arcs[((b - lo) * N + h) * N + m] = s;
    }
  }
  return tensor(arcs, [hi - lo, N, N]);
}

function data(seed: number, B: number, N: number): { x: Float64Array; gold: Float64Array } {
  const rand = mulberry32(seed);
  const x = Float64Array.from({ length: B * N * F }, () => 2 * rand());
  const teacher = Float64Array.from({ length: P }, () => 4 * rand());
  return { x, gold: new DependencyCRF(score(teacher, x, 0, B, N)).argmax().data as Float64Array };
}

// Σ over sentences lo..hi of the loss ½‖μ − gold‖² of the marginals μ (structured attention), and its gradient in w.
function shardGradient(w: Float64Array, x: Float64Array, gold: Float64Array, lo: number, hi: number, N: number, device?: Device) {
  const offset = lo * N * N;
  const dep = new DependencyCRF(score(w, x, lo, hi, N), { device });
  const { loss, gradScores } = estimators.marginals().step(dep, (z: Tensor) => {
    const g = Float64Array.from(z.data, (v, i) => v - gold[offset + i]);
    const l = new Float64Array(hi - lo);
    g.forEach((v, i) => (l[Math.floor(i / (N * N))] += 0.5 * v * v));
    return { loss: l, gradZ: tensor(g, z.shape) };
  });
  const grad = new Float64Array(P);                           // chain rule through the scorer
  const ga = gradScores.data;
  for (let b = lo; b < hi; b++) for (let h = 0; h < N; h++) for (let m = 0; m < N; m++) {
    const g = ga[((b - lo) * N + h) * N + m];
    const xh = (b * N + h) * F, xm = (b * N + m) * F;
    for (let i = 0; i < F; i++) {
      if (h === m) grad[F * F + i] += g * x[xm + i];
      else for (let j = 0; j < F; j++) grad[i * F + j] += g * x[xh + i] * x[xm + j];
    }
  }
  return { loss: loss.reduce((a, b) => a + b, 0), grad };
}

function views(c: Pick<Config, 'shared' | 'workers'>) {
  const control = new Int32Array(c.shared, 0, 4);
  const weights = new Float64Array(c.shared, 16, P);
  const grads = new Float64Array(c.shared, 16 + 8 * P, c.workers * P);   // one slot per worker
  const losses = new Float64Array(c.shared, 16 + 8 * P * (c.workers + 1), c.workers);
  return { control, weights, grads, losses };
}

if (isMainThread) {
  const [workers = 2, B = 64, N = 12, steps = 30] = process.argv.slice(2).map(Number);
  const cuda = backendInfo().cuda;
  const gpus = cuda.available ? cuda.devices ?? [] : [];
  // One GPU per worker when there are enough; else one CPU core each (setThreads(1): each op runs on its caller's thread).
  const devices = Array.from({ length: workers }, (_, i): Device | undefined => (gpus.length >= workers ? `cuda:${gpus[i].index}` : undefined));
  if (gpus.length < workers) setThreads(1);
  const shared = new SharedArrayBuffer(16 + 8 * (P * (workers + 1) + workers));
  const config: Config = { workers, B, N, steps, seed: 7, shared, devices };
  const { control, weights, grads, losses } = views(config);
  const { x, gold } = data(config.seed, B, N);
  weights.set(Float64Array.from({ length: P }, mulberry32(config.seed + 1)));
  const pool = Array.from({ length: workers }, (_, i) => new Worker(__filename, { workerData: { ...config, rank: i } }));
  pool.forEach((w) => w.on('error', (e) => { console.error(e); process.exitCode = 1; }));

  let started = 0;                                            // timed from step 1: step 0 includes the workers' start-up
  for (let step = 0; step < steps && !Atomics.load(control, FAILED); step++) {
    Atomics.store(control, DONE, 0);
    Atomics.store(control, GEN, step + 1);                    // release the workers on the current weights …
    Atomics.notify(control, GEN);
    for (let d; (d = Atomics.load(control, DONE)) < workers; ) {                                         // … barrier
      if (Atomics.wait(control, DONE, d, 60000) === 'timed-out') throw new Error('a worker did not answer in 60 s');
    }
    const avg = new Float64Array(P);                          // all-reduce: the average over the whole batch
    for (let r = 0; r < workers; r++) for (let p = 0; p < P; p++) avg[p] += grads[r * P + p] / B;
    if (step === 0) {
      const full = shardGradient(weights, x, gold, 0, B, N);  // one process, the full batch, the same weights
      const diff = Math.max(...avg.map((g, p) => Math.abs(g - full.grad[p] / B)));
      console.log(`averaged gradient of ${workers} workers vs one process's full-batch gradient: max |difference| ${diff.toExponential(2)}`);
      if (!(diff < 1e-9)) throw new Error('data-parallel gradient differs from the full-batch gradient');
    }
    const loss = losses.reduce((a, b) => a + b, 0) / B;
    if (step % 10 === 0 || step === steps - 1) console.log(`step ${step}: loss ${loss.toFixed(4)}`);
    for (let p = 0; p < P; p++) weights[p] -= 0.5 * avg[p];  // SGD on the shared weights
    if (step === 0) started = Date.now();
  }
  const seconds = (Date.now() - started) / 1000;
  if (!Atomics.load(control, FAILED)) console.log(`${workers} workers (${devices[0] ? devices.join(', ') : 'one CPU thread each'}), batch ${B} × ${N} words: ${((steps - 1) / seconds).toFixed(1)} steps/s`);
  Atomics.store(control, GEN, -1);                            // stop
  Atomics.notify(control, GEN);
} else {
  const config = workerData as Config & { rank: number };
  const { control, weights, grads, losses } = views(config);
  const { x, gold } = data(config.seed, config.B, config.N);
  const per = Math.ceil(config.B / config.workers);
  const [lo, hi] = [Math.min(config.B, config.rank * per), Math.min(config.B, (config.rank + 1) * per)];
  for (let seen = 0; ; ) {
    Atomics.wait(control, GEN, seen);
    if ((seen = Atomics.load(control, GEN)) < 0) break;
    try {
      const { loss, grad } = hi > lo ? shardGradient(weights, x, gold, lo, hi, config.N, config.devices[config.rank]) : { loss: 0, grad: new Float64Array(P) };
      grads.set(grad, config.rank * P);
      losses[config.rank] = loss;
    } catch (error) {
      Atomics.store(control, FAILED, 1);
      throw error;
    } finally {
      Atomics.add(control, DONE, 1);
      Atomics.notify(control, DONE);
    }
  }
}
