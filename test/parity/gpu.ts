/** What every CUDA parity suite starts with: the CUDA status, a `describe` that skips, saying why, without a GPU, and rowAgreement. */
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

/** The fraction of (sample, sentence) rows of `width` entries that two decoded outputs hold identically. */
export function rowAgreement(a: Int32Array, b: Int32Array, width: number): number {
  expect(a.length).toBe(b.length);
  const rows = a.length / width;
  let same = 0;
  for (let r = 0; r < rows; r++) {
    let equal = true;
    for (let i = r * width; i < (r + 1) * width && equal; i++) equal = a[i] === b[i];
    if (equal) same++;
  }
  return same / rows;
}
