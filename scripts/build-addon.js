#!/usr/bin/env node
// Builds the native addon with cmake-js against Node's own N-API headers (nothing is downloaded).
// CUDA is compiled in when nvcc is found, unless LATENT_STRUCT_CUDA=0 or --cpu is given.
// If the CUDA build fails for any reason, the CPU-only addon is built instead: install never fails
// because of the GPU toolchain.
'use strict';
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const envSwitch = (process.env.LATENT_STRUCT_CUDA || '').toLowerCase();
const cpuOnly = process.argv.includes('--cpu') || ['0', 'off', 'false', 'no'].includes(envSwitch);
const jobs = String(Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));

// On `npm install`, a prebuild shipped in prebuilds/ (made by `npm run prebuild`) is used as is.
if (process.argv.includes('--install')) {
  try {
    const found = require('node-gyp-build').path(root);
    if (found.includes(`${path.sep}prebuilds${path.sep}`)) {
      console.log(`[latent-struct] using the prebuild ${path.relative(root, found)}`);
      process.exit(0);
    }
  } catch {
    // no prebuild for this platform: build from source
  }
}

function build(cuda) {
  const args = [cmakeJs, 'rebuild', '--parallel', jobs, `--CDLS_CUDA=${cuda ? 'ON' : 'OFF'}`];
  console.log(`[latent-struct] building the addon (${cuda ? 'CUDA if nvcc is found' : 'CPU only'})`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  return result.status === 0;
}

// --emulated: the addon with the CUDA backend's sources compiled for the emulated device (cuda/emulator/), in
// build-emulated/ (incremental), for the CUDA test suites on a machine without a GPU: `npm run test:emulated`.
if (process.argv.includes('--emulated')) {
  const args = [cmakeJs, 'build', '--parallel', jobs, '--out', 'build-emulated', '--CDLS_CUDA_EMULATE=ON'];
  console.log('[latent-struct] building the addon with the emulated CUDA device in build-emulated/');
  process.exit(spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status === 0 ? 0 : 1);
}

if (build(!cpuOnly)) process.exit(0);
if (!cpuOnly) {
  console.warn('[latent-struct] the CUDA build failed; building the CPU-only addon instead');
  if (build(false)) process.exit(0);
}
console.error('[latent-struct] the addon build failed');
process.exit(1);
