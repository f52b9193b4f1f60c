/**
 * Child of test/parity/linear_chain.parity.test.ts, run with LATENT_STRUCT_EMULATED_GUARD=before so that the
 * emulated device faults on a read before an allocation (by default the guard page is after it): samples sequences
 * that have no sample (every labelling -inf; float32 scores near 3e9 whose weights all underflow) on
 * `{ device: 'cuda' }`, with C = 4 (a warp per sequence) and C = 40 (a block), sync and async. Prints
 * `RESULT {json}`: each case's `name:code` or 'no error'.
 */
import { LinearChainCRF, Tensor } from '../../../lib';

type Case = [string, () => LinearChainCRF];

function edgesCase(C: number): LinearChainCRF {
  const N = 3;
  return new LinearChainCRF(new Tensor(new Float32Array((N - 1) * C * C).fill(-Infinity), [1, N - 1, C, C]), { device: 'cuda' });
}

function hugeCase(C: number): LinearChainCRF {
  const N = 3;
  const unary = new Float32Array(N * C).map((_, i) => 3e9 + (i % 7) * 1e3);
  return new LinearChainCRF({ unary: new Tensor(unary, [1, N, C]), transition: new Tensor(new Float32Array(C * C), [C, C]) }, { device: 'cuda' });
}

async function main(): Promise<void> {
  const cases: Case[] = [4, 40].flatMap((C): Case[] => [
    [`no labelling C=${C}`, () => edgesCase(C)],
    [`float32 underflow C=${C}`, () => hugeCase(C)],
  ]);
  const result: Record<string, string> = {};
  for (const [name, make] of cases) {
    const crf = make();
    for (const form of ['sync', 'async']) {
      try {
        if (form === 'sync') crf.sampleDecoded(3, { seed: 1 });
        else await crf.sampleAsync(3, { seed: 1 });
        result[`${name} ${form}`] = 'no error';
      } catch (error) {
        result[`${name} ${form}`] = `${(error as Error).name}:${(error as { code?: string }).code}`;
      }
    }
    crf.dispose();
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

void main();
