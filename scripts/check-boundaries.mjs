#!/usr/bin/env node
// Fails when an import crosses a folder boundary that scripts/boundaries.json does not allow:
// a folder may import another only in an allowed direction, and only through that folder's
// public surface (its index.ts) unless the rule names the file. Imports are read as text
// (`from '…'`, `import('…')`); tests, the console and the SDK are outside the rule.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

// `--root DIR` checks another tree (the tests do); its config is DIR/scripts/boundaries.json.
const rootArg = process.argv.indexOf('--root');
const root =
  rootArg > 0
    ? path.resolve(process.argv[rootArg + 1])
    : path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const config = JSON.parse(readFileSync(path.join(root, 'scripts/boundaries.json'), 'utf8'));
const folders = Object.keys(config.folders);

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* sources(full);
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) yield full;
  }
}

const folderOf = (file) => path.relative(root, file).split(path.sep)[0];
const problems = [];
let checked = 0;
for (const folder of folders) {
  const rule = config.folders[folder];
  for (const file of sources(path.join(root, folder))) {
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      checked += 1;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      const to = folderOf(target);
      if (to === folder) continue;
      const where = `${path.relative(root, file)} imports ${path.relative(root, target)}`;
      if (!rule.mayImport.includes(to)) {
        problems.push(
          `${where}: ${folder}/ may not import ${to}/ (allowed: ${rule.mayImport.join(', ') || 'nothing'})`,
        );
        continue;
      }
      if (rule.anyFile) continue;
      const surface = rule.through?.[to] ?? config.folders[to]?.surface ?? [`${to}/index.ts`];
      if (!surface.includes(path.relative(root, target)))
        problems.push(`${where}: import ${to}/ through ${surface.join(' or ')}`);
    }
  }
}
if (problems.length > 0) {
  console.error(
    `boundaries: ${problems.length} import(s) cross a boundary (scripts/boundaries.json):\n  ${problems.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`boundaries: ${checked} imports in ${folders.join(', ')} keep scripts/boundaries.json`);
