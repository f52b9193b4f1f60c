/**
 * Rows of scores with NaN, +Infinity and rows with no finite entry, and the error the library must raise for
 * them: the first bad row wins; in it, its first NaN or +Infinity, else (every entry -Infinity) the row itself.
 * Shared by the CPU test (test/categorical.test.ts) and the CUDA parity test, whose row kernels take a warp per
 * row up to 1024 columns (one entry per lane up to 32) and a block per row beyond.
 */
import { Tensor } from '../lib';

/** Column counts covering one entry per lane, several per lane of a warp, and a block per row. */
export const invalidRowColumns = [2, 3, 32, 33, 40, 1024, 1025, 2000];

/** Row patterns; placed at spread-out or trailing positions of a row filled with -Infinity (or 0). */
const patterns: number[][] = [
  [-Infinity, NaN, -Infinity],
  [NaN, 1],
  [-Infinity, -Infinity],
  [1, Infinity, NaN],
  [-Infinity, -Infinity, Infinity],
  [1, -Infinity, NaN],
  [NaN, Infinity],
  [Infinity, NaN],
  [-Infinity, NaN],
];

function placed(pattern: number[], cols: number, fill: number, trailing: boolean): number[] {
  const row = new Array<number>(cols).fill(fill);
  const m = Math.min(pattern.length, cols);
  for (let i = 0; i < m; i++) row[trailing ? cols - m + i : Math.floor((i * cols) / m)] = pattern[i];
  return row;
}

/** Named [rows, cols] score tensors (float64): each pattern in row 1 of 3 between a valid row and a bad one. */
export function invalidRowCases(): { label: string; scores: Tensor }[] {
  const cases: { label: string; scores: Tensor }[] = [];
  for (const cols of invalidRowColumns) {
    const valid = placed([0.5], cols, -Infinity, true);
    const laterBad = placed([NaN], cols, 0, false);
    for (const pattern of patterns) {
      for (const fill of [-Infinity, 0]) {
        for (const trailing of [false, true]) {
          const rows = [valid, placed(pattern, cols, fill, trailing), laterBad];
          const label = `cols ${cols}: [${pattern.join(', ')}] ${trailing ? 'trailing' : 'spread'} over ${fill}`;
          cases.push({ label, scores: new Tensor(Float64Array.from(rows.flat()), [3, cols]) });
        }
      }
    }
    // The first bad row wins even when a later row's problem has a smaller column.
    const noFinite = new Array<number>(cols).fill(-Infinity);
    const nanLate = placed([NaN], cols, -Infinity, true);
    cases.push({ label: `cols ${cols}: all -inf, then NaN first`, scores: new Tensor(Float64Array.from([...valid, ...noFinite, ...laterBad]), [3, cols]) });
    cases.push({ label: `cols ${cols}: NaN last, then NaN first`, scores: new Tensor(Float64Array.from([...valid, ...nanLate, ...laterBad]), [3, cols]) });
  }
  return cases;
}

/** Random rows: mostly -Infinity, some finite, rarely NaN or +Infinity. */
export function randomInvalidRows(rows: number, cols: number, random: () => number): Tensor {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const u = random();
    data[i] = u < 0.004 ? NaN : u < 0.008 ? Infinity : u < 0.04 ? random() * 4 - 2 : -Infinity;
  }
  return new Tensor(data, [rows, cols]);
}

/** The start of the message the library raises for `scores` (named `name`), or 'no error'. */
export function expectedInvalidMessage(scores: Tensor, name = 'scores'): string {
  const [rows, cols] = scores.shape;
  for (let b = 0; b < rows; b++) {
    let anyFinite = false;
    for (let k = 0; k < cols; k++) {
      const v = scores.data[b * cols + k];
      if (Number.isNaN(v)) return `${name}[${b}][${k}] is NaN`;
      if (v === Infinity) return `${name}[${b}][${k}] is Infinity`;
      anyFinite = anyFinite || Number.isFinite(v);
    }
    if (!anyFinite) return `row ${b} of ${name} has no finite entry`;
  }
  return 'no error';
}
