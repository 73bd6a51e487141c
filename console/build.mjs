// Builds the operator console (issue 14) into dist/console/, the folder core/http/routes/console.ts
// serves: esbuild bundles console/src (Preact TSX, CSS; Chart.js in its own chunk, loaded only by
// the stats page) into content-hashed files under assets/, writes index.html naming them, and
// puts a .br and a .gz beside each asset (@fastify/static serves those to browsers that take them).
// `npm run build` type-checks first (`tsc -p console`); this only bundles.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** How long files of an earlier build stay servable (a page loaded before a rebuild still finds its chunks). */
const STALE_AFTER_MS = 15 * 60_000;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const final = join(root, 'dist', 'console');
// esbuild writes beside; the files then move into dist/console/assets and index.html is swapped
// in last, so a running server never names a file that is not there yet.
const out = join(root, 'dist', `console.building-${process.pid}`);
const assets = join(out, 'assets');

await rm(out, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: 'console/src/main.tsx' },
  bundle: true,
  splitting: true,
  format: 'esm',
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  target: ['chrome109', 'firefox115', 'safari15.6'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint === 'console/src/main.tsx');
if (!entry) throw new Error('console build: no output for console/src/main.tsx');
const [script, { cssBundle }] = entry;
if (!cssBundle) throw new Error('console build: no CSS bundle (console/src/main.tsx imports styles.css)');
const url = (file) => `/console/assets/${relative(assets, join(root, file)).split('\\').join('/')}`;

// The icon is named by its hash too, like esbuild's files.
const icon = await readFile(join(here, 'src', 'favicon.svg'));
const favicon = join(
  relative(root, assets),
  `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`,
);
await writeFile(join(root, favicon), icon);
outputs.push([favicon, {}]);

const template = await readFile(join(here, 'index.html'), 'utf8');
const page = template
  .replace('{{script}}', url(script))
  .replace('{{style}}', url(cssBundle))
  .replace('{{favicon}}', url(favicon));
if (/\{\{\w+\}\}/.test(page)) throw new Error('console build: a placeholder of console/index.html was left unfilled');
await writeFile(join(out, 'index.html'), page);

let bytes = 0;
for (const [file] of outputs) {
  // Source maps are for developers' tools only: not worth compressing on every build.
  if (!/\.(js|css|svg)$/.test(file)) continue;
  const content = await readFile(join(root, file));
  await writeFile(
    join(root, `${file}.br`),
    brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
  await writeFile(join(root, `${file}.gz`), gzipSync(content, { level: 9 }));
  bytes += content.length;
}
// Move in the new files, then the page that names them.
const finalAssets = join(final, 'assets');
await mkdir(finalAssets, { recursive: true });
const fresh = new Set(await readdir(assets));
for (const name of fresh) await rename(join(assets, name), join(finalAssets, name));
await rename(join(out, 'index.html'), join(final, 'index.html'));
await rm(out, { recursive: true, force: true });
// Files of earlier builds go once no page loaded a while ago can still ask for them.
const cutoff = Date.now() - STALE_AFTER_MS;
for (const name of await readdir(finalAssets)) {
  if (!fresh.has(name) && (await stat(join(finalAssets, name))).mtimeMs < cutoff)
    await rm(join(finalAssets, name), { force: true });
}
console.log(`console: ${outputs.length} files in dist/console/assets (${Math.round(bytes / 1024)} KiB without maps)`);
