/**
 * The check shared by the topk suites (test/topk.test.ts, test/topk_trees.test.ts): topk(k) of a batch against
 * each instance's ranked enumeration (test/oracles), structure j of instance b at row j·B + b.
 */
import { AnyTensor, Tensor } from '../lib';
import { expectClose } from './helpers';
import { Structure, oneHot } from './oracles/enumerate';

/** topk(k)'s rows: decoded [k, B, width], score [k, B], parts [k, ...]. */
export interface TopkRows {
  decoded: Int32Array;
  score: AnyTensor;
  parts: AnyTensor;
}

const data = (t: AnyTensor): number[] => Array.from((t as Tensor).data);

/**
 * Checks topk(k) against `oracle[b]`, instance b's structures of finite score in the documented order: exact order,
 * decoded rows and parts (`exactOrder`), or — for float32, where near-ties may swap — scores in order and each
 * listed structure a distinct one of finite oracle score equal to its listed score. Past the oracle's list: score
 * −Infinity, −1 decoded entries, zero parts.
 */
export function checkTopk(
  result: TopkRows,
  k: number,
  B: number,
  width: number,
  partCount: number,
  oracle: Structure[][],
  tol: { rtol: number; atol: number; exactOrder: boolean },
): void {
  const decoded = result.decoded;
  expect(decoded.length).toBe(k * B * width);
  expect(result.score.shape).toEqual([k, B]);
  expect(result.parts.shape[0]).toBe(k);
  const scores = data(result.score);
  const parts = data(result.parts);
  for (let b = 0; b < B; b++) {
    const expected = oracle[b];
    const seen = new Set<string>();
    for (let j = 0; j < k; j++) {
      const r = j * B + b;
      const row = Array.from(decoded.subarray(r * width, (r + 1) * width));
      const rowParts = parts.slice(r * partCount, (r + 1) * partCount);
      if (j >= expected.length) {
        expect(scores[r]).toBe(-Infinity);
        expect(row).toEqual(new Array<number>(width).fill(-1));
        expect(rowParts.every((v) => v === 0)).toBe(true);
        continue;
      }
      if (j > 0) expect(scores[r]).toBeLessThanOrEqual(scores[r - B]);
      expectClose([scores[r]], [expected[j].score], tol.rtol, tol.atol);
      if (tol.exactOrder) {
        expect(row).toEqual(expected[j].decoded);
        expect(rowParts).toEqual(oneHot(expected[j].parts, partCount));
      } else {
        const match = expected.find((s) => s.decoded.every((v, i) => v === row[i]));
        expect(match).toBeDefined();
        expectClose([scores[r]], [match!.score], tol.rtol, tol.atol);
        expect(rowParts).toEqual(oneHot(match!.parts, partCount));
        expect(seen.has(row.join(','))).toBe(false);
        seen.add(row.join(','));
      }
    }
  }
}
