/**
 * SIGTERM under load keeps the contract: requests in flight get their real answer, requests
 * arriving while the server drains get 503 UNAVAILABLE in the envelope with Retry-After and an
 * x-request-id, and once the listener is closed new connections are refused (a load balancer moves
 * on). Nothing ends in a reset connection, and every 201 reaches the phone.
 */
import { request as httpRequest, Agent } from 'node:http';
import test from 'ava';
import { ReferenceDevice } from '../../device/reference-device.js';
import { Deployment } from '../helpers/deployment.js';
import { exited, type SmxProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/eventually.js';

interface Answer {
  status: number;
  body?: any;
  requestId?: string;
  retryAfter?: string;
  error?: string;
}

/** One POST on a keep-alive agent; connection errors are returned, not thrown. */
function post(
  agent: Agent,
  port: number,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({
            status: res.statusCode ?? 0,
            body: parsed,
            requestId: res.headers['x-request-id'] as string | undefined,
            retryAfter: res.headers['retry-after'] as string | undefined,
          });
        });
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, error: error.code ?? error.message }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, error: error.code ?? error.message }));
    req.end(payload);
  });
}

test('SIGTERM under load: in-flight requests answered, the rest 503 in the envelope or refused, none reset; every 201 delivered', async (t) => {
  t.timeout(90_000);
  const deployment = await Deployment.create(t, 'shutdown');
  const port = Number(deployment.env.SMX_HTTP_PORT);
  let server: SmxProcess = deployment.start('start');
  await deployment.ready();
  const { projectId, key } = await deployment.project('shutdown');
  const credentials = await deployment.linkPhone(projectId, 'phone');
  const received = new Set<string>();
  const phone = new ReferenceDevice({
    credentials,
    reconnectPeriodMs: 200,
    report: { sent: true, delivered: true },
    onSend: (m) => void received.add(m.id),
  });
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
      const answer = await post(
        agent,
        port,
        '/v1/send-sms',
        { to: `+4915112${String(300_000 + n++)}`, message: 'shutdown test' },
        { 'x-smx-api-key': key },
      );
      answers.push(answer);
      if (answer.error === 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const beforeTerm = answers.length;
  server.kill('SIGTERM');
  const code = await exited(server);
  stop = true;
  await Promise.all(clients);

  const accepted = answers.filter((a) => a.status === 201);
  const draining = answers.filter((a) => a.status === 503);
  const refused = answers.filter((a) => a.error === 'ECONNREFUSED');
  const other = answers.filter((a) => a.status !== 201 && a.status !== 503 && a.error !== 'ECONNREFUSED');
  t.log(
    `${answers.length} requests (${beforeTerm} before SIGTERM): ${accepted.length} × 201, ${draining.length} × 503 while draining, ${refused.length} refused after the listener closed, ${other.length} other; exit code ${code}`,
  );
  t.is(code, 0, 'a clean exit');
  t.deepEqual(
    other.map((a) => a.error ?? `${a.status} ${JSON.stringify(a.body)}`),
    [],
    'no reset connection, no answer outside the contract',
  );
  for (const a of draining) {
    t.is(a.body?.success, false);
    t.is(a.body?.error?.code, 'UNAVAILABLE');
    t.truthy(a.retryAfter, '503 carries Retry-After');
    t.truthy(a.requestId, '503 carries x-request-id');
    t.is(a.body?.requestId, a.requestId);
  }

  // Every 201 was committed: after a restart the phone gets each.
  server = deployment.start('start');
  await deployment.ready();
  const ids = accepted.map((a) => a.body.data.messageId as string);
  await eventually(
    async () => ids.every((messageId) => received.has(messageId)),
    30_000,
    'every accepted SMS at the phone',
  );
  server.kill('SIGTERM');
  await exited(server);
  t.pass();
});
