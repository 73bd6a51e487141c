import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const checker = path.resolve('scripts/check-boundaries.mjs');

/** A tiny tree with the folders `rules` names and the given files. */
async function tree(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'smx-boundaries-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const rules = {
    folders: {
      protocol: { mayImport: [] },
      core: { mayImport: ['protocol'] },
      broker: { mayImport: ['core', 'protocol'] },
    },
  };
  for (const [file, text] of Object.entries({
    'scripts/boundaries.json': JSON.stringify(rules),
    'protocol/index.ts': '',
    'core/index.ts': '',
    'broker/index.ts': '',
    ...files,
  })) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return root;
}

async function check(root: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [checker, '--root', root]);
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, output: e.stderr };
  }
}

test('the real tree keeps its boundaries', async (t) => {
  const { code, output } = await check(path.resolve('.'));
  t.is(code, 0, output);
});

test('imports in an allowed direction through the public surface pass', async (t) => {
  const root = await tree(t, {
    'broker/a.ts': "import { x } from '../core/index.js';\nimport { y } from './b.js';\n",
    'core/deep/c.ts':
      "import type { T } from '../../protocol/index.js';\nexport const z = await import('../index.js');\n",
  });
  t.is((await check(root)).code, 0);
});

test('an import against the direction fails, naming the file and the rule', async (t) => {
  const root = await tree(t, { 'core/a.ts': "import { x } from '../broker/index.js';\n" });
  const { code, output } = await check(root);
  t.is(code, 1);
  t.regex(output, /core\/a\.ts imports broker\/index\.ts: core\/ may not import broker\/ \(allowed: protocol\)/);
});

test('an import past the public surface fails, naming the surface to use', async (t) => {
  const root = await tree(t, {
    'broker/a.ts': "import type { X } from '../core/deep/thing.js';\n",
    'core/deep/thing.ts': '',
  });
  const { code, output } = await check(root);
  t.is(code, 1);
  t.regex(output, /broker\/a\.ts imports core\/deep\/thing\.ts: import core\/ through core\/index\.ts/);
});
