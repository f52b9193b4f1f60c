/**
 * Running TypeScript in a child process, so that a native crash (a segfault or an abort) fails the test that saw
 * it, with the child's output, instead of killing jest (which runs in band on a two-core machine).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** The require hook that lets `node` load TypeScript. */
export const registerTs = path.join(__dirname, 'register_ts.js');

/** How a child process ended. */
export interface ChildResult {
  /** Exit code, or null when a signal ended it. */
  status: number | null;
  /** The signal that ended it (SIGSEGV, SIGABRT, ...), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runTypeScript}. */
export interface ChildOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Options for node itself (`--expose-gc`). */
  nodeOptions?: string[];
  timeoutMs?: number;
  /** Limit of the child's address space (`ulimit -v`, KiB), to make large allocations fail. */
  addressSpaceKiB?: number;
}

/** Runs `node [nodeOptions] -r register_ts.js script args` to completion. */
export function runTypeScript(script: string, args: string[] = [], options: ChildOptions = {}): ChildResult {
  const nodeArgs = [...(options.nodeOptions ?? []), '-r', registerTs, script, ...args];
  const [command, commandArgs] =
    options.addressSpaceKiB === undefined
      ? [process.execPath, nodeArgs]
      : ['/bin/sh', ['-c', `ulimit -v ${options.addressSpaceKiB} && exec "$0" "$@"`, process.execPath, ...nodeArgs]];
  const result = spawnSync(command, commandArgs, {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** A one-paragraph account of a child that did not exit 0, for test failure messages. */
export function describeFailure(result: ChildResult): string {
  const how = result.signal ? `was killed by ${result.signal}` : `exited with ${result.status}`;
  return `the child process ${how}\n--- stdout (tail)\n${result.stdout.slice(-4000)}\n--- stderr (tail)\n${result.stderr.slice(-4000)}`;
}
