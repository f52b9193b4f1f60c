/** What every CUDA parity suite starts with: the CUDA status and a `describe` that skips, saying why, without a GPU. */
import { backendInfo } from '../../lib';

/** The addon's CUDA status in this process. */
export const cuda = backendInfo().cuda;

/**
 * `describe` when a GPU is usable; otherwise `describe.skip`, after logging that the `what` tests are skipped —
 * or, under LATENT_STRUCT_REQUIRE_CUDA=1 (`npm run test:emulated`), a suite that fails saying why.
 */
export function gpuDescribe(what: string): jest.Describe {
  if (cuda.available) return describe;
  if (process.env.LATENT_STRUCT_REQUIRE_CUDA === '1') {
    throw new Error(`CUDA ${what} tests need CUDA, which is not available: ${cuda.reason ?? 'no CUDA device'}`);
  }
  // eslint-disable-next-line no-console
  console.log(`CUDA ${what} tests skipped: ${cuda.reason ?? 'no CUDA device'}`);
  return describe.skip;
}
