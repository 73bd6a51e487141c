/**
 * Child process of `smx start` (see embedded-database.ts): creates the PGlite database under the
 * data folder given as argument, applies the migrations and exits, taking initdb's memory with it.
 */
import { loadConfig, createDatabase, migrateLatest } from '../../core/index.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: embedded-database-init.js <dataDir>');
const { databaseSchema } = loadConfig();
const db = createDatabase({ url: undefined, schema: databaseSchema, dataDir });
try {
  await migrateLatest(db, databaseSchema);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
