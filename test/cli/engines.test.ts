/**
 * `npm ci` prints no engine warnings: every package the lockfile installs (dev dependencies too,
 * since `npm ci` installs them) accepts every Node version package.json's `engines` promises, and
 * the Node running the tests is one of them.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import test from 'ava';

// semver is npm's own range logic; it comes with the dev tools (ava, autocannon), not as a dependency of SMX.
const semver = createRequire(import.meta.url)('semver') as {
  subset(a: string, b: string): boolean;
  satisfies(v: string, r: string): boolean;
};

test('every locked package runs on every Node version engines promises, and this Node is one', async (t) => {
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as {
    packages: Record<string, { engines?: { node?: string } | string[] }>;
  };
  const promised = pkg.engines.node;
  const narrower = Object.entries(lock.packages)
    .map(([path, entry]) => [path, Array.isArray(entry.engines) ? undefined : entry.engines?.node] as const)
    .filter(([, range]) => range !== undefined && !semver.subset(promised, range))
    .map(([path, range]) => `${path} needs ${range}`);
  t.deepEqual(narrower, [], `engines.node "${promised}" promises Node versions these packages refuse`);
  t.true(semver.satisfies(process.version, promised), `${process.version} is outside engines.node "${promised}"`);
  t.is(
    (lock.packages[''] as { engines?: { node?: string } }).engines?.node,
    promised,
    'the lockfile records the same engines',
  );
});
