/**
 * The linked device's credentials on disk: the link result plus what the phone told the server
 * about itself, as JSON readable by its owner only (mode 0600) because it holds the device secret.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { isRecord } from './api-client.js';
import { validateLinkResult } from './link.js';
import type { LinkResult, Sim } from '../protocol/index.js';

/** Where `smx device link` saves and `smx device run` reads, relative to the working directory. */
export const DEFAULT_CREDENTIALS_PATH = './var/device.json';

/** What the credentials file holds: the link result and optional facts about the phone. */
export interface StoredCredentials extends LinkResult {
  /** Server base URL the device was linked against. */
  server?: string;
  name?: string;
  appVersion?: string;
  sims?: Sim[];
  /** ISO-8601 time of linking. */
  linkedAt?: string;
}

/** Writes `credentials` to `path` atomically (temp file + rename), mode 0600, creating the folder. */
export async function saveCredentials(
  credentials: StoredCredentials,
  path: string = DEFAULT_CREDENTIALS_PATH,
): Promise<void> {
  await writeJsonPrivate(path, credentials);
}

/**
 * Reads and validates the credentials file.
 * @throws Error naming the path when it is missing, not JSON, or not a link result.
 */
export async function loadCredentials(path: string = DEFAULT_CREDENTIALS_PATH): Promise<StoredCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing ? `No device credentials at ${path} (link first: smx device link <qr>)` : `Cannot read ${path}`,
      { cause: err },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not JSON`, { cause: err });
  }
  let result: LinkResult;
  try {
    result = validateLinkResult(value);
  } catch (err) {
    throw new Error(`${path} is not a device credentials file: ${(err as Error).message}`, { cause: err });
  }
  const extra = value as Record<string, unknown>;
  const stored: StoredCredentials = { ...result };
  if (typeof extra.server === 'string') stored.server = extra.server;
  if (typeof extra.name === 'string') stored.name = extra.name;
  if (typeof extra.appVersion === 'string') stored.appVersion = extra.appVersion;
  if (typeof extra.linkedAt === 'string') stored.linkedAt = extra.linkedAt;
  if (Array.isArray(extra.sims)) stored.sims = extra.sims.filter(isSim);
  return stored;
}

/** Removes the credentials file (after an unlink); a missing file is not an error. */
export async function deleteCredentials(path: string = DEFAULT_CREDENTIALS_PATH): Promise<void> {
  await rm(path, { force: true });
}

/** The sent-ids file that lives next to a credentials file: `var/device.json` → `var/device.sent-ids.json`. */
export function sentIdsPathFor(credentialsPath: string = DEFAULT_CREDENTIALS_PATH): string {
  const ext = extname(credentialsPath);
  return join(dirname(credentialsPath), `${basename(credentialsPath, ext)}.sent-ids.json`);
}

/**
 * Writes JSON readable by the owner only. The temp file is created 0600 and renamed over the
 * target, so a crash never leaves a half-written file and the secret is never world-readable.
 */
export async function writeJsonPrivate(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    await chmod(temp, 0o600); // `mode` passes through the umask; make it exactly 0600.
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

function isSim(value: unknown): value is Sim {
  return isRecord(value) && typeof value.slot === 'number' && typeof value.rentable === 'boolean';
}
