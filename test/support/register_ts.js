// Lets plain `node` (the child processes and worker threads of the hardening tests, `npm run fuzz`) load the
// TypeScript of lib/ and test/: a require hook that transpiles each .ts file with the project's TypeScript, without
// type checks (tsc and ts-jest do those). Use: node -r ./test/support/register_ts.js file.ts
'use strict';
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  inlineSourceMap: true,
};

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
