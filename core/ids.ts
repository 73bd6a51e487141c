import { randomBytes } from 'node:crypto';

/** Type prefixes of public ids (spec/api.md "Conventions"). */
export type IdPrefix = 'prj' | 'key' | 'dev' | 'ver' | 'msg' | 'bat' | 'rnt' | 'whk' | 'evt' | 'req' | 'lt';

/** An opaque, unguessable id: the prefix and 128 random bits in base62-ish base64url (22 chars). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}

/** Checks that `id` has the given prefix and the shape newId produces (cheap guard before any query). */
export function isId(prefix: IdPrefix, id: unknown): id is string {
  return typeof id === 'string' && id.length === prefix.length + 23 && id.startsWith(`${prefix}_`) && /^[A-Za-z0-9_-]+$/.test(id);
}
