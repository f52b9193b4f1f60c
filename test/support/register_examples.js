// Runs the examples/ as a user's code: `node -r ./test/support/register_examples.js examples/x.ts`. Loads TypeScript
// (register_ts.js) and resolves the package's own name, `latent-struct` and `latent-struct/adapters/tfjs`, to the
// sources in lib/ (what tsconfig.examples.json's `paths` does for the type check), so examples need no build.
'use strict';
require('./register_ts');
const Module = require('node:module');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const aliases = {
  'latent-struct': path.join(root, 'lib', 'index.ts'),
  'latent-struct/adapters/tfjs': path.join(root, 'lib', 'adapters', 'tfjs.ts'),
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, Object.prototype.hasOwnProperty.call(aliases, request) ? aliases[request] : request, ...rest);
};
