// Adds lock entries for msgpackr-extract's platform packages that this registry mirror does not serve,
// so `npm ci` accepts the lock; on linux they are skipped by os/cpu without being fetched.
import { readFileSync, writeFileSync } from 'node:fs';
const path = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(path, 'utf8'));
const platforms = {
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm': ['linux', 'arm'],
  'win32-x64': ['win32', 'x64'],
};
for (const [name, [os, cpu]] of Object.entries(platforms)) {
  const key = `node_modules/@msgpackr-extract/msgpackr-extract-${name}`;
  lock.packages[key] ??= { version: '3.0.7', cpu: [cpu], license: 'MIT', optional: true, os: [os] };
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
