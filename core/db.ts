import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
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

/**
 * PostgreSQL settings of the embedded database (written to its postgresql.conf at every start).
 * PostgreSQL's defaults reserve 128 MB of shared buffers and shared memory for 100 connections
 * inside PGlite's WebAssembly memory, which never shrinks: `smx start` idled at ~400 MB RSS on
 * existing data (~145 MB on PostgreSQL). PGlite is one connection in one process, and a database
 * that outgrows 16 MB of buffers reads from the OS file cache; a large one belongs on PostgreSQL.
 * Measured in README.md ("The two commands").
 */
export const PGLITE_SETTINGS: readonly string[] = ['shared_buffers=16MB', 'max_connections=5'];

let preloaded: Pick<PGliteOptions, 'pgliteWasmModule' | 'fsBundle'> = {};

/**
 * Compiles PGlite's WebAssembly and reads its file bundle in the background: `smx start` calls it
 * before loading the rest of SMX, so the compile runs beside the module loading, and the
 * embedded database created afterwards gets them ready-made (~0.2-0.3 s of start-up).
 */
export async function preloadPglite(): Promise<void> {
  const dist = new URL('.', import.meta.resolve('@electric-sql/pglite'));
  const [wasm, bundle] = await Promise.all([
    readFile(new URL('pglite.wasm', dist)),
    readFile(new URL('pglite.data', dist)),
  ]);
  // WebAssembly is a global of Node; this project's TypeScript libs (no DOM) do not declare it.
  const { WebAssembly: wasmApi } = globalThis as unknown as {
    WebAssembly: { compile(bytes: Uint8Array): Promise<PGliteOptions['pgliteWasmModule']> };
  };
  preloaded = { pgliteWasmModule: await wasmApi.compile(wasm), fsBundle: new Blob([bundle]) };
}

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
  let dir: string | undefined;
  if (options.dataDir !== ':memory:') {
    dir = resolve(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
  }
  // knex-pglite would create the instance itself, without options; it takes ours instead.
  const pglite = new PGlite(dir, { ...preloaded, postgresqlconf: [...PGLITE_SETTINGS] });
  return knexFactory({
    client: PgLiteClient,
    dialect: 'postgres',
    connection: { pglite } as unknown as Knex.StaticConnectionConfig,
    searchPath: [options.schema],
  });
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
  const [, applied] = (await db.migrate.latest({
    migrationSource,
    schemaName: schema,
    tableName: 'smx_migrations',
  })) as [number, string[]];
  return applied;
}

export async function migrateDown(db: Knex, schema: string): Promise<string[]> {
  const [, reverted] = (await db.migrate.rollback(
    { migrationSource, schemaName: schema, tableName: 'smx_migrations' },
    true,
  )) as [number, string[]];
  return reverted;
}
