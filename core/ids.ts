import { randomFillSync } from 'node:crypto';

/** Type prefixes of public ids (docs/api.md "Conventions"). */
export type IdPrefix = 'prj' | 'key' | 'dev' | 'ver' | 'msg' | 'bat' | 'rnt' | 'whk' | 'evt' | 'req' | 'lt' | 'sms';

// One CSPRNG call fills a pool for many ids: a call per id costs more than the id (bulk makes 10,000).
const POOL_SIZE = 16 * 512;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

function random16(): Buffer {
  if (offset + 16 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  return bytes;
}

/** An opaque, unguessable id: the prefix and 128 random bits in base64url (22 characters). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${random16().toString('base64url')}`;
}

/** Checks that `id` has the given prefix and the shape newId produces (cheap guard before any query). */
export function isId(prefix: IdPrefix, id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length === prefix.length + 23 &&
    id.startsWith(`${prefix}_`) &&
    /^[A-Za-z0-9_-]+$/.test(id)
  );
}
