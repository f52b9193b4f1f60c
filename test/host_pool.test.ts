/**
 * The host result pool (issue 18): host_pool_child.ts in a child process with --expose-gc (it collects garbage
 * and a native crash there fails this test with its output). See that file for the checks.
 */
import * as path from 'node:path';

import { describeFailure, runTypeScript } from './support/isolated';

test('pooled results are right, independent, recycled and bounded, also across worker_threads', () => {
  const result = runTypeScript(path.join(__dirname, 'host_pool_child.ts'), [], { nodeOptions: ['--expose-gc'], timeoutMs: 300_000 });
  const line = result.stdout.split('\n').find((l) => l.startsWith('POOL '));
  if (result.status !== 0 || !line) throw new Error(describeFailure(result));
  const report = JSON.parse(line.slice('POOL '.length)) as { failures: string[] };
  expect(report.failures).toEqual([]);
}, 300_000);

test('LATENT_STRUCT_HOST_POOL_MIB sets the limit, 0 turns the pool off', () => {
  const script = path.join(__dirname, 'support', 'print_pool_stats.ts');
  for (const [mib, bytes] of [['0', 0], ['3', 3 * 2 ** 20]] as const) {
    const result = runTypeScript(script, [], { env: { LATENT_STRUCT_HOST_POOL_MIB: mib } });
    const line = result.stdout.split('\n').find((l) => l.startsWith('STATS '));
    if (result.status !== 0 || !line) throw new Error(describeFailure(result));
    const stats = JSON.parse(line.slice('STATS '.length)) as { limit: number; lentBlocks: number };
    expect(stats.limit).toBe(bytes);
    if (bytes === 0) expect(stats.lentBlocks).toBe(0);
  }
});
