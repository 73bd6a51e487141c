/**
 * The project API key of `smx send-otp`, `smx verify` and `smx send`: `--api-key`, else
 * SMX_API_KEY, else a key the CLI keeps for itself per project. With `--project` (or
 * SMX_PROJECT) and the admin token, the CLI creates a key named "smx cli" through the admin API
 * once and keeps it in `$SMX_DATA_DIR/cli-keys/<projectId>` (mode 0600, beside the admin token
 * that could make another anyway); revoked, it makes a new one.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../device/index.js';
import { dataDir, resolveAdminToken, UsageError, type CliIo } from './conventions.js';
import { call } from './http.js';

export interface KeyOptions {
  apiKey?: string;
  project?: string;
  adminToken?: string;
}

/** Runs `body` with the project's API key; a kept key the server no longer takes is replaced once. */
export async function withApiKey<T>(
  io: CliIo,
  server: string,
  options: KeyOptions,
  body: (key: string) => Promise<T>,
): Promise<T> {
  const given = options.apiKey ?? io.env.SMX_API_KEY;
  if (given) return body(given);
  const project = options.project ?? io.env.SMX_PROJECT;
  if (!project) {
    throw new UsageError(
      'No API key: pass --api-key, set SMX_API_KEY, or pass --project prj_... (with the admin token the CLI makes a key for itself)',
    );
  }
  const file = join(dataDir(io), 'cli-keys', project.replace(/[^A-Za-z0-9_-]/g, '_'));
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (kept) {
    try {
      return await body(kept);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'UNAUTHORIZED') throw err;
      await rm(file, { force: true });
    }
  }
  const adminToken = await resolveAdminToken(io, options.adminToken);
  const created = await call<{ key: string }>(server, {
    method: 'POST',
    path: `/admin/projects/${encodeURIComponent(project)}/api-keys`,
    body: { name: 'smx cli' },
    headers: { authorization: `Bearer ${adminToken}` },
  });
  await mkdir(join(dataDir(io), 'cli-keys'), { recursive: true, mode: 0o700 });
  await writeFile(file, `${created.data.key}\n`, { mode: 0o600 });
  return body(created.data.key);
}
