#!/usr/bin/env node
// `npm run test:emulated`: the CUDA backend's suites on the emulated CUDA device (cuda/emulator/README.md), for
// machines without a GPU (CI runs it). Builds the emulated addon in build-emulated/ (incremental), then runs with
// it: every suite in test/parity (CUDA must be available: a suite skipped for want of a GPU fails the run), the
// emulator's own tests and the fuzz with its CUDA comparisons; then the quicker parity suites under a shuffled thread
// order. Extra arguments go to jest.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (command, args, env) => spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status;

if (run(process.execPath, [path.join(__dirname, 'build-addon.js'), '--emulated']) !== 0) process.exit(1);
const jest = require.resolve('jest/bin/jest');
const env = {
  LATENT_STRUCT_ADDON: path.join(root, 'build-emulated', 'Release', 'latent_struct.node'),
  LATENT_STRUCT_REQUIRE_CUDA: '1',
  // A call costs ~100x here what it does on a GPU: fewer fuzz runs (each valid call compared with the CUDA backend)
  // and fewer calls per site in the device memory soak.
  LATENT_STRUCT_FUZZ_RUNS: process.env.LATENT_STRUCT_FUZZ_RUNS || '2000',
  LATENT_STRUCT_SOAK_CALLS: process.env.LATENT_STRUCT_SOAK_CALLS || '200',
  // Two devices, for test/parity/devices.parity.test.ts (cuda:1, mixed devices); the other suites use cuda:0.
  LATENT_STRUCT_EMULATED_DEVICES: process.env.LATENT_STRUCT_EMULATED_DEVICES || '2',
};
const suites = ['test/parity', 'test/emulator', 'test/hardening/fuzz.test.ts'];
if (run(process.execPath, [jest, ...suites, ...process.argv.slice(2)], env) !== 0) process.exit(1);
// The faster parity suites again with the threads of each block started and resumed in a shuffled order: a kernel
// whose result depends on the order has a race across its barriers. (Trees pass too, in ~4 min: not in every run.)
const shuffled = [
  'test/parity/categorical.parity.test.ts',
  'test/parity/linear_chain.parity.test.ts',
  'test/parity/sparsemap.parity.test.ts',
  'test/parity/paths.parity.test.ts',
];
const order = { ...env, LATENT_STRUCT_EMULATED_SCHEDULE: process.env.LATENT_STRUCT_EMULATED_SCHEDULE || 'random:1' };
process.exit(run(process.execPath, [jest, ...shuffled, ...process.argv.slice(2)], order) === 0 ? 0 : 1);
