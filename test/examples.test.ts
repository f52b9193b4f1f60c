/**
 * The README's examples are real programs: every TypeScript block of README.md is the whole of a file under examples/
 * (named by the `<!-- example: examples/x.ts -->` marker before it), each file type-checks under `strict` as a user's
 * code importing 'latent-struct' (tsconfig.examples.json maps it to lib/), and each runs to completion in a fresh
 * node. The README's relative links point at files that exist and that the npm package ships.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const { root, exampleFiles, readmeBlocks, runExample } = require('./support/examples.js') as {
  root: string;
  exampleFiles(): string[];
  readmeBlocks(readme?: string): { file: string | null; code: string; line: number }[];
  runExample(file: string, timeoutMs?: number): Promise<{ file: string; code: number | string; stdout: string; stderr: string; ms: number }>;
};

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const files = exampleFiles();

describe('README code blocks are the example files', () => {
  const blocks = readmeBlocks(readme);

  test('every TypeScript block names its example file', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect({ line: block.line, file: block.file }).toEqual({ line: block.line, file: expect.stringMatching(/^examples\/.+\.ts$/) });
  });

  test('every example file is shown in the README, once', () => {
    expect(blocks.map((b) => b.file).sort()).toEqual(files);
  });

  test.each(blocks.filter((b) => b.file !== null).map((b) => [b.file as string, b] as const))('%s: the README block equals the file', (file, block) => {
    expect(fs.existsSync(path.join(root, file))).toBe(true);
    expect(block.code).toBe(fs.readFileSync(path.join(root, file), 'utf8'));
  });

  test('the drift check catches an edited block', () => {
    const [first] = blocks;
    const edited = readmeBlocks(readme.replace(first.code, first.code.replace(/\n$/, ' // edited\n')));
    expect(edited[0].code).not.toBe(fs.readFileSync(path.join(root, first.file as string), 'utf8'));
  });
});

test('examples type-check under strict (tsconfig.examples.json)', () => {
  const configPath = path.join(root, 'tsconfig.examples.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  expect(config.error).toBeUndefined();
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  expect(parsed.options.strict).toBe(true);
  expect(parsed.fileNames.map((f) => path.relative(root, f)).sort()).toEqual(files);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.formatDiagnostic(d, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  }));
  expect(diagnostics).toEqual([]);
});

describe('examples run', () => {
  test.each(files)('%s exits 0', async (file) => {
    const result = await runExample(file);
    if (result.code !== 0) throw new Error(`${file} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  });
});

describe('links of README.md and docs/', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const links = docs.flatMap((doc) => {
    const prose = fs.readFileSync(path.join(root, doc), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1])
      .filter((l) => !/^(https?:|mailto:|#)/.test(l))
      .map((link) => [doc, link] as const);
  });

  test.each(links)('%s → %s is in the repo and in the npm package', (doc, link) => {
    const resolved = path.resolve(root, path.dirname(doc), link.replace(/#.*$/, ''));
    const rel = path.relative(root, resolved).split(path.sep).join('/');
    expect({ link, outside: rel.startsWith('..') }).toEqual({ link, outside: false });
    expect({ link, exists: fs.existsSync(resolved) }).toEqual({ link, exists: true });
    const shipped =
      rel === '' || /^(README|LICENSE)[^/]*$/i.test(rel) || rel === 'package.json' || pkg.files.some((f) => rel === f || rel.startsWith(`${f.replace(/\/$/, '')}/`));
    expect({ link, shipped }).toEqual({ link, shipped: true });
  });
});

test('docs/CONVENTIONS.md lists every error code of lib/errors.ts, and no other', () => {
  const union = /export type ErrorCode =([^;]*);/.exec(fs.readFileSync(path.join(root, 'lib', 'errors.ts'), 'utf8'));
  expect(union).not.toBeNull();
  const codes = [...(union as RegExpExecArray)[1].matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]).sort();
  const table = fs.readFileSync(path.join(root, 'docs', 'CONVENTIONS.md'), 'utf8').matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm);
  expect([...table].map((m) => m[1]).sort()).toEqual(codes);
});
