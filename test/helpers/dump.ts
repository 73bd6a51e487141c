/**
 * Everything a test SMX keeps at rest, as text to search: every row of every table of its
 * database schema, and every Redis key and value under its prefix (strings, hashes, lists, sets,
 * sorted sets, streams; binary values such as msgpack'd MQTT packets are kept as raw bytes).
 */
import type { Knex } from 'knex';
import { Redis } from 'ioredis';
import { REDIS_URL, type TestSmx } from './smx.js';

/** The knex instance of a running test SMX. */
export function knexOf(smx: TestSmx): Knex {
  return smx.smx.container.resolve<Knex>(Symbol.for('smx.Knex'));
}

/** Every row of every table in the instance's schema, as `table: JSON` lines. */
export async function dumpDatabase(smx: TestSmx): Promise<{ tables: string[]; text: string }> {
  const db = knexOf(smx);
  const schema = smx.smx.config.databaseSchema;
  const tables: string[] = (
    await db('information_schema.tables').select('table_name').where({ table_schema: schema, table_type: 'BASE TABLE' })
  ).map((r: { table_name: string }) => r.table_name);
  const lines: string[] = [];
  for (const table of tables.sort()) {
    // row_to_json renders every column as PostgreSQL stores it (jsonb, timestamps, bytea as hex).
    const result = await db.raw('select row_to_json(t)::text as row from ??.?? as t', [schema, table]);
    for (const { row } of result.rows as Array<{ row: string }>) lines.push(`${table}: ${row}`);
  }
  return { tables, text: lines.join('\n') };
}

/** Every key and value under `{prefix}:`, concatenated as bytes (values are not decoded). */
export async function dumpRedis(prefix: string): Promise<{ keys: string[]; bytes: Buffer }> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const chunks: Buffer[] = [];
  const keys: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    for (const key of keys) {
      chunks.push(Buffer.from(`\n${key} => `));
      const type = await redis.type(key);
      switch (type) {
        case 'string':
          chunks.push((await redis.getBuffer(key)) ?? Buffer.alloc(0));
          break;
        case 'hash':
          for (const [field, value] of Object.entries(await redis.hgetallBuffer(key)))
            chunks.push(Buffer.from(`${field}=`), value, Buffer.from(' '));
          break;
        case 'list':
          chunks.push(...(await redis.lrangeBuffer(key, 0, -1)));
          break;
        case 'set':
          chunks.push(...(await redis.smembersBuffer(key)));
          break;
        case 'zset':
          chunks.push(...(await redis.zrangeBuffer(key, '0', '-1')));
          break;
        case 'stream':
          for (const [id, fields] of (await redis.xrangeBuffer(key, '-', '+')) as unknown as Array<[Buffer, Buffer[]]>)
            chunks.push(id, ...fields);
          break;
        case 'none':
          break; // expired between SCAN and TYPE
        default:
          chunks.push(Buffer.from(`<unsupported type ${type}>`));
      }
    }
  } finally {
    redis.disconnect();
  }
  return { keys, bytes: Buffer.concat(chunks) };
}
