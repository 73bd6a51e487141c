import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { MIGRATIONS } from '../migrations/index.js';

// BIGINT counts come back as strings by default; every count SMX reads fits in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface DatabaseOptions {
  /** PostgreSQL URL; undefined = embedded PGlite. */
  url: string | undefined;
  schema: string;
  /** Directory for the embedded database; `':memory:'` keeps it in memory (tests). */
  dataDir: string;
  poolMax?: number;
  /** How long a query waits for a pool connection (PostgreSQL down or saturated) before it fails. @defaultValue 10 000 */
  acquireTimeoutMs?: number;
}

/**
 * knex-pglite names a statement's command after knex's method, and a delete's method is `del`:
 * knex then answers a delete with the raw result instead of the number of rows deleted (so
 * "nothing deleted" checks never saw 0). Named `delete` here, as knex's PostgreSQL client expects.
 */
type ResponseProcessor = { processResponse(obj: { method?: string }, runner: unknown): unknown };
class PgLiteClient extends ClientPgLite {}
const pgliteProcess = (ClientPgLite.prototype as unknown as ResponseProcessor).processResponse;
(PgLiteClient.prototype as unknown as ResponseProcessor).processResponse = function (this: unknown, obj, runner) {
  return pgliteProcess.call(this, obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
};

/** Creates the knex instance: PostgreSQL through `pg` when a URL is given, else PGlite under the data dir. */
export function createDatabase(options: DatabaseOptions): Knex {
  if (options.url) {
    return knexFactory({
      client: 'pg',
      connection: options.url,
      searchPath: [options.schema],
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
    });
  }
  let connection: object = {};
  if (options.dataDir !== ':memory:') {
    const dir = resolve(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    connection = { filename: dir };
  }
  return knexFactory({ client: PgLiteClient, dialect: 'postgres', connection, searchPath: [options.schema] });
}

/** knex migration source over the frozen list in migrations/index.ts (no file globbing, same in src and dist). */
const migrationSource: Knex.MigrationSource<(typeof MIGRATIONS)[number]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};

/** Brings the schema up to date. Safe to run from several processes at once (knex holds a lock table). */
export async function migrateLatest(db: Knex, schema: string): Promise<string[]> {
  await db.raw('create schema if not exists ??', [schema]);
  const [, applied] = (await db.migrate.latest({ migrationSource, schemaName: schema, tableName: 'smx_migrations' })) as [number, string[]];
  return applied;
}

export async function migrateDown(db: Knex, schema: string): Promise<string[]> {
  const [, reverted] = (await db.migrate.rollback({ migrationSource, schemaName: schema, tableName: 'smx_migrations' }, true)) as [number, string[]];
  return reverted;
}
