#!/usr/bin/env node
/**
 * Starts SMX in-process (as the tests do: PGlite in a temp dir, Redis at REDIS_URL or
 * 127.0.0.1:6379 under a prefix of its own, every port 0), reads its /openapi.json and writes it to
 * openapi.json beside this package, then stops and removes what it started.
 *
 *   node scripts/served-document.mjs                  needs the repository built (npm run build)
 *   node scripts/served-document.mjs --check          exit 1 if openapi.json differs from the served document
 *   node scripts/served-document.mjs --dist <path>    use another build of SMX (e.g. a clean checkout's dist)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL, fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const dist = args.includes('--dist')
  ? args[args.indexOf('--dist') + 1]
  : fileURLToPath(new URL('../../../dist', import.meta.url));
const target = fileURLToPath(new URL('../openapi.json', import.meta.url));

const { startTestSmx, cleanupTestSmx } = await import(pathToFileURL(`${dist}/test/helpers/smx.js`).href);
const smx = await startTestSmx('sdk-served-document', { db: 'pglite', env: { LOG_LEVEL: 'silent' } });
let text;
try {
  const response = await fetch(`${smx.url}/openapi.json`);
  if (!response.ok) throw new Error(`GET /openapi.json: ${response.status}`);
  text = `${JSON.stringify(await response.json(), null, 2)}\n`;
} finally {
  await smx.close();
  await cleanupTestSmx(smx);
}

if (args.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== text) {
    console.error(
      'openapi.json differs from the document SMX serves: run npm run sdk:generate at the repository root.',
    );
    process.exit(1);
  }
  console.log('openapi.json matches the served document');
} else {
  await writeFile(target, text);
  console.log(`wrote ${target}`);
}
process.exit(0);
