/**
 * The enumeration oracle of the AlignmentCRF (torch-struct's Alignment, global, and a Smith–Waterman local form):
 * every monotonic path of one instance is listed explicitly, and every quantity comes from that list in float64 —
 * no dynamic programming.
 *
 * Scores `[B, N, M, 3]`; an instance has lengths n ≤ N (rows) and m ≤ M (columns). Each step into cell (i, j) is
 * op 0 from (i, j−1), op 1 from (i−1, j−1), op 2 from (i−1, j). Parts are (i, j, op), flat within one instance's
 * `[N, M, 3]` block at (i·M + j)·3 + op.
 * - Global: a path of cells from (0, 0) to (n−1, m−1); its parts are (0, 0, 1) and (i, j, op) of every step.
 * - Local: a non-empty path that starts at any cell (i0, j0) (part (i0, j0, 1)), takes the same steps, and ends at
 *   any cell within the lengths.
 * The score of a path is the sum of the scores at its parts. Decoded form (`path`, (N+M−1)·3 entries per instance):
 * the rows (i, j, op) of its parts in path order, rows of −1 past its end.
 *
 * Paths are listed depth-first, the ops tried in the order 0, 1, 2 (local: start cells row-major, and each path
 * before its extensions).
 */
import { Tensor } from '../../lib';
import { Distribution, Structure, distributionOf, scoreOfParts } from './enumerate';

/** The cell an op steps from: (i − di, j − dj). */
export const OP_STEPS: readonly [number, number][] = [
  [0, 1],
  [1, 1],
  [1, 0],
];

/** One instance of a batch of scores `[B, N, M, 3]`. */
export interface AlignmentInstance {
  N: number;
  M: number;
  /** Its lengths: rows n in [1, N], columns m in [1, M]. */
  n: number;
  m: number;
  local: boolean;
  score(i: number, j: number, op: number): number;
}

export function alignmentInstance(
  scores: Tensor,
  b: number,
  options: { lengths?: ArrayLike<number> | null; targetLengths?: ArrayLike<number> | null; local?: boolean } = {},
): AlignmentInstance {
  const [, N, M] = scores.shape;
  const d = scores.data;
  return {
    N,
    M,
    n: options.lengths ? options.lengths[b] : N,
    m: options.targetLengths ? options.targetLengths[b] : M,
    local: options.local ?? false,
    score: (i, j, op) => d[((b * N + i) * M + j) * 3 + op],
  };
}

/** Entries of one instance's block, N·M·3. */
export function alignmentPartCount(x: AlignmentInstance): number {
  return x.N * x.M * 3;
}

export function alignmentPart(x: AlignmentInstance, i: number, j: number, op: number): number {
  return (i * x.M + j) * 3 + op;
}

export function alignmentPartOf(x: AlignmentInstance, q: number): [number, number, number] {
  return [Math.floor(q / 3 / x.M), Math.floor(q / 3) % x.M, q % 3];
}

/** Entries of one decoded path, (N+M−1)·3. */
export function alignmentDecodedWidth(N: number, M: number): number {
  return (N + M - 1) * 3;
}

/**
 * Whether some path of the instance uses part q: a cell within the lengths whose op steps from a cell within them
 * (op 1 at (0, 0) is the global start; local paths may start with op 1 anywhere).
 */
export function alignmentUsed(x: AlignmentInstance, q: number): boolean {
  const [i, j, op] = alignmentPartOf(x, q);
  if (i >= x.n || j >= x.m) return false;
  if (op === 1 && (x.local || (i === 0 && j === 0))) return true;
  const [di, dj] = OP_STEPS[op];
  return i - di >= 0 && j - dj >= 0;
}

/** Delannoy D(a, b): the monotonic paths (steps right, diagonal, down) from (0, 0) to (a, b). */
export function delannoy(a: number, b: number): number {
  const d = Array.from({ length: a + 1 }, () => new Array<number>(b + 1).fill(0));
  for (let i = 0; i <= a; i++) {
    for (let j = 0; j <= b; j++) {
      if (i === 0 || j === 0) d[i][j] = 1;
      else d[i][j] = d[i - 1][j] + d[i][j - 1] + d[i - 1][j - 1];
    }
  }
  return d[a][b];
}

/** The number of paths of an n × m instance: D(n−1, m−1) global; Σ over start and end cells local. */
export function alignmentCount(n: number, m: number, local: boolean): number {
  if (!local) return delannoy(n - 1, m - 1);
  let total = 0;
  for (let i0 = 0; i0 < n; i0++) {
    for (let j0 = 0; j0 < m; j0++) {
      for (let i1 = i0; i1 < n; i1++) for (let j1 = j0; j1 < m; j1++) total += delannoy(i1 - i0, j1 - j0);
    }
  }
  return total;
}

/** The structure of a path given as its rows (i, j, op), in order. */
export function alignmentStructure(x: AlignmentInstance, rows: readonly [number, number, number][]): Structure {
  const decoded = new Array<number>(alignmentDecodedWidth(x.N, x.M)).fill(-1);
  const parts: number[] = [];
  let score = 0;
  rows.forEach(([i, j, op], r) => {
    decoded[3 * r] = i;
    decoded[3 * r + 1] = j;
    decoded[3 * r + 2] = op;
    parts.push(alignmentPart(x, i, j, op));
    score += x.score(i, j, op);
  });
  return { parts, decoded, score };
}

/** Every path of the instance (see the file's comment for the order). Throws past `limit`. */
export function alignmentStructures(x: AlignmentInstance, limit = 200000): Structure[] {
  const count = alignmentCount(x.n, x.m, x.local);
  if (count > limit) throw new Error(`oracle: ${count} alignment paths is too many to list`);
  const out: Structure[] = [];
  const rows: [number, number, number][] = [];
  const extend = () => {
    const [i, j] = rows[rows.length - 1];
    if (x.local || (i === x.n - 1 && j === x.m - 1)) out.push(alignmentStructure(x, rows));
    OP_STEPS.forEach(([di, dj], op) => {
      const [i2, j2] = [i + di, j + dj];
      if (i2 >= x.n || j2 >= x.m) return;
      rows.push([i2, j2, op]);
      extend();
      rows.pop();
    });
  };
  const starts: [number, number][] = [];
  if (x.local) for (let i = 0; i < x.n; i++) for (let j = 0; j < x.m; j++) starts.push([i, j]);
  else starts.push([0, 0]);
  for (const [i, j] of starts) {
    rows.push([i, j, 1]);
    extend();
    rows.pop();
  }
  return out;
}

/** The exact distribution of one instance. */
export function alignmentDistribution(x: AlignmentInstance): Distribution {
  return distributionOf(alignmentStructures(x), alignmentPartCount(x));
}

/** Score of any list of parts of the instance. */
export function alignmentScoreOf(x: AlignmentInstance, parts: readonly number[]): number {
  return scoreOfParts(parts, (q) => x.score(...alignmentPartOf(x, q)));
}

/**
 * A path of any size that masks must keep (for sizes too large to enumerate): global, along row 0 to (0, m−1)
 * then down column m−1 (ops 0, then 2); local, the single cell (0, 0).
 */
export function alignmentKeeper(x: AlignmentInstance): number[] {
  const parts = [alignmentPart(x, 0, 0, 1)];
  if (x.local) return parts;
  for (let j = 1; j < x.m; j++) parts.push(alignmentPart(x, 0, j, 0));
  for (let i = 1; i < x.n; i++) parts.push(alignmentPart(x, i, x.m - 1, 2));
  return parts;
}

/**
 * torch-struct's `AlignmentTest.enumerate` for one (global) instance, ported: the chains of cells grown from (0, 0)
 * by the three steps, those ending at (n−1, m−1), with their scores. An independent second enumeration, to check
 * {@link alignmentStructures} against. Cells are [i, j]; the op of each step follows from consecutive cells.
 */
export function torchStructAlignmentChains(x: AlignmentInstance): { cells: [number, number][]; score: number }[] {
  const { n: N, m: M } = x;
  const d = new Map<string, { cells: [number, number][]; score: number }[]>();
  const at = (i: number, j: number) => {
    const key = `${i},${j}`;
    let list = d.get(key);
    if (!list) d.set(key, (list = []));
    return list;
  };
  at(0, 0).push({ cells: [[0, 0]], score: x.score(0, 0, 1) });
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < M; j++) {
      for (const { cells, score } of at(i, j)) {
        if (i + 1 < N && j + 1 < M) at(i + 1, j + 1).push({ cells: [...cells, [i + 1, j + 1]], score: score + x.score(i + 1, j + 1, 1) });
        if (i + 1 < N) at(i + 1, j).push({ cells: [...cells, [i + 1, j]], score: score + x.score(i + 1, j, 2) });
        if (j + 1 < M) at(i, j + 1).push({ cells: [...cells, [i, j + 1]], score: score + x.score(i, j + 1, 0) });
      }
    }
  }
  return at(N - 1, M - 1);
}

/**
 * The parts of a decoded path (rows (i, j, op), then rows of −1), checking that it is a path of the instance: it
 * starts with op 1 (at (0, 0) when global), each row steps from the previous cell by its op, every cell is within
 * the lengths, a global path ends at (n−1, m−1), and every entry past the end is −1. Throws, saying why, otherwise.
 * Works at any size (no enumeration).
 */
export function alignmentPartsOfDecoded(x: AlignmentInstance, decoded: ArrayLike<number>): number[] {
  const width = alignmentDecodedWidth(x.N, x.M);
  if (decoded.length !== width) throw new Error(`path has ${decoded.length} entries, expected ${width}`);
  const rows = width / 3;
  let r = 0;
  const parts: number[] = [];
  let previous: [number, number] | null = null;
  for (; r < rows && decoded[3 * r] !== -1; r++) {
    const [i, j, op] = [decoded[3 * r], decoded[3 * r + 1], decoded[3 * r + 2]];
    if (!(i >= 0 && i < x.n && j >= 0 && j < x.m)) throw new Error(`row ${r}: cell (${i}, ${j}) is outside ${x.n} × ${x.m}`);
    if (!(op === 0 || op === 1 || op === 2)) throw new Error(`row ${r}: op ${op}`);
    if (previous === null) {
      if (op !== 1) throw new Error(`row 0: a path starts with op 1, got ${op}`);
      if (!x.local && (i !== 0 || j !== 0)) throw new Error(`row 0: a global path starts at (0, 0), got (${i}, ${j})`);
    } else {
      const [di, dj] = OP_STEPS[op];
      if (i - di !== previous[0] || j - dj !== previous[1]) {
        throw new Error(`row ${r}: op ${op} into (${i}, ${j}) does not step from (${previous[0]}, ${previous[1]})`);
      }
    }
    parts.push(alignmentPart(x, i, j, op));
    previous = [i, j];
  }
  if (previous === null) throw new Error('empty path');
  if (!x.local && (previous[0] !== x.n - 1 || previous[1] !== x.m - 1)) {
    throw new Error(`a global path ends at (${x.n - 1}, ${x.m - 1}), got (${previous[0]}, ${previous[1]})`);
  }
  for (let e = 3 * r; e < width; e++) if (decoded[e] !== -1) throw new Error(`entry ${e} past the end of the path is ${decoded[e]}, expected -1`);
  return parts;
}

/**
 * A plain forward-backward over the cells in float64, for sizes too large to enumerate (written here, independently
 * of the kernels, and checked against the enumeration in test/alignment.test.ts): log Z, the marginals of the block,
 * and the best score (the same recursion with max). Local: a path may start (op 1) and end at every cell.
 */
export function alignmentForwardBackward(x: AlignmentInstance): { logZ: number; marginals: Float64Array; best: number } {
  const { n, m, local } = x;
  const lse = (a: number, b: number) => (a === -Infinity ? b : b === -Infinity ? a : Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b))));
  const grid = (v: number) => Array.from({ length: n }, () => new Array<number>(m).fill(v));
  const alpha = grid(-Infinity);
  const top = grid(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (local || (i === 0 && j === 0)) {
        alpha[i][j] = x.score(i, j, 1);
        top[i][j] = x.score(i, j, 1);
      }
      OP_STEPS.forEach(([di, dj], op) => {
        if (i - di < 0 || j - dj < 0) return;
        const s = x.score(i, j, op);
        alpha[i][j] = lse(alpha[i][j], alpha[i - di][j - dj] + s);
        top[i][j] = Math.max(top[i][j], top[i - di][j - dj] + s);
      });
    }
  }
  const beta = grid(-Infinity);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      if (local || (i === n - 1 && j === m - 1)) beta[i][j] = 0;
      OP_STEPS.forEach(([di, dj], op) => {
        if (i + di >= n || j + dj >= m) return;
        beta[i][j] = lse(beta[i][j], x.score(i + di, j + dj, op) + beta[i + di][j + dj]);
      });
    }
  }
  const logZ = local ? alpha.flat().reduce(lse, -Infinity) : alpha[n - 1][m - 1];
  const best = local ? Math.max(...top.flat()) : top[n - 1][m - 1];
  const marginals = new Float64Array(alignmentPartCount(x));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let start = local || (i === 0 && j === 0) ? x.score(i, j, 1) + beta[i][j] - logZ : -Infinity;
      OP_STEPS.forEach(([di, dj], op) => {
        if (i - di < 0 || j - dj < 0) return;
        const v = alpha[i - di][j - dj] + x.score(i, j, op) + beta[i][j] - logZ;
        if (op === 1) start = lse(start, v);
        else if (v > -Infinity) marginals[alignmentPart(x, i, j, op)] = Math.exp(v);
      });
      if (start > -Infinity) marginals[alignmentPart(x, i, j, 1)] = Math.exp(start);
    }
  }
  return { logZ, marginals, best };
}
