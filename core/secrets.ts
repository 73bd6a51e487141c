import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SmxConfig } from './config.js';
import { randomSecret } from './crypto.js';

/** Configuration with the admin token and server secret resolved (from env, or generated under the data dir). */
export interface RuntimeConfig extends SmxConfig {
  adminToken: string;
  secret: string;
}

export interface GeneratedSecret {
  name: 'admin-token' | 'secret';
  path: string;
  value: string;
}

/**
 * Fills in SMX_ADMIN_TOKEN and SMX_SECRET when unset: read from `{dataDir}/{name}`, or generated
 * (32 random bytes), written with mode 0600, and returned in `generated` so start-up prints the
 * admin token once. Several processes sharing one data dir therefore share the same values.
 */
export function resolveSecrets(config: Readonly<SmxConfig>): {
  config: Readonly<RuntimeConfig>;
  generated: GeneratedSecret[];
} {
  const generated: GeneratedSecret[] = [];
  const fromDisk = (name: GeneratedSecret['name'], prefix: string): string => {
    const dir = resolve(config.dataDir);
    const path = join(dir, name);
    if (existsSync(path)) return readFileSync(path, 'utf8').trim();
    mkdirSync(dir, { recursive: true });
    const value = randomSecret(32, prefix);
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    generated.push({ name, path, value });
    return value;
  };
  const runtime: RuntimeConfig = {
    ...config,
    adminToken: config.adminToken ?? fromDisk('admin-token', 'smxadm_'),
    secret: config.secret ?? fromDisk('secret', ''),
  };
  return { config: Object.freeze(runtime), generated };
}
