/** What every CUDA parity suite starts with: the CUDA status and a `describe` that skips, saying why, without a GPU. */
import { backendInfo } from '../../lib';

/** The addon's CUDA status in this process. */
export const cuda = backendInfo().cuda;

/** `describe` when a GPU is usable; otherwise `describe.skip`, after logging that the `what` tests are skipped. */
export function gpuDescribe(what: string): jest.Describe {
  if (cuda.available) return describe;
  // eslint-disable-next-line no-console
  console.log(`CUDA ${what} tests skipped: ${cuda.reason ?? 'no CUDA device'}`);
  return describe.skip;
}
