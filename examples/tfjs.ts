import * as tf from '@tensorflow/tfjs';
import { DependencyCRF, estimators } from 'latent-struct';
import { latentLayer } from 'latent-struct/adapters/tfjs';

const arcScores = tf.randomNormal([2, 4, 4], 0, 1, 'float32', 1);   // [B, N, N] from your network

const parse = latentLayer(tf, estimators.sparsemap(), (arcs) => new DependencyCRF(arcs));
const z = parse(arcScores);            // tf.Tensor [B, N, N], differentiable w.r.t. arcScores
const dScores = tf.grad((s: tf.Tensor) => parse(s).mul(s).sum())(arcScores);   // gradients flow through the parser
console.log(z.shape, dScores.shape);
