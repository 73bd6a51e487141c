/**
 * SIGTERM under load keeps the contract: requests in flight get their real answer, requests
 * arriving while the server drains get 503 UNAVAILABLE in the envelope with Retry-After and an
 * x-request-id, and once the listener is closed new connections are refused (a load balancer moves
 * on). Nothing ends in a reset connection, and every 201 reaches the phone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, eventually, PG_URL, REDIS_URL } from '../helpers/smx.js';

interface Answer {
  status: number;
  body?: any;
  requestId?: string;
  retryAfter?: string;
  error?: string;
}

/** One POST on a keep-alive agent; connection errors are returned, not thrown. */
function post(agent: Agent, port: number, path: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, requestId: res.headers['x-request-id'] as string | undefined, retryAfter: res.headers['retry-after'] as string | undefined });
      });
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, error: error.code ?? error.message }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, error: error.code ?? error.message }));
    req.end(payload);
  });
}

test('SIGTERM under load: in-flight requests answered, the rest 503 in the envelope or refused, none reset; every 201 delivered', async (t) => {
  t.timeout(90_000);
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-shutdown-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const port = await freePort();
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_shutdown_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-shutdown-${id}`,
    SMX_SECRET: `shutdown-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(port),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  const base = `http://127.0.0.1:${port}`;
  let server: SmxProcess | undefined;
  t.teardown(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await cleanupTestSmx({ redisPrefix: env.SMX_REDIS_PREFIX, smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } } } as never);
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = async () => {
    server = runSmx(['start'], env);
    await eventually(async () => (await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(5000) }).catch(() => null))?.status === 200, 60_000, 'smx to start').catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${server!.output()}`);
    });
  };
  const call = async (path: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return (await response.json()) as any;
  };

  await start();
  const auth = { authorization: `Bearer ${admin}` };
  const project = (await call('/admin/projects', { name: 'shutdown' }, auth)).data;
  const key = (await call(`/admin/projects/${project.id}/api-keys`, { name: 'k' }, auth)).data.key;
  const token = (await call(`/admin/projects/${project.id}/link-tokens`, undefined, auth)).data.token;
  const credentials = await linkDevice({ server: base, token, name: 'phone' });
  await fetch(`${base}/admin/devices/${credentials.deviceId}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ sendRatePerMinute: 0 }) });
  const received = new Set<string>();
  const phone = new ReferenceDevice({ credentials, reconnectPeriodMs: 200, report: { sent: true, delivered: true }, onSend: (m) => void received.add(m.id) });
  t.teardown(() => phone.stop());
  await phone.start();

  // 8 keep-alive clients send SMS back to back; SIGTERM comes after 1 s of it.
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  const answers: Answer[] = [];
  let stop = false;
  let n = 0;
  const clients = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const answer = await post(agent, port, '/v1/send-sms', { to: `+4915112${String(300_000 + n++)}`, message: 'shutdown test' }, { 'x-smx-api-key': key });
      answers.push(answer);
      if (answer.error === 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const beforeTerm = answers.length;
  server!.kill('SIGTERM');
  const code = await exited(server!);
  stop = true;
  await Promise.all(clients);

  const accepted = answers.filter((a) => a.status === 201);
  const draining = answers.filter((a) => a.status === 503);
  const refused = answers.filter((a) => a.error === 'ECONNREFUSED');
  const other = answers.filter((a) => a.status !== 201 && a.status !== 503 && a.error !== 'ECONNREFUSED');
  t.log(`${answers.length} requests (${beforeTerm} before SIGTERM): ${accepted.length} × 201, ${draining.length} × 503 while draining, ${refused.length} refused after the listener closed, ${other.length} other; exit code ${code}`);
  t.is(code, 0, 'a clean exit');
  t.deepEqual(other.map((a) => a.error ?? `${a.status} ${JSON.stringify(a.body)}`), [], 'no reset connection, no answer outside the contract');
  for (const a of draining) {
    t.is(a.body?.success, false);
    t.is(a.body?.error?.code, 'UNAVAILABLE');
    t.truthy(a.retryAfter, '503 carries Retry-After');
    t.truthy(a.requestId, '503 carries x-request-id');
    t.is(a.body?.requestId, a.requestId);
  }

  // Every 201 was committed: after a restart the phone gets each.
  await start();
  const ids = accepted.map((a) => a.body.data.messageId as string);
  await eventually(async () => ids.every((messageId) => received.has(messageId)), 30_000, 'every accepted SMS at the phone');
  server!.kill('SIGTERM');
  await exited(server!);
  t.pass();
});
