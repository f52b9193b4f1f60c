#!/usr/bin/env node
// Builds the native addon against Node's own N-API headers (nothing is downloaded).
//
//   --install     (npm's install script) use the prebuild in prebuilds/ when one fits, else build from source
//   --cpu         CPU backend only
//   --emulated    the CUDA sources for the emulated device, in build-emulated/ (npm run test:emulated)
//   --prebuild    (npm pack's prepack) the prebuild shipped in the tarball: CUDA compiled in for every supported
//                 architecture, in build-prebuild/, copied stripped to prebuilds/<platform>-<arch>/
//
// From source, CUDA is compiled only when it can be used or is asked for: LATENT_STRUCT_CUDA=1 (always), =0 (never),
// unset (when an NVIDIA driver is visible, for the GPUs present). LATENT_STRUCT_CUDA_ARCHITECTURES overrides the
// architectures (CMake's list, e.g. "80-real;90-real;90-virtual"). cmake-js builds; without cmake, node-gyp builds
// the CPU backend from binding.gyp. A failed CUDA build falls back to the CPU backend: install never fails because of
// the GPU toolchain.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const jobs = String(Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
const say = (line) => console.log(`[latent-struct] ${line}`);
const succeeded = (command, commandArgs, options = {}) =>
  spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', ...options }).status === 0;
const runs = (command, commandArgs) => {
  const result = spawnSync(command, commandArgs, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : undefined;
};

function cmakeJs(out, definitions, clean) {
  const cli = require.resolve('cmake-js/bin/cmake-js');
  const flags = Object.entries(definitions).map(([name, value]) => `--CD${name}=${value}`);
  return succeeded(process.execPath, [cli, clean ? 'rebuild' : 'build', '--parallel', jobs, '--out', out, ...flags]);
}

if (args.includes('--emulated')) {
  say('building the addon with the emulated CUDA device in build-emulated/');
  process.exit(cmakeJs('build-emulated', { LS_CUDA_EMULATE: 'ON' }, false) ? 0 : 1);
}

if (args.includes('--prebuild')) {
  const cuda = (process.env.LATENT_STRUCT_CUDA || '1') !== '0';
  say(`building the prebuild (${cuda ? 'CUDA compiled in for every supported architecture' : 'CPU only: LATENT_STRUCT_CUDA=0'})`);
  const definitions = { LS_CUDA: cuda ? 'ON' : 'OFF', LS_REQUIRE_CUDA: cuda ? 'ON' : 'OFF' };
  if (process.env.LATENT_STRUCT_CUDA_ARCHITECTURES) definitions.CMAKE_CUDA_ARCHITECTURES = process.env.LATENT_STRUCT_CUDA_ARCHITECTURES;
  if (!cmakeJs('build-prebuild', definitions, true)) process.exit(1);
  const folder = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder, { recursive: true });
  const target = path.join(folder, 'latent-struct.napi.node');  // node-gyp-build's tags: any Node with N-API
  fs.copyFileSync(path.join(root, 'build-prebuild', 'Release', 'latent_struct.node'), target);
  if (runs('strip', ['--version'])) succeeded('strip', ['--strip-unneeded', target]);
  say(`prebuild ${path.relative(root, target)}: ${(fs.statSync(target).size / 2 ** 20).toFixed(1)} MiB`);
  process.exit(0);
}

// npm install: a prebuild that fits is used as is.
if (args.includes('--install')) {
  try {
    const found = require('node-gyp-build').path(root);
    if (found.includes(`${path.sep}prebuilds${path.sep}`)) {
      say(`using the prebuild ${path.relative(root, found)}`);
      process.exit(0);
    }
  } catch {
    // no prebuild for this platform: build from source
  }
}

/** Whether to compile CUDA, for which architectures, and the one line that says why. */
function cudaPlan() {
  const wanted = (process.env.LATENT_STRUCT_CUDA || '').toLowerCase();
  const architectures = process.env.LATENT_STRUCT_CUDA_ARCHITECTURES;
  if (args.includes('--cpu') || ['0', 'off', 'false', 'no'].includes(wanted)) {
    return { cuda: false, why: 'CPU backend only (switched off by --cpu or LATENT_STRUCT_CUDA=0)' };
  }
  if (['1', 'on', 'true', 'yes'].includes(wanted)) {
    return { cuda: true, architectures, why: `CUDA asked for by LATENT_STRUCT_CUDA=1 (architectures: ${architectures || 'the default list'})` };
  }
  const driver = fs.existsSync('/proc/driver/nvidia/version') || runs('nvidia-smi', ['-L']) !== undefined;
  if (!driver) {
    return {
      cuda: false,
      why: 'no NVIDIA driver is visible, so the CPU backend only (LATENT_STRUCT_CUDA=1 npm install compiles CUDA anyway, with nvcc)',
    };
  }
  return { cuda: true, architectures: architectures || 'native', why: `an NVIDIA driver is visible: CUDA for ${architectures || "this machine's GPUs"} if nvcc is found` };
}

const plan = cudaPlan();
if (!runs('cmake', ['--version'])) {
  // node-gyp: npm's own copy during npm install, else the dev dependency; Node's own headers.
  const nodeGyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js');
  const nodeDir = path.resolve(process.execPath, '..', '..');
  say(`cmake was not found: building the CPU backend with node-gyp (binding.gyp)${plan.cuda ? '; install cmake and nvcc for CUDA' : ''}`);
  const headers = fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h')) ? [`--nodedir=${nodeDir}`] : [];
  process.exit(succeeded(process.execPath, [nodeGyp, 'rebuild', ...headers]) ? 0 : 1);
}
say(plan.why);
const definitions = { LS_CUDA: plan.cuda ? 'ON' : 'OFF' };
if (plan.cuda && plan.architectures) definitions.CMAKE_CUDA_ARCHITECTURES = plan.architectures;
if (cmakeJs('build', definitions, true)) process.exit(0);
if (plan.cuda) {
  say('the CUDA build failed (output above); building the CPU backend only instead');
  if (cmakeJs('build', { LS_CUDA: 'OFF' }, true)) process.exit(0);
}
console.error('[latent-struct] the addon build failed (output above): a C++17 compiler and cmake >= 3.18 are needed');
process.exit(1);
