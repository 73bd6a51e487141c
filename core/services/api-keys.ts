import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { randomSecret, sha256 } from '../crypto.js';
import { CacheBus, TtlCache } from '../cache.js';
import { apiError } from '../errors.js';
import { newId } from '../ids.js';
import { TOKENS } from '../tokens.js';

export interface ApiKeyInfo {
  id: string;
  projectId: string;
  name: string;
  /** The first characters of the key, so an operator can tell keys apart. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const KEY_PREFIX = 'smx_';
/** `lastUsedAt` is kept to the minute. */
const LAST_USED_PRECISION_MS = 60_000;

/** Project-scoped API keys: 32 random bytes, shown once, stored as SHA-256, revoked at once. */
@injectable()
export class ApiKeyService {
  /** key hash → owner; evicted everywhere on revoke (and when the project goes). */
  private readonly cache = new TtlCache<{ projectId: string; keyId: string }>(30_000);
  private readonly lastTouched = new Map<string, number>();

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly bus: CacheBus,
  ) {
    bus.on('api-key', (hash) => this.cache.delete(hash));
    bus.on('project', (projectId) => this.cache.deleteWhere((owner) => owner.projectId === projectId));
  }

  /** Creates a key; the plain key is returned only here. */
  async create(projectId: string, name: string): Promise<{ id: string; key: string; info: ApiKeyInfo }> {
    const key = randomSecret(32, KEY_PREFIX);
    const now = new Date();
    const row = {
      id: newId('key'),
      project_id: projectId,
      name,
      key_hash: sha256(key),
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      created_at: now,
    };
    await this.db('api_keys').insert(row);
    return { id: row.id, key, info: toInfo({ ...row, last_used_at: null }) };
  }

  async list(projectId: string): Promise<ApiKeyInfo[]> {
    const rows = await this.db('api_keys')
      .where({ project_id: projectId })
      .whereNull('revoked_at')
      .orderBy('created_at', 'asc');
    return rows.map(toInfo);
  }

  /** Revokes at once: the key's cache entry is evicted here and in every other process before this returns. */
  async revoke(projectId: string, keyId: string): Promise<void> {
    const [row] = await this.db('api_keys')
      .where({ id: keyId, project_id: projectId })
      .whereNull('revoked_at')
      .update({ revoked_at: new Date() }, ['key_hash']);
    if (!row) throw apiError('NOT_FOUND', { message: 'No API key with this id in this project.' });
    await this.bus.invalidate('api-key', row.key_hash);
  }

  /** The project a key belongs to, or null for a malformed, unknown or revoked key. */
  async authenticate(key: string): Promise<{ projectId: string; keyId: string } | null> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 128) return null;
    const owner = await this.ownerOfHash(sha256(key));
    if (owner) this.touch(owner.keyId);
    return owner;
  }

  /**
   * Records `lastUsedAt`, at most once a minute per key and process (not a write per request),
   * and never on the request's path: a failed write only leaves the time a little older.
   */
  private touch(keyId: string): void {
    const now = Date.now();
    if (now - (this.lastTouched.get(keyId) ?? 0) < LAST_USED_PRECISION_MS) return;
    this.lastTouched.set(keyId, now);
    void this.db('api_keys')
      .where({ id: keyId })
      .update({ last_used_at: new Date(now) })
      .catch(() => this.lastTouched.delete(keyId));
  }

  /**
   * The owner of a key known only by its hash (credentials derived from a key, such as the
   * compat OAuth tokens, re-check it so revoking the key revokes them), or null once revoked.
   */
  async ownerOfHash(hash: string): Promise<{ projectId: string; keyId: string } | null> {
    const owner = await this.cache.getOrLoad(hash, async () => {
      const row = await this.db('api_keys')
        .select('id', 'project_id')
        .where({ key_hash: hash })
        .whereNull('revoked_at')
        .first();
      return row ? { projectId: row.project_id, keyId: row.id } : undefined;
    });
    return owner ?? null;
  }
}

function toInfo(row: {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
}): ApiKeyInfo {
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: new Date(row.created_at).toISOString(),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at).toISOString() : null,
  };
}
