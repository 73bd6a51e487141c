/**
 * The plugin contract stays self-contained: `smx/plugin-api`'s declarations, built the way
 * `npm run build` builds them (tsconfig.plugin-api.json), are a handful of files that import
 * nothing but each other — no core service, no DI container, no package. At run time, importing
 * it loads the contract and the error catalogue and nothing else.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

/** "A handful" (issue 11): today plugin-api.d.ts and errors.d.ts. */
const MAX_DECLARATION_FILES = 5;

const root = process.cwd();
const TSC = join(root, 'node_modules/typescript/bin/tsc');
/** This file runs from dist/test/unit/; the emitted JavaScript of core is two levels up. */
const distCore = resolve(dirname(fileURLToPath(import.meta.url)), '../../core');

/** Every module specifier a file imports or re-exports, including `import('…')` types (comments skipped). */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = new Set<string>();
  for (const m of code.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) found.add(m[1]!);
  return [...found];
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

async function buildDeclarations(t: import('ava').ExecutionContext): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'smx-plugin-api-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const args = [TSC, '-p', join(root, 'tsconfig.plugin-api.json'), '--outDir', out];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  t.is(code, 0, output);
  return out;
}

test('the declarations of smx/plugin-api are a handful of files that import only each other', async (t) => {
  const out = await buildDeclarations(t);
  const declarations = (await files(out)).filter((f) => f.endsWith('.d.ts'));
  const names = declarations.map((f) => relative(out, f)).sort();
  t.true(declarations.length <= MAX_DECLARATION_FILES, `${declarations.length} declaration files: ${names.join(', ')}`);

  // package.json "exports" points at the entry this build emits (under dist/ in a real build).
  type Exports = Record<string, { types: string; default: string }>;
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Exports };
  t.is(pkg.exports['./plugin-api']!.types, './dist/core/plugin-api.d.ts');
  t.true(names.includes(join('core', 'plugin-api.d.ts')), names.join(', '));

  const emitted = new Set(declarations);
  for (const file of declarations) {
    for (const spec of specifiers(await readFile(file, 'utf8'))) {
      t.true(spec.startsWith('.'), `${relative(out, file)} imports the package "${spec}"`);
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.d.ts'));
      t.true(emitted.has(target), `${relative(out, file)} imports ${spec}, which is not part of the contract`);
    }
  }
});

test('importing the contract at run time loads plugin-api.js and errors.js, nothing else', async (t) => {
  const seen = new Set<string>();
  const queue = [join(distCore, 'plugin-api.js')];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(await readFile(file, 'utf8'))) {
      t.true(spec.startsWith('.'), `${relative(distCore, file)} imports the package "${spec}"`);
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
    }
  }
  t.deepEqual([...seen].map((f) => relative(distCore, f)).sort(), ['errors.js', 'plugin-api.js']);
});
