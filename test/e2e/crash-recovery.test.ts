/**
 * Nothing is lost between the database and the phone: `smx start` is killed (SIGKILL) while a
 * bulk is being dispatched, and a message is committed without its dispatch signal (the process
 * died between commit and enqueue). After a restart every accepted message reaches the phone,
 * and the phone sends each once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import knexFactory from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

test('a killed process loses no accepted message and sends none twice', async (t) => {
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-crash-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_crash_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-crash-${id}`,
    SMX_SECRET: `crash-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(await freePort()),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.CRASH_LOG_LEVEL ?? 'warn',
  };
  const base = `http://127.0.0.1:${env.SMX_HTTP_PORT}`;
  const db = knexFactory({ client: 'pg', connection: PG_URL, searchPath: [env.SMX_DATABASE_SCHEMA] });
  let server: SmxProcess | undefined;
  t.teardown(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await db.destroy();
    await cleanupTestSmx({
      redisPrefix: env.SMX_REDIS_PREFIX,
      smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
    } as never);
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = async () => {
    server = runSmx(['start'], env);
    const ready = async () =>
      (await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(5_000) }).catch(() => null))?.status === 200;
    // The output as it is when waiting fails (not when it starts) tells why.
    await eventually(ready, 60_000, 'smx to start').catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${server!.output()}`);
    });
  };
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  await start();
  const auth = { authorization: `Bearer ${admin}` };
  const project = (await call('POST', '/admin/projects', { name: 'crash' }, auth)).body.data;
  const key = (await call('POST', `/admin/projects/${project.id}/api-keys`, { name: 'k' }, auth)).body.data.key;
  const token = (await call('POST', `/admin/projects/${project.id}/link-tokens`, undefined, auth)).body.data.token;
  const credentials = await linkDevice({ server: base, token, name: 'crash phone' });
  await call('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 }, auth);

  const sends = new Map<string, number>();
  const phone = new ReferenceDevice({
    credentials,
    reconnectPeriodMs: 200,
    report: { sent: true, delivered: true },
    onSend: (m: OutboxMessage) => void sends.set(m.id, (sends.get(m.id) ?? 0) + 1),
  });
  t.teardown(() => phone.stop());
  await phone.start();

  const recipients = Array.from({ length: 3000 }, (_, i) => `+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`);
  const bulk = await call(
    'POST',
    '/v1/send-sms/bulk',
    { to: recipients, message: 'crash test' },
    { 'x-smx-api-key': key },
  );
  t.is(bulk.status, 202);
  t.is(bulk.body.data.accepted, 3000);
  // Kill it mid-dispatch: some messages are on the phone, most are not.
  await eventually(async () => sends.size >= 200, 30_000, 'dispatch to start');
  server!.kill('SIGKILL');
  await exited(server!);
  const before = sends.size;

  // Committed, never signalled: as if the process died between the commit and the enqueue.
  const orphanId = `msg_${randomBytes(16).toString('base64url')}`;
  const now = new Date();
  await db('messages').insert({
    id: orphanId,
    project_id: project.id,
    kind: 'sms',
    device_id: credentials.deviceId,
    to: '+14155550999',
    body: 'orphan',
    body_sealed: false,
    parts: 1,
    priority: 0,
    status: 'QUEUED',
    created_at: now,
    expires_at: new Date(now.getTime() + 3_600_000),
    updated_at: now,
  });

  await start();
  const ids = new Set(
    (await db('messages').where({ project_id: project.id }).select('id')).map((r: { id: string }) => r.id),
  );
  t.is(ids.size, 3001);
  await eventually(
    async () => [...ids].every((m) => sends.has(m)),
    60_000,
    'every accepted message on the phone after the restart',
  ).catch(async (e) => {
    const { Queue } = await import('bullmq');
    const q = new Queue('dispatch', {
      connection: { url: REDIS_URL } as never,
      prefix: `${env.SMX_REDIS_PREFIX}:bull`,
    });
    const dedup = await q.getDeduplicationJobId(`dispatch:${credentials.deviceId}`);
    const job = dedup ? await q.getJob(dedup) : null;
    t.log(
      'counts',
      await q.getJobCounts(),
      'dedup',
      dedup,
      job ? await job.getState() : null,
      job?.data,
      job?.timestamp,
      job?.delay,
    );
    const active = await q.getActive();
    t.log(
      'active',
      active.map((j) => [j.id, j.data, j.attemptsMade, j.processedOn]),
    );
    await q.close();
    t.log(
      sends.size,
      before,
      server!
        .output()
        .split('\n')
        .filter((l) => /outbox|dispatch|broker|fail|error|client/i.test(l) && !/maintenance/.test(l))
        .slice(-60)
        .join('\n'),
    );
    throw e;
  });
  t.true(
    [...sends.values()].every((n) => n === 1),
    'the phone sent each message once',
  );
  t.true(sends.has(orphanId), 'the message committed without a signal was found by the recovery sweep');
  t.log(`${before} of 3000 had reached the phone before the kill`);
  await eventually(
    async () =>
      Number(
        (await db('messages').where({ project_id: project.id, status: 'DELIVERED' }).count({ n: '*' }).first())?.n,
      ) === 3001,
    30_000,
    'all DELIVERED',
  );

  server!.kill('SIGTERM');
  t.is(await exited(server!), 0, server!.output());
});
