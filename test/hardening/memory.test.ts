/**
 * The memory soak (issue 9, memory.ts) in CI: every structure method and categorical op 2,000 times (after a
 * warm-up of 200); the RSS may not grow by more than 8 MiB over the second 1,000 calls of any call site.
 * LATENT_STRUCT_LONG=1 runs the full 100,000 calls per call site (about 10 minutes).
 */
import * as path from 'node:path';

import { describeFailure, runTypeScript } from '../support/isolated';

const long = process.env.LATENT_STRUCT_LONG === '1';

test(
  `${long ? '100,000' : '2,000'} calls of every op grow no RSS`,
  () => {
    const result = runTypeScript(path.join(__dirname, 'memory.ts'), ['--calls', long ? '100000' : '2000', '--bound-mib', '8'], {
      nodeOptions: ['--expose-gc'],
      timeoutMs: long ? 3_600_000 : 600_000,
    });
    if (result.status !== 0 && result.status !== 1) throw new Error(describeFailure(result));
    const line = result.stdout.split('\n').find((l) => l.startsWith('MEMORY REPORT '));
    if (!line) throw new Error(describeFailure(result));
    const report = JSON.parse(line.slice('MEMORY REPORT '.length)) as { sites: number; worstGrowthMiB: number; worstSite: string; over: string[] };
    // eslint-disable-next-line no-console
    console.log(`memory: ${report.sites} call sites; worst second-half RSS growth ${report.worstGrowthMiB.toFixed(2)} MiB (${report.worstSite})`);
    expect(report.over).toEqual([]);
    expect(report.sites).toBeGreaterThan(200);
  },
  long ? 3_600_000 : 600_000,
);
