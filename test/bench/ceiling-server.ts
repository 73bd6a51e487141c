/**
 * The naive ceiling: a bare Fastify server in its own process whose handler does what any
 * send-otp must do at the least, one Redis SET and one PostgreSQL INSERT, with the same
 * drivers and pool size as SMX (ioredis, one connection; pg, a pool of 10 like SMX's knex pool).
 * Its req/s is what this machine can do with this stack; send-otp / ceiling is SMX's efficiency.
 *
 * Env: CEILING_PORT, DATABASE_URL, CEILING_SCHEMA, REDIS_URL, CEILING_REDIS_PREFIX.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { serveIpc } from './ipc.js';

const port = Number(process.env.CEILING_PORT);
const schema = process.env.CEILING_SCHEMA!;
const prefix = process.env.CEILING_REDIS_PREFIX!;
const table = `"${schema}".bench_ceiling`;

const redis = new Redis(process.env.REDIS_URL!);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });

app.post('/v1/send-otp', async (request, reply) => {
  const body = request.body as { to?: unknown } | undefined;
  const to = typeof body?.to === 'string' ? body.to : '';
  const id = `ver_${randomBytes(12).toString('hex')}`;
  await redis.set(`${prefix}:ceiling:${id}`, to, 'EX', 600);
  await pool.query(`insert into ${table} (id, "to") values ($1, $2)`, [id, to]);
  reply.code(201);
  return { success: true, data: { verificationId: id, to, status: 'PENDING' } };
});

serveIpc({
  async start() {
    await pool.query(`create schema if not exists "${schema}"`);
    await pool.query(
      `create table if not exists ${table} (id text primary key, "to" text not null, created_at timestamptz not null default now())`,
    );
    await app.listen({ port, host: '127.0.0.1' });
    return { port };
  },
  async rows() {
    const result = await pool.query<{ n: string }>(`select count(*)::text as n from ${table}`);
    return Number(result.rows[0]!.n);
  },
  async stop() {
    await app.close();
    await pool.end();
    redis.disconnect();
    return true;
  },
});
