/**
 * The embedded database's first start. PGlite's initdb keeps ~600 MB of WebAssembly memory alive
 * in the process that ran it (measured: 730-800 MB RSS idle after a first start, 250 MB after a
 * second one on the same data), so `smx start` creates a fresh data folder, and applies the
 * migrations, in a short-lived child process and then opens the finished folder itself. The child
 * runs while the parent loads its modules.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Resolves once `{dataDir}/pglite` holds a migrated database; at once when it exists already. */
export async function prepareEmbeddedDatabase(dataDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (existsSync(join(resolve(dataDir), 'pglite', 'PG_VERSION'))) return;
  const script = fileURLToPath(new URL('./embedded-database-init.js', import.meta.url));
  const child = spawn(process.execPath, [script, dataDir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((done) => {
    child.once('error', () => done(-1));
    child.once('exit', (exitCode) => done(exitCode));
  });
  if (code !== 0) {
    const reason = stderr.trim().split('\n').at(-1) ?? `exit code ${code}`;
    throw new Error(`SMX_DATA_DIR: cannot prepare the embedded database in ${resolve(dataDir, 'pglite')} (${reason})`);
  }
}
