/**
 * The TensorFlow.js adapter: gradients through the tfjs op equal the estimator's own backward, the forward equals z,
 * a small model trains through the latent layer, and bad arguments raise coded TypeErrors.
 */
import * as tf from '@tensorflow/tfjs'; // the pure-JS union package: core, the CPU backend, every gradient
import {
  Categorical,
  DependencyCRF,
  LinearChainCRF,
  NonProjectiveDependencyCRF,
  Tensor,
  TreeCRF,
  estimators,
} from '../lib';
import { LayerEstimator, LatentStructure } from '../lib/estimators';
import { StructureFactory, TfNamespace, latentLayer, latentLayerWith } from '../lib/adapters/tfjs';
import { errorCode, errorMessage, expectClose, normal, randomTensor, rng, toFloat32 } from './helpers';

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  expect(await tf.setBackend('cpu')).toBe(true);
});

/** A structure case: its float32 scores and how to build it. */
interface Case {
  name: string;
  shape: number[];
  make: StructureFactory;
}

const len = (...l: number[]) => new Int32Array(l);

const structures: Case[] = [
  { name: 'Categorical', shape: [3, 5], make: (s) => new Categorical(s) },
  { name: 'TreeCRF', shape: [2, 4, 4], make: (s) => new TreeCRF(s, { lengths: len(4, 3) }) },
  { name: 'DependencyCRF', shape: [2, 4, 4], make: (s) => new DependencyCRF(s, { lengths: len(4, 2) }) },
  { name: 'NonProjectiveDependencyCRF', shape: [2, 4, 4], make: (s) => new NonProjectiveDependencyCRF(s, { lengths: len(3, 4) }) },
  { name: 'LinearChainCRF(edges)', shape: [2, 3, 3, 3], make: (s) => new LinearChainCRF(s, { lengths: len(4, 2) }) },
];

const layerEstimators: Array<[string, () => LayerEstimator]> = [
  ['marginals', () => estimators.marginals()],
  ['sparsemap', () => estimators.sparsemap()],
  ['straightThrough(identity)', () => estimators.straightThrough({ backward: 'identity' })],
  ['straightThrough(marginals)', () => estimators.straightThrough({ backward: 'marginals' })],
  ['spigot', () => estimators.spigot({ step: 0.5 })],
  ['perturbedMarginals', () => estimators.perturbedMarginals({ temperature: 0.5, seed: 11 })],
  ['perturbAndMap(marginals)', () => estimators.perturbAndMap({ backward: 'marginals', temperature: 0.7, seed: 5 })],
];

const cases = layerEstimators.flatMap(([estimator, makeEstimator]) =>
  structures.map((structure) => ({ label: `${estimator} × ${structure.name}`, makeEstimator, structure })),
);
cases.push({
  label: 'entmax15 × Categorical',
  makeEstimator: () => estimators.entmax15(),
  structure: structures[0],
});

const sum = (a: ArrayLike<number>, w: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * w[i], 0);

describe('gradients through the tfjs op equal the estimator backward', () => {
  test.each(cases)('$label', ({ makeEstimator, structure }) => {
    const r = rng(42);
    const scores = toFloat32(randomTensor(structure.shape, r));
    const w = toFloat32(randomTensor(structure.shape, r));
    const wTf = tf.tensor(w.data, structure.shape);
    const scoresTf = tf.tensor(scores.data, structure.shape);

    // Two instances with the same settings advance their seeds in step: the layer's calls mirror the direct ones.
    const layer = latentLayer(tf, makeEstimator(), structure.make);
    const direct = makeEstimator();
    const directForward = () => direct.forward(structure.make(scores) as LatentStructure<Tensor, Tensor>);

    // tf.grad of sum(w * z).
    const loss = (s: tf.Tensor) => tf.sum(tf.mul(wTf, layer(s)));
    const grad = tf.grad(loss)(scoresTf);
    expect(grad.shape).toEqual(structure.shape);
    expect(grad.dtype).toBe('float32');
    expectClose(grad.dataSync(), directForward().backward(w).data, 1e-5, 1e-6);

    // tf.variableGrads on a variable: value and gradient.
    const v = tf.variable(scoresTf);
    const { value, grads } = tf.variableGrads(() => loss(v) as tf.Scalar, [v]);
    const second = directForward();
    expectClose([value.dataSync()[0]], [sum(second.z.data, w.data)], 1e-5, 1e-5);
    expectClose(grads[v.name].dataSync(), second.backward(w).data, 1e-5, 1e-6);

    // The forward is z.
    const z = layer(scoresTf);
    expect(z.shape).toEqual(structure.shape);
    expect(z.dtype).toBe('float32');
    expectClose(z.dataSync(), directForward().z.data, 1e-6, 1e-7);

    tf.dispose([wTf, scoresTf, grad, v, value, grads[v.name], z]);
  });

  test('leaves no tensors behind inside tf.tidy', () => {
    const layer = latentLayer(tf, estimators.sparsemap(), (s) => new TreeCRF(s));
    const scores = tf.randomNormal([2, 4, 4], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const norm = tf.tidy(() => tf.norm(tf.grad((s: tf.Tensor) => tf.sum(tf.square(layer(s))))(scores)).dataSync()[0]);
    expect(Number.isFinite(norm)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    scores.dispose();
  });

  test('latentLayerWith passes per-call options (lengths) to the structure', () => {
    const r = rng(7);
    const scores = toFloat32(randomTensor([2, 5, 5], r));
    const w = toFloat32(randomTensor([2, 5, 5], r));
    const layer = latentLayerWith(tf, estimators.marginals(), (s, o: { lengths: Int32Array }) => new DependencyCRF(s, o));
    for (const lengths of [len(5, 3), len(2, 4)]) {
      const direct = estimators.marginals().forward(new DependencyCRF(scores, { lengths }));
      const scoresTf = tf.tensor(scores.data, [...scores.shape]);
      const z = layer(scoresTf, { lengths });
      const grad = tf.grad((s: tf.Tensor) => tf.sum(tf.mul(tf.tensor(w.data, [...w.shape]), layer(s, { lengths }))))(scoresTf);
      expectClose(z.dataSync(), direct.z.data, 1e-6, 1e-7);
      expectClose(grad.dataSync(), direct.backward(w).data, 1e-5, 1e-6);
      // Nothing past a sequence's length: instance 1's rows and columns ≥ lengths[1] are zero.
      const z1 = (z.arraySync() as number[][][])[1];
      expect(z1.flatMap((row, h) => row.filter((_, m) => h >= lengths[1] || m >= lengths[1])).every((x) => x === 0)).toBe(true);
    }
  });
});

/** Float32 tf data and a generator seeded per test. */
function normalMatrix(random: () => number, rows: number, cols: number, scale = 1): Float32Array {
  return Float32Array.from({ length: rows * cols }, () => scale * normal(random));
}

/**
 * Trains x → dense → scores → latent layer → dense → ŷ with MSE and Adam; returns the first and last full-batch
 * losses.
 */
function train(options: {
  x: tf.Tensor2D;
  y: tf.Tensor;
  scoresShape: number[];
  layer: (scores: tf.Tensor) => tf.Tensor;
  steps: number;
  learningRate: number;
  seed: number;
}): { initial: number; final: number } {
  const { x, y, scoresShape, layer, steps, learningRate, seed } = options;
  const [batch, inputDim] = x.shape;
  const parts = scoresShape.slice(1).reduce((a, b) => a * b, 1);
  const outputDim = y.shape[1] as number;
  const w1 = tf.variable(tf.randomNormal([inputDim, parts], 0, 0.1, 'float32', seed));
  const b1 = tf.variable(tf.zeros([parts]));
  const w2 = tf.variable(tf.randomNormal([parts, outputDim], 0, 0.1, 'float32', seed + 1));
  const b2 = tf.variable(tf.zeros([outputDim]));
  const predict = () => {
    const scores = tf.reshape(tf.add(tf.matMul(x, w1), b1), scoresShape);
    const z = tf.reshape(layer(scores), [batch, parts]);
    return tf.add(tf.matMul(z, w2), b2);
  };
  const lossFn = () => tf.losses.meanSquaredError(y, predict()) as tf.Scalar;
  const optimizer = tf.train.adam(learningRate);
  const initial = tf.tidy(() => lossFn().dataSync()[0]);
  for (let step = 0; step < steps; step++) tf.dispose(optimizer.minimize(lossFn, true, [w1, b1, w2, b2]) ?? []);
  const final = tf.tidy(() => lossFn().dataSync()[0]);
  optimizer.dispose();
  tf.dispose([w1, b1, w2, b2]);
  return { initial, final };
}

describe('a tfjs model trains through the latent layer', () => {
  test('Categorical, sparsemap and marginals: the target is a code of a hidden class', () => {
    const r = rng(2024);
    const [batch, inputDim, classes, outputDim] = [64, 6, 4, 3];
    const xs = normalMatrix(r, batch, inputDim);
    const teacher = normalMatrix(r, inputDim, classes, 2);
    const codes = normalMatrix(r, classes, outputDim);
    // Hidden choice: the teacher's argmax class; target: that class's code.
    const hidden = new Categorical(new Tensor(tf.matMul(tf.tensor2d(xs, [batch, inputDim]), tf.tensor2d(teacher, [inputDim, classes])).dataSync() as Float32Array, [batch, classes]));
    const ys = tf.matMul(tf.tensor2d(Float32Array.from(hidden.argmax().data), [batch, classes]), tf.tensor2d(codes, [classes, outputDim]));
    const x = tf.tensor2d(xs, [batch, inputDim]);
    for (const estimator of [estimators.sparsemap(), estimators.marginals()]) {
      const start = Date.now();
      const { initial, final } = train({
        x,
        y: ys,
        scoresShape: [batch, classes],
        layer: latentLayer(tf, estimator, (s) => new Categorical(s)),
        steps: 150,
        learningRate: 0.05,
        seed: 1,
      });
      console.log(`${estimator.name} × Categorical: loss ${initial.toFixed(4)} → ${final.toFixed(4)} in ${Date.now() - start} ms`);
      expect(final).toBeLessThan(0.5 * initial);
    }
    tf.dispose([x, ys]);
  });

  test('DependencyCRF (N = 4), marginals: the target is a projection of a hidden tree', () => {
    const r = rng(77);
    const [batch, inputDim, n, outputDim] = [64, 6, 4, 4];
    const xs = normalMatrix(r, batch, inputDim);
    const teacher = normalMatrix(r, inputDim, n * n, 2);
    const code = normalMatrix(r, n * n, outputDim);
    const arcs = tf.matMul(tf.tensor2d(xs, [batch, inputDim]), tf.tensor2d(teacher, [inputDim, n * n]));
    const tree = new DependencyCRF(new Tensor(arcs.dataSync() as Float32Array, [batch, n, n])).argmax();
    const ys = tf.matMul(tf.tensor2d(Float32Array.from(tree.data), [batch, n * n]), tf.tensor2d(code, [n * n, outputDim]));
    const x = tf.tensor2d(xs, [batch, inputDim]);
    const start = Date.now();
    const { initial, final } = train({
      x,
      y: ys,
      scoresShape: [batch, n, n],
      layer: latentLayer(tf, estimators.marginals(), (s) => new DependencyCRF(s)),
      steps: 150,
      learningRate: 0.05,
      seed: 3,
    });
    console.log(`marginals × DependencyCRF: loss ${initial.toFixed(4)} → ${final.toFixed(4)} in ${Date.now() - start} ms`);
    expect(final).toBeLessThan(0.5 * initial);
    tf.dispose([arcs, x, ys]);
  });
});

describe('errors', () => {
  const scores = () => tf.randomNormal([2, 4], 0, 1, 'float32', 1);

  test('parts that are not one tensor (the factored chain) raise a TypeError', () => {
    const transition = toFloat32(randomTensor([3, 3], rng(1)));
    const factored = ((s: Tensor) => new LinearChainCRF({ unary: s, transition })) as unknown as StructureFactory;
    const layer = latentLayer(tf, estimators.marginals(), factored);
    const unary = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 2);
    expect(errorCode(() => layer(unary))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorMessage(() => layer(unary))).toMatch(/one tensor.*\{unary, transition\}/);
  });

  test('a backward that returns no tensor raises a TypeError when differentiating', () => {
    const broken: LayerEstimator = {
      ...estimators.marginals(),
      forward: (structure) => ({ z: structure.marginals(), backward: () => ({}) as never }),
    };
    const layer = latentLayer(tf, broken, (s) => new Categorical(s));
    const s = scores();
    expect(layer(s).shape).toEqual([2, 4]);
    expect(errorCode(() => tf.grad((t: tf.Tensor) => tf.sum(layer(t)))(s))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
  });

  test('bad arguments raise coded TypeErrors', () => {
    const make: StructureFactory = (s) => new Categorical(s);
    expect(errorCode(() => latentLayer({} as TfNamespace, estimators.marginals(), make))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => latentLayer(null as unknown as TfNamespace, estimators.marginals(), make))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    // reinforce needs the decoder's loss: not a layer estimator.
    const reinforce = estimators.reinforce() as unknown as LayerEstimator;
    expect(errorCode(() => latentLayer(tf, reinforce, make))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorMessage(() => latentLayer(tf, reinforce, make))).toMatch(/layer estimator.*got reinforce/);
    expect(errorCode(() => latentLayer(tf, estimators.marginals(), 'Categorical' as unknown as StructureFactory))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => latentLayerWith(tf, estimators.marginals(), undefined as unknown as StructureFactory))).toBe('TypeError:ERR_INVALID_ARG_TYPE');

    const layer = latentLayer(tf, estimators.marginals(), make);
    expect(errorCode(() => layer([[1, 2]] as unknown as tf.Tensor))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => layer(tf.tensor2d([[1, 2]], [1, 2], 'int32')))).toBe('TypeError:ERR_DTYPE_MISMATCH');
    // The structure's and the estimator's own errors pass through.
    expect(errorCode(() => layer(tf.tensor1d([1, 2])))).toMatch(/^RangeError:ERR_INVALID_SHAPE$/);
    expect(errorCode(() => latentLayer(tf, estimators.entmax15(), (s) => new TreeCRF(s))(tf.zeros([1, 3, 3])))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(errorCode(() => layer(tf.tensor2d([[1, NaN]])))).toMatch(/ERR_NOT_FINITE|ERR_INVALID_SCORES/);
  });
});
