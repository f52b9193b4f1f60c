#!/usr/bin/env node
// `npm run test:pack` (CI runs it): what a user gets from the tarball. Packs the package (prepack builds the
// prebuild with CUDA inside), installs the tarball into an empty consumer project with a PATH that holds nothing but
// node — no compiler, cmake or nvcc — and runs a small program there. Fails unless the install used the prebuild
// (built nothing), the program's results are right and the addon has the CUDA backend compiled in. Prints the
// install's duration (reported, not asserted: machines are shared and loaded). `-- --ignore-scripts` packs what is
// already built (dist/, prebuilds/) without rebuilding it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-struct-pack-'));
const fail = (message) => {
  console.error(`[test:pack] FAILED: ${message}`);
  process.exit(1);
};
const run = (command, args, options) => {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) fail(`${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
};

// 1. The tarball.
// npm itself: the one running this script (npm run test:pack), else the one installed beside node.
const npmCli = process.env.npm_execpath || path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const packArgs = ['pack', '--json', '--pack-destination', work, ...process.argv.slice(2).filter((a) => a === '--ignore-scripts')];
const packOutput = run(process.execPath, [npmCli, ...packArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(packOutput.slice(0, packOutput.lastIndexOf('[\n  {')));  // the prepack build's own output
const packed = JSON.parse(packOutput.slice(packOutput.lastIndexOf('[\n  {')));
const tarball = path.join(work, packed[0].filename);
const files = packed[0].files.map((f) => f.path);
const prebuild = files.find((f) => f.startsWith('prebuilds/') && f.endsWith('.node'));
if (!prebuild) fail(`the tarball has no prebuild (files: ${files.join(', ')})`);
console.log(`[test:pack] ${packed[0].filename}: ${(packed[0].size / 2 ** 20).toFixed(1)} MiB packed, prebuild ${prebuild}`);

// 2. A consumer project, and a PATH with only a copy of node (a copy, so that npm's own additions to PATH — the
// folder of the node binary — hold no compiler either) and sh (npm runs install scripts with it).
const consumer = path.join(work, 'consumer');
const bin = path.join(work, 'bin');
fs.mkdirSync(consumer);
fs.mkdirSync(bin);
fs.copyFileSync(process.execPath, path.join(bin, 'node'));
fs.chmodSync(path.join(bin, 'node'), 0o755);
fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
const env = { ...process.env, PATH: bin, CC: '/nonexistent/cc', CXX: '/nonexistent/c++' };
for (const tool of ['cc', 'c++', 'g++', 'cmake', 'nvcc', 'make']) {
  if (spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status === 0) fail(`${tool} is still on the stripped PATH`);
}
const node = path.join(bin, 'node');
const start = process.hrtime.bigint();
run(node, [npmCli, 'install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: consumer, env, stdio: ['ignore', 'pipe', 'pipe'] });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const installed = path.join(consumer, 'node_modules', 'latent-struct');
if (fs.existsSync(path.join(installed, 'build'))) fail('the install compiled the addon instead of using the prebuild');

// 3. A small program, as a user would write it.
const program = `
const { backendInfo, LinearChainCRF, tensor } = require('latent-struct');
const B = 2, N = 3, C = 2;
const crf = new LinearChainCRF(tensor(new Float64Array(B * (N - 1) * C * C), [B, N - 1, C, C]));
const logZ = Array.from(crf.logPartition().data);
console.log(JSON.stringify({ logZ, cuda: backendInfo().cuda }));
`;
const output = JSON.parse(run(node, ['-e', program], { cwd: consumer, env }).trim());
// All-zero scores: every one of the C^N labellings scores 0, so log Z = N log C.
for (const value of output.logZ) if (Math.abs(value - 3 * Math.log(2)) > 1e-12) fail(`log Z ${value}, expected ${3 * Math.log(2)}`);
if (!output.cuda.compiled || output.cuda.emulated) fail(`the prebuild has no real CUDA backend: ${JSON.stringify(output.cuda)}`);
console.log(`[test:pack] installed the tarball into an empty project without a compiler in ${seconds.toFixed(1)} s; ` +
  `log Z right; backendInfo().cuda: ${JSON.stringify(output.cuda)}`);
fs.rmSync(work, { recursive: true, force: true });
