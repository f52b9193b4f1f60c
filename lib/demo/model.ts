/**
 * The demo's model: a log-linear structured encoder and a linear decoder, trained end to end through a discrete
 * latent structure by any estimator.
 *
 *   scores_q = ⟨φ_q, u⟩                 (encoder: the structure's potentials, `[B, ...partsShape]`)
 *   z        = the estimator's forward  (a relaxed point, a MAP structure, or samples)
 *   ŷ_p      = Σ_q z_q ⟨φ_q, V_p⟩       (decoder: reads the parts the structure selects)
 *   L        = (1/P) Σ_p (ŷ_p − y_p)²
 *
 * The estimator returns ∂L/∂scores, which the encoder maps to ∂L/∂u = Σ_q (∂L/∂scores_q) φ_q; the decoder's own
 * gradient is Σ_s weights[s] ∂L(samples[s])/∂V over the points the estimator evaluated. Adam updates both.
 */
import type { Estimator } from '../estimators/types';
import { Tensor } from '../tensor';
import type { Device } from '../tensor';
import { Random } from './random';
import { Example, LatentTask, partScores, targetLengths } from './tasks';

/** A trainable array with its gradient. */
interface Parameter {
  value: Float64Array;
  grad: Float64Array;
}

function parameter(value: Float64Array): Parameter {
  return { value, grad: new Float64Array(value.length) };
}

/** Adam (Kingma & Ba 2015) over a list of parameters. */
class Adam {
  private readonly first: Float64Array[];
  private readonly second: Float64Array[];
  private steps = 0;

  constructor(
    private readonly parameters: Parameter[],
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.first = parameters.map((p) => new Float64Array(p.value.length));
    this.second = parameters.map((p) => new Float64Array(p.value.length));
  }

  /** One update from the accumulated gradients, which it then zeroes. */
  step(): void {
    this.steps++;
    const c1 = 1 - this.beta1 ** this.steps;
    const c2 = 1 - this.beta2 ** this.steps;
    this.parameters.forEach((p, i) => {
      const [m, v] = [this.first[i], this.second[i]];
      for (let j = 0; j < p.value.length; j++) {
        const g = p.grad[j];
        m[j] = this.beta1 * m[j] + (1 - this.beta1) * g;
        v[j] = this.beta2 * v[j] + (1 - this.beta2) * g * g;
        p.value[j] -= (this.learningRate * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + this.epsilon);
      }
      p.grad.fill(0);
    });
  }
}

/** A batch of instances laid out for the model. */
interface Batch {
  examples: Example[];
  /** φ `[B, Q, F]`. */
  features: Float64Array;
  lengths: Int32Array;
  /** The target sequences' lengths (AlignmentCRF), else undefined. */
  targetLengths?: Int32Array;
  /** y `[B, P]`. */
  targets: Float64Array;
}

/** What one evaluation reports. */
export interface Evaluation {
  /** Test MSE of ŷ from the MAP structure over the variance of y (1 = predicting the mean). */
  normalizedMse: number;
  /** Fraction of the hidden structure the MAP recovers (see {@link LatentTask.recovery}). */
  recovery: number;
}

/** The encoder–decoder of the module doc on one task. */
export class LatentRegressionModel {
  private readonly encoder: Parameter;
  private readonly readout: Parameter;
  private readonly optimizer: Adam;
  private readonly parts: number;

  /**
   * @param task the task (its feature and output counts, the structure)
   * @param seed seed of the initial weights (normals of scale 0.1)
   * @param learningRate Adam's step size
   * @param device where the structures run (`'cuda'` copies each batch's scores to the GPU)
   */
  constructor(
    private readonly task: LatentTask,
    seed: number,
    learningRate: number,
    private readonly device: Device,
  ) {
    const random = new Random(seed);
    this.encoder = parameter(random.normals(task.featureCount, 0.1));
    this.readout = parameter(random.normals(task.outputCount * task.featureCount, 0.1));
    this.optimizer = new Adam([this.encoder, this.readout], learningRate);
    this.parts = task.partsShape.reduce((a, b) => a * b, 1);
  }

  /** Lays instances out as a batch. */
  batch(examples: Example[]): Batch {
    const F = this.task.featureCount;
    const P = this.task.outputCount;
    const features = new Float64Array(examples.length * this.parts * F);
    const targets = new Float64Array(examples.length * P);
    examples.forEach((e, b) => {
      features.set(this.task.features(e), b * this.parts * F);
      targets.set(e.target, b * P);
    });
    return { examples, features, lengths: Int32Array.from(examples, (e) => e.length), targetLengths: targetLengths(examples), targets };
  }

  /**
   * One training step of `estimator` on a batch; returns the batch's mean objective (the estimator's loss).
   */
  trainStep(estimator: Estimator, batch: Batch): number {
    const B = batch.examples.length;
    const [Q, F, P] = [this.parts, this.task.featureCount, this.task.outputCount];
    const structure = this.structure(batch);
    const readouts = this.readouts(batch);
    const evaluated: { z: Float64Array; residual: Float64Array }[] = [];
    const result = estimator.step(structure, (z) => {
      const { loss, gradZ, residual } = this.decode(z.data, readouts, batch);
      evaluated.push({ z: Float64Array.from(z.data), residual });
      return { loss, gradZ: new Tensor(gradZ, z.shape) };
    });
    structure.dispose?.();
    const gradScores = result.gradScores.data;
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < Q; q++) {
        const g = gradScores[b * Q + q] / B;
        if (g === 0 || !Number.isFinite(g)) continue;
        const o = (b * Q + q) * F;
        for (let f = 0; f < F; f++) this.encoder.grad[f] += g * batch.features[o + f];
      }
    }
    evaluated.forEach(({ z, residual }, s) => {
      const weights = result.weights[s];
      for (let b = 0; b < B; b++) {
        const w = weights[b] / B;
        if (w === 0) continue;
        for (let q = 0; q < Q; q++) {
          const zq = z[b * Q + q];
          if (zq === 0) continue;
          const o = (b * Q + q) * F;
          for (let p = 0; p < P; p++) {
            const c = w * zq * residual[b * P + p];
            for (let f = 0; f < F; f++) this.readout.grad[p * F + f] += c * batch.features[o + f];
          }
        }
      }
    });
    this.optimizer.step();
    return result.loss.reduce((a, v) => a + v, 0) / B;
  }

  /** Test error and recovery of the MAP structure, over batches of `batchSize`. */
  evaluate(examples: Example[], batchSize: number): Evaluation {
    const P = this.task.outputCount;
    const predicted: Float64Array[] = [];
    let squared = 0;
    for (let start = 0; start < examples.length; start += batchSize) {
      const batch = this.batch(examples.slice(start, start + batchSize));
      const structure = this.structure(batch);
      const z = structure.argmax().data;
      structure.dispose?.();
      const { loss } = this.decode(z, this.readouts(batch), batch);
      loss.forEach((l) => (squared += l));
      batch.examples.forEach((_, b) => predicted.push(Float64Array.from(z.subarray(b * this.parts, (b + 1) * this.parts))));
    }
    let variance = 0;
    for (let p = 0; p < P; p++) {
      const mean = examples.reduce((a, e) => a + e.target[p], 0) / examples.length;
      variance += examples.reduce((a, e) => a + (e.target[p] - mean) ** 2, 0) / examples.length / P;
    }
    return { normalizedMse: squared / examples.length / variance, recovery: this.task.recovery(predicted, examples) };
  }

  /** The structure over the encoder's scores of a batch. */
  private structure(batch: Batch) {
    const B = batch.examples.length;
    const scores = new Float64Array(B * this.parts);
    const stride = this.parts * this.task.featureCount;
    for (let b = 0; b < B; b++) partScores(batch.features.subarray(b * stride, (b + 1) * stride), this.encoder.value, scores, b * this.parts);
    return this.task.make(new Tensor(scores, [B, ...this.task.partsShape]), batch.lengths, this.device === 'cuda' ? 'cuda' : undefined, batch.targetLengths);
  }

  /** r_{b,q,p} = ⟨φ_{b,q}, V_p⟩, `[B, Q, P]`: what part q adds to output p. */
  private readouts(batch: Batch): Float64Array {
    const B = batch.examples.length;
    const [Q, F, P] = [this.parts, this.task.featureCount, this.task.outputCount];
    const out = new Float64Array(B * Q * P);
    for (let bq = 0; bq < B * Q; bq++) {
      const o = bq * F;
      for (let p = 0; p < P; p++) {
        let s = 0;
        for (let f = 0; f < F; f++) s += batch.features[o + f] * this.readout.value[p * F + f];
        out[bq * P + p] = s;
      }
    }
    return out;
  }

  /** L per instance of points z `[B, Q]`, ∂L/∂z, and the residuals 2(ŷ − y)/P `[B, P]`. */
  private decode(z: ArrayLike<number>, readouts: Float64Array, batch: Batch): { loss: Float64Array; gradZ: Float64Array; residual: Float64Array } {
    const B = batch.examples.length;
    const [Q, P] = [this.parts, this.task.outputCount];
    const loss = new Float64Array(B);
    const gradZ = new Float64Array(B * Q);
    const residual = new Float64Array(B * P);
    for (let b = 0; b < B; b++) {
      const predicted = new Float64Array(P);
      for (let q = 0; q < Q; q++) {
        const zq = z[b * Q + q];
        if (zq !== 0) for (let p = 0; p < P; p++) predicted[p] += zq * readouts[(b * Q + q) * P + p];
      }
      for (let p = 0; p < P; p++) {
        const error = predicted[p] - batch.targets[b * P + p];
        loss[b] += (error * error) / P;
        residual[b * P + p] = (2 * error) / P;
      }
      for (let q = 0; q < Q; q++) {
        let g = 0;
        for (let p = 0; p < P; p++) g += residual[b * P + p] * readouts[(b * Q + q) * P + p];
        gradZ[b * Q + q] = g;
      }
    }
    return { loss, gradZ, residual };
  }
}
