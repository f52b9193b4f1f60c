/**
 * This library beside torch-struct in one run, at the sizes of issues 18, 19 and 21, float32, on the CPU, timing `--op`:
 * `marginals` (default: "log Z + marginals", logPartition then marginals), `topk` (topk(K), `--k`, default 16, against
 * torch-struct's K-max semiring `dist.topk(K)`), `kl` or `crossEntropy` (against a second distribution on other
 * scores; torch-struct's KL-divergence and cross-entropy semirings). torch-struct runs first, through bench/torch_struct.py (it needs Debian's
 * python3-torch and a torch-struct checkout: see that script), then this library on the same machine, one thread and
 * all threads, with a fresh output per call and, for the chain, with `{ out }` reused. Prints a Markdown table with
 * the ratios and writes the figures as JSON (`--json FILE`).
 *
 *   npm run bench:torch-struct -- --torch-struct /tmp/torch-struct [--reps 9] [--skip-slow] [--only TreeCRF,...]
 *       [--op marginals|topk|kl|crossEntropy] [--k 16]
 *
 * Our inputs are the bench's deterministic fills in [-2, 2) (torch-struct's are standard normal): the work of these
 * dynamic programs does not depend on the values.
 *
 * Cases torch-struct cannot run (AlignmentCRF at its HEAD: see bench/torch_struct.py; the divergences of its dependency
 * structures and SemiMarkovCRF) show the reason instead of a time, and ours that raise (topk where it is not implemented)
 * show theirs. When SemiMarkovCRF runs, the script also checks once that our log Z and marginals equal torch-struct's on the
 * same edges (standard normal, random lengths): torch-struct writes them (`--semimarkov-check`), we recompute and
 * print the largest differences.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { AlignmentCRF, AnyTensor, DependencyCRF, LinearChainCRF, NonProjectiveDependencyCRF, SemiMarkovCRF, SentCFG, Tensor, TreeCRF, backendInfo, setThreads } from '../lib';
import { filledTensor, time } from './harness';

type Structure = 'LinearChainCRF' | 'TreeCRF' | 'DependencyCRF' | 'NonProjectiveDependencyCRF' | 'SemiMarkovCRF' | 'AlignmentCRF' | 'SentCFG';

interface Case {
  structure: Structure;
  size: number[];
  /** Minutes per run in torch-struct (or, for our side, seconds): skipped with --skip-slow. */
  slow: boolean;
}

/** The cases of bench/torch_struct.py, in its order. */
const CASES: Case[] = [
  { structure: 'LinearChainCRF', size: [32, 25, 20], slow: false },
  { structure: 'LinearChainCRF', size: [256, 128, 32], slow: true },
  { structure: 'LinearChainCRF', size: [1024, 64, 16], slow: true },
  { structure: 'TreeCRF', size: [32, 25], slow: false },
  { structure: 'TreeCRF', size: [32, 64], slow: false },
  { structure: 'TreeCRF', size: [128, 64], slow: false },
  { structure: 'DependencyCRF', size: [32, 25], slow: false },
  { structure: 'DependencyCRF', size: [32, 64], slow: false },
  { structure: 'NonProjectiveDependencyCRF', size: [32, 25], slow: false },
  { structure: 'NonProjectiveDependencyCRF', size: [32, 64], slow: false },
  { structure: 'NonProjectiveDependencyCRF', size: [256, 64], slow: false },
  { structure: 'NonProjectiveDependencyCRF', size: [32, 128], slow: false },
  { structure: 'SemiMarkovCRF', size: [32, 25, 4, 10], slow: false },
  { structure: 'AlignmentCRF', size: [32, 25, 25], slow: false },
  { structure: 'AlignmentCRF', size: [8, 1000, 1000], slow: true },
  { structure: 'SentCFG', size: [8, 20, 30, 60], slow: false },
];

/** What a run times; the names torch_struct.py's --op takes. */
const OPS = { marginals: 'marginals', topk: 'topk', kl: 'kl', crossEntropy: 'cross_entropy' } as const;
type Op = keyof typeof OPS;

interface Options {
  torchStruct: string | null;
  op: Op;
  k: number;
  reps: number;
  skipSlow: boolean;
  only: Set<string>;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { torchStruct: process.env.TORCH_STRUCT_DIR ?? null, op: 'marginals', k: 16, reps: 9, skipSlow: false, only: new Set(), json: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`vs_torch_struct: ${flag} needs a value`);
      return v;
    };
    if (flag === '--torch-struct') options.torchStruct = value();
    else if (flag === '--reps') options.reps = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (flag === '--skip-slow') options.skipSlow = true;
    else if (flag === '--only') options.only = new Set(value().split(',').filter(Boolean));
    else if (flag === '--json') options.json = value();
    else if (flag === '--op') {
      const op = value();
      if (!(op in OPS)) throw new Error(`vs_torch_struct: --op is one of ${Object.keys(OPS).join(', ')}`);
      options.op = op as Op;
    } else if (flag === '--k') options.k = Math.max(1, Number.parseInt(value(), 10) || 1);
    else throw new Error(`vs_torch_struct: unknown flag ${flag}`);
  }
  return options;
}

interface Structured {
  logPartition(): unknown;
  marginals(options?: { out: never }): unknown;
  topk(k: number): unknown;
  kl(other: Structured): unknown;
  crossEntropy(other: Structured): unknown;
  dispose(): void;
}

/** The body --op times on `structure` (`other`: the second distribution of the divergences). */
function opBody(op: Op, k: number, structure: Structured, other: Structured): () => void {
  if (op === 'topk') return () => void structure.topk(k);
  if (op === 'kl') return () => void structure.kl(other);
  if (op === 'crossEntropy') return () => void structure.crossEntropy(other);
  return () => {
    structure.logPartition();
    structure.marginals();
  };
}

/** A structure of the case's size on the bench's deterministic fill (`seed` > 0: other scores, for the divergences). */
function make(structure: Structure, size: number[], seed = 0): Structured {
  const [B, N] = size;
  const structured = (x: unknown): Structured => x as Structured;
  if (structure === 'LinearChainCRF') return structured(new LinearChainCRF(filledTensor([B, N - 1, size[2], size[2]], 'float32', 1 + seed)));
  if (structure === 'TreeCRF') return structured(new TreeCRF(filledTensor([B, N, N], 'float32', 2 + seed)));
  if (structure === 'DependencyCRF') return structured(new DependencyCRF(filledTensor([B, N, N], 'float32', 3 + seed)));
  if (structure === 'SemiMarkovCRF') return structured(new SemiMarkovCRF(filledTensor([B, N - 1, size[2], size[3], size[3]], 'float32', 5 + seed)));
  if (structure === 'AlignmentCRF') return structured(new AlignmentCRF(filledTensor([B, N, size[2], 3], 'float32', 6 + seed)));
  if (structure === 'SentCFG') {
    // Packed terms [N·T] | rules [NT·S·S] | roots [NT] per sentence, S = NT + T.
    const [NT, T] = [size[2], size[3]];
    return structured(SentCFG.fromPacked(filledTensor([B, N * T + NT * (NT + T) ** 2 + NT], 'float32', 7 + seed), { N, NT, T }));
  }
  return structured(new NonProjectiveDependencyCRF(filledTensor([B, N, N], 'float32', 4 + seed)));
}

interface Result {
  structure: Structure;
  size: string;
  torchStructMs: number | null;
  /** Why torch-struct did not run the case, when it could not. */
  torchStructError: string | null;
  /** Null when this library raised (the reason in `error`). */
  oneThreadMs: number | null;
  allThreadsMs: number | null;
  error: string | null;
  /** The chain with a reused `{ out }`, all threads and one. */
  reusedOutMs: number | null;
  reusedOutOneThreadMs: number | null;
}

interface TorchStructRun {
  header: string;
  ms: Map<string, number>;
  errors: Map<string, string>;
  /** The prefix of the --semimarkov-check files, when torch-struct wrote them. */
  semiMarkovCheck: string | null;
}

function runTorchStruct(options: Options, cases: Case[]): TorchStructRun {
  const ms = new Map<string, number>();
  const errors = new Map<string, string>();
  if (!options.torchStruct) return { header: 'torch-struct not run (no --torch-struct DIR)', ms, errors, semiMarkovCheck: null };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-vs-ts-'));
  const json = path.join(dir, 'torch_struct.json');
  const check = options.op === 'marginals' && cases.some((c) => c.structure === 'SemiMarkovCRF') ? path.join(dir, 'semimarkov') : null;
  const only = [...new Set(cases.map((c) => c.structure))].join(',');
  const args = [path.join(__dirname, '..', '..', 'bench', 'torch_struct.py'), '--torch-struct', options.torchStruct, '--threads', '1', '--reps', String(Math.min(options.reps, 5)), '--only', only, '--json', json, '--op', OPS[options.op], '--k', String(options.k)];
  if (options.skipSlow) args.push('--skip-slow');
  if (check) args.push('--semimarkov-check', check);
  const run = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) return { header: `torch-struct failed (exit ${run.status})`, ms, errors, semiMarkovCheck: null };
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as {
    torch: string;
    rows: Array<{ structure: string; size: number[]; ms: number | null; error?: string }>;
  };
  for (const row of report.rows) {
    const key = `${row.structure} ${row.size.join(',')}`;
    if (row.ms === null) errors.set(key, row.error ?? 'unknown error');
    else ms.set(key, row.ms);
  }
  return { header: (run.stdout.split('\n')[0] ?? '').trim(), ms, errors, semiMarkovCheck: check };
}

/** The largest differences between our SemiMarkovCRF log Z and marginals and torch-struct's, on its edges and lengths. */
interface SemiMarkovCheck {
  shape: number[];
  lengths: number[];
  maxRelativeLogZ: number;
  maxAbsoluteMarginal: number;
}

function checkSemiMarkov(prefix: string): SemiMarkovCheck {
  const meta = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8')) as { shape: number[]; lengths: number[]; log_z: number[] };
  const floats = (file: string): Float32Array => {
    const bytes = fs.readFileSync(file);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const crf = new SemiMarkovCRF(new Tensor(floats(`${prefix}.edges.bin`), meta.shape), { lengths: Int32Array.from(meta.lengths) });
  const logZ = (crf.logPartition() as Tensor).data;
  const mu = (crf.marginals() as Tensor).data;
  const theirs = floats(`${prefix}.marginals.bin`);
  let maxRelativeLogZ = 0;
  let maxAbsoluteMarginal = 0;
  meta.log_z.forEach((z, b) => (maxRelativeLogZ = Math.max(maxRelativeLogZ, Math.abs(logZ[b] - z) / Math.max(1, Math.abs(z)))));
  theirs.forEach((m, i) => (maxAbsoluteMarginal = Math.max(maxAbsoluteMarginal, Math.abs(mu[i] - m))));
  crf.dispose();
  return { shape: meta.shape, lengths: meta.lengths, maxRelativeLogZ, maxAbsoluteMarginal };
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const cases = CASES.filter((c) => (options.only.size === 0 || options.only.has(c.structure)) && !(options.skipSlow && c.slow));
  const torch = runTorchStruct(options, cases);
  const allThreads = backendInfo().cpu.threads;
  const results: Result[] = [];
  for (const c of cases) {
    const structure = make(c.structure, c.size);
    const other = make(c.structure, c.size, 10);
    const body = opBody(options.op, options.k, structure, other);
    const timed = (threads: number, body: () => unknown): number => {
      setThreads(threads);
      try {
        return time(c.slow ? Math.max(3, options.reps >> 1) : options.reps, body, false);
      } finally {
        setThreads(allThreads);
      }
    };
    let reused: number | null = null;
    let reusedOne: number | null = null;
    let error: string | null = null;
    try {
      body();
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (c.structure === 'LinearChainCRF' && options.op === 'marginals') {
      const out = structure.marginals() as AnyTensor;
      const withOut = (): void => {
        structure.logPartition();
        structure.marginals({ out: out as never });
      };
      reused = timed(allThreads, withOut);
      reusedOne = timed(1, withOut);
      if (out instanceof Tensor) out.data.fill(0);
    }
    results.push({
      structure: c.structure,
      size: c.size.join(', '),
      torchStructMs: torch.ms.get(`${c.structure} ${c.size.join(',')}`) ?? null,
      torchStructError: torch.errors.get(`${c.structure} ${c.size.join(',')}`) ?? null,
      oneThreadMs: error === null ? timed(1, body) : null,
      allThreadsMs: error === null ? timed(allThreads, body) : null,
      error,
      reusedOutMs: reused,
      reusedOutOneThreadMs: reusedOne,
    });
    structure.dispose();
    other.dispose();
  }
  const info = backendInfo();
  const f = (ms: number | null): string => (ms === null ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
  const ratio = (a: number | null, b: number | null): string => (a === null || b === null ? '—' : `${(a / b).toFixed(1)}×`);
  const what = options.op === 'marginals' ? 'log Z + marginals' : options.op === 'topk' ? `topk(${options.k})` : options.op;
  const lines = [
    `${torch.header}`,
    `latent-struct: ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${allThreads} threads, vector math ${info.cpu.simd}; float32, ${what}, median of ${options.reps} after a warm-up`,
    '',
    `| structure | size | torch-struct 1 thread (ms) | ours 1 thread (ms) | speedup 1 thread | ours ${allThreads} threads (ms) | chain, reused out: ${allThreads} threads / 1 thread (ms) |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.structure} | (${r.size}) | ${f(r.torchStructMs)} | ${f(r.oneThreadMs)} | ${ratio(r.torchStructMs, r.oneThreadMs)} | ${f(r.allThreadsMs)} | ` +
        `${r.reusedOutMs === null ? '—' : `${f(r.reusedOutMs)} / ${f(r.reusedOutOneThreadMs)}`} |`,
    ),
  ];
  const failed = results.filter((r) => r.torchStructError !== null);
  if (failed.length > 0) {
    lines.push('', ...failed.map((r) => `torch-struct did not run ${r.structure} (${r.size}): ${r.torchStructError}`));
  }
  const ours = results.filter((r) => r.error !== null);
  if (ours.length > 0) lines.push('', ...ours.map((r) => `latent-struct did not run ${r.structure} (${r.size}): ${r.error}`));
  const semiMarkov = torch.semiMarkovCheck ? checkSemiMarkov(torch.semiMarkovCheck) : null;
  if (semiMarkov) {
    lines.push(
      '',
      `SemiMarkovCRF [${semiMarkov.shape.join(', ')}] on torch-struct's standard normal edges, lengths ${Math.min(...semiMarkov.lengths)}–${Math.max(...semiMarkov.lengths)}: ` +
        `largest |Δ log Z| / max(1, |log Z|) ${semiMarkov.maxRelativeLogZ.toExponential(2)}, largest |Δ marginal| ${semiMarkov.maxAbsoluteMarginal.toExponential(2)} (ours against torch-struct's).`,
    );
  }
  console.log(lines.join('\n'));
  if (options.json) {
    fs.writeFileSync(options.json, JSON.stringify({ torch: torch.header, op: options.op, k: options.k, simd: info.cpu.simd, threads: allThreads, results, semiMarkovCheck: semiMarkov }, null, 2) + '\n');
  }
}

main();
