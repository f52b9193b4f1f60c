// The README's examples: which files there are, the README code blocks they appear in, and how to run one as a user's
// program. Shared by test/examples.test.ts (part of `npm test`) and `npm run examples`.
'use strict';
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const examplesDir = path.join(root, 'examples');

/** Every example, relative to the repository root (examples/*.ts). */
function exampleFiles() {
  return fs
    .readdirSync(examplesDir)
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => `examples/${name}`);
}

/**
 * The README's TypeScript code blocks, in order: { file, code, line }, file being what the marker comment on the line
 * before names (`<!-- example: examples/x.ts -->`), or null when a block has none.
 */
function readmeBlocks(readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')) {
  const lines = readme.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const marker = i > 0 ? /^<!--\s*example:\s*(\S+)\s*-->\s*$/.exec(lines[i - 1]) : null;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    blocks.push({ file: marker ? marker[1] : null, code: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1 });
    i = end;
  }
  return blocks;
}

/** Runs one example in a fresh node, `latent-struct` resolving to lib/ (test/support/register_examples.js). */
function runExample(file, timeoutMs = 60000) {
  return new Promise((resolve) => {
    const started = Date.now();
    execFile(
      process.execPath,
      ['-r', path.join(__dirname, 'register_examples.js'), path.join(root, file)],
      { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ file, code: error ? (error.code ?? 1) : 0, signal: error?.signal ?? null, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

module.exports = { root, exampleFiles, readmeBlocks, runExample };

// `node test/support/examples.js`: runs every example (after `tsc -p tsconfig.examples.json` in `npm run examples`).
if (require.main === module) {
  (async () => {
    let failed = 0;
    for (const file of exampleFiles()) {
      const result = await runExample(file);
      const ok = result.code === 0;
      if (!ok) failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${file} (${(result.ms / 1000).toFixed(1)} s)`);
      if (!ok) process.stdout.write(result.stdout + result.stderr);
    }
    if (failed > 0) {
      console.error(`${failed} example(s) failed`);
      process.exitCode = 1;
    }
  })();
}
