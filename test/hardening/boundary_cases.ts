/**
 * Inputs that crashed the process before the hardening (issue 9), run by boundary.test.ts in a child process so
 * that a regression fails that test with this script's output instead of killing jest. Each case prints
 * `start <name>` before it runs (the last such line names a crashing case) and `pass <name>` or
 * `fail <name>: <why>` after; the script exits 1 when a case failed.
 *
 * Usage: node -r test/support/register_ts.js test/hardening/boundary_cases.ts [case names]
 */
import { AlignmentCRF, DependencyCRF, SemiMarkovCRF, Tensor, TreeCRF, gumbelNoise, logProb, softmax, tensor } from '../../lib';
import { native } from '../../lib/native';

/** JS code that runs while an async op is in flight: it detaches, shrinks or overwrites the op's input. */
function detach(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] });
}

/** Frees what detached buffers left behind, so that a kernel still reading them would fault. */
function churn(bytes: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 8; i++) {
    new Float64Array(bytes / 8).fill(Number.NaN);
    gc?.();
  }
}

function randomData(size: number, seed: number): Float64Array {
  let state = seed;
  return Float64Array.from({ length: size }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  });
}

function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`element ${i}: ${actual[i]}, expected ${expected[i]}`);
  }
}

function expectCode(f: () => unknown, name: string, code: string): void {
  try {
    f();
  } catch (error) {
    const e = error as { name?: string; code?: string; message?: string };
    if (e.name === name && e.code === code) return;
    throw new Error(`threw ${e.name} ${e.code}: ${e.message}, expected ${name} ${code}`);
  }
  throw new Error(`did not throw, expected ${name} ${code}`);
}

const [B, N] = [48, 160];

const cases: Record<string, () => Promise<void> | void> = {
  /** The typed array of an async op's scores is transferred away (and its memory freed) while the op runs. */
  async 'async op, input detached while it runs'() {
    const scores = new Tensor(randomData(B * N * N, 1), [B, N, N]);
    const expected = new DependencyCRF(new Tensor(Float64Array.from(scores.data), [B, N, N])).marginals();
    const pending = new DependencyCRF(scores).marginalsAsync();
    detach(scores.data.buffer as ArrayBuffer);
    churn(scores.size * 8);
    expectSame((await pending).data, expected.data);
  },

  /** A resizable ArrayBuffer under the scores shrinks to 0 bytes while the op runs. */
  async 'async op, resizable input shrunk while it runs'() {
    const bytes = B * N * N * 8;
    const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(
      bytes,
      { maxByteLength: bytes },
    );
    const data = new Float64Array(buffer);
    data.set(randomData(B * N * N, 2));
    const expected = new TreeCRF(new Tensor(Float64Array.from(data), [B, N, N])).marginals();
    const pending = new TreeCRF(new Tensor(data, [B, N, N])).marginalsAsync();
    buffer.resize(0);
    churn(bytes);
    expectSame((await pending).data, expected.data);
  },

  /** The scores are overwritten while the op runs: the result is that of the scores at the call. */
  async 'async op, input overwritten while it runs'() {
    const scores = new Tensor(randomData(B * N * N, 3), [B, N, N]);
    const expected = new DependencyCRF(new Tensor(Float64Array.from(scores.data), [B, N, N])).logPartition();
    const pending = new DependencyCRF(scores).logPartitionAsync();
    scores.data.fill(Number.NaN);
    expectSame((await pending).data, expected.data);
  },

  /** The class indices of an async categorical logProb are detached while it runs. */
  async 'async logProb, index detached while it runs'() {
    const rows = 1 << 16;
    const scores = new Tensor(randomData(rows * 4, 4), [rows, 4]);
    const index = Int32Array.from({ length: rows }, (_, r) => r % 4);
    const expected = logProb(scores, Int32Array.from(index));
    const pending = native.logProb({ data: scores.data, shape: scores.shape }, index, true);
    detach(index.buffer as ArrayBuffer);
    churn(rows * 4);
    expectSame((await pending) as Float64Array, expected.data);
  },

  /** A getter read after the scores were parsed detaches them: a sync call must not read freed memory. */
  'sync call, input detached by a later argument'() {
    const data = randomData(2 * 3 * 3, 5);
    const spec = {
      structure: 'cky' as const,
      scores: { data, shape: [2, 3, 3] },
      singleRoot: true,
      get lengths(): null {
        detach(data.buffer as ArrayBuffer);
        return null;
      },
    };
    expectCode(() => native.treeLogPartition(spec, false), 'TypeError', 'ERR_BUFFER_DETACHED');
  },

  /** A host result with more elements than a typed array holds: V8 would abort; the addon raises ERR_SIZE_OVERFLOW. */
  'host result larger than a typed array'() {
    expectCode(() => gumbelNoise([2 ** 25, 2 ** 25], { seed: 1 }), 'RangeError', 'ERR_SIZE_OVERFLOW');
    expectCode(() => Tensor.zeros([2 ** 25, 2 ** 25]), 'RangeError', 'ERR_SIZE_OVERFLOW');
  },

  /** The same for the lattice sweeps: semi-Markov edges and alignment scores detached (and freed) while they run. */
  async 'async semi-Markov and alignment ops, inputs detached while they run'() {
    const edges = new Tensor(randomData(B * 40 * 6 * 4 * 4, 6), [B, 40, 6, 4, 4]);
    const moves = new Tensor(randomData(B * 60 * 70 * 3, 7), [B, 60, 70, 3]);
    const copy = (t: Tensor) => new Tensor(Float64Array.from(t.data), [...t.shape]);
    const expected = [new SemiMarkovCRF(copy(edges)).marginals(), new AlignmentCRF(copy(moves), { local: true }).entropy()];
    const pending = [new SemiMarkovCRF(edges).marginalsAsync(), new AlignmentCRF(moves, { local: true }).entropyAsync()];
    detach(edges.data.buffer as ArrayBuffer);
    detach(moves.data.buffer as ArrayBuffer);
    churn(moves.size * 8);
    const results = await Promise.all(pending);
    results.forEach((r, i) => expectSame(r.data, expected[i].data));
  },

  /** The spec's alignment fields are read after its scores: a getter of either detaching them must not be a read of freed memory. */
  'sync alignment call, input detached by targetLengths or local'() {
    for (const field of ['targetLengths', 'local'] as const) {
      const data = randomData(2 * 3 * 4 * 3, 8);
      const spec = {
        structure: 'alignment' as const,
        scores: { data, shape: [2, 3, 4, 3] },
        lengths: null,
        singleRoot: true,
        targetLengths: null as Int32Array | null,
        local: false,
      };
      Object.defineProperty(spec, field, {
        get() {
          detach(data.buffer as ArrayBuffer);
          return field === 'local' ? false : null;
        },
      });
      expectCode(() => native.treeLogPartition(spec, false), 'TypeError', 'ERR_BUFFER_DETACHED');
    }
  },

  /** Samples of more elements than a typed array holds: ERR_SIZE_OVERFLOW, not an abort. */
  'semi-Markov and alignment results larger than a typed array'() {
    const edges = new SemiMarkovCRF(new Tensor(randomData(2 * 3 * 2 * 2 * 2, 9), [2, 3, 2, 2, 2]));
    const moves = new AlignmentCRF(new Tensor(randomData(2 * 3 * 4 * 3, 10), [2, 3, 4, 3]), { local: true });
    for (const k of [2 ** 31 - 1, 2 ** 30]) {
      expectCode(() => edges.sample(k, { seed: 1 }), 'RangeError', 'ERR_SIZE_OVERFLOW');
      expectCode(() => moves.sample(k, { seed: 1 }), 'RangeError', 'ERR_SIZE_OVERFLOW');
    }
  },

  /**
   * A host result that the host cannot allocate (run under `ulimit -v`): V8 would abort; the addon raises
   * ERR_OUT_OF_MEMORY and keeps working.
   */
  'host result larger than memory'() {
    expectCode(() => gumbelNoise([2 ** 31 - 1, 2], { seed: 1 }), 'Error', 'ERR_OUT_OF_MEMORY');
    expectCode(() => Tensor.zeros([2 ** 31 - 1, 2]), 'Error', 'ERR_OUT_OF_MEMORY');
    expectSame(softmax(tensor(new Float64Array([2, 2]), [1, 2])).data, [0.5, 0.5]);
  },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  let failed = 0;
  for (const [name, run] of Object.entries(cases)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    console.log(`start ${name}`);
    try {
      await run();
      console.log(`pass ${name}`);
    } catch (error) {
      failed++;
      console.log(`fail ${name}: ${(error as Error).message}`);
    }
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

void main();
