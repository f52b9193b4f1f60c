/** The host C++ compiler of the tests that build their own small programs (the emulator's, the reproducible log's). */
import { spawnSync } from 'node:child_process';

/** $CXX, else c++ (what cmake and node-gyp pick too). */
export const compiler = process.env.CXX || 'c++';

/** Whether {@link compiler} runs at all. */
export function compilerWorks(): boolean {
  return spawnSync(compiler, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs the compiler with `args`; throws with its diagnostics when it fails. */
export function compile(args: string[]): void {
  const result = spawnSync(compiler, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${compiler} ${args.join(' ')} failed:\n${result.stderr ?? result.error}`);
}
