/**
 * What a failed webhook attempt tells the tenant: coarse errors only ("connection failed",
 * "refused: address not allowed"), never the errno per port or the address a name resolved to;
 * the detail is kept for the server log. Real sockets on 127.0.0.1, no SMX.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { tenantError } from '../../core/webhooks/attempts.js';
import { DELIVERY_ERRORS, sendWebhook } from '../../core/webhooks/sender.js';

/** A port that was free a moment ago (nothing listens: ECONNREFUSED). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts and resets at once (ECONNRESET), or speaks no TLS (EPROTO for https). */
async function rudeServer(t: { teardown: (fn: () => void) => void }): Promise<number> {
  const server: Server = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

test('refused, reset and TLS failures all read "connection failed"; the errno stays in the detail', async (t) => {
  const refused = await sendWebhook(
    `http://127.0.0.1:${await closedPort()}/x`,
    '{}',
    {},
    { allowPrivate: true, timeoutMs: 5_000 },
  );
  const rude = await rudeServer(t);
  const reset = await sendWebhook(`http://127.0.0.1:${rude}/x`, '{}', {}, { allowPrivate: true, timeoutMs: 5_000 });
  const tls = await sendWebhook(`https://127.0.0.1:${rude}/x`, '{}', {}, { allowPrivate: true, timeoutMs: 5_000 });
  for (const [name, result, errno] of [
    ['refused', refused, /ECONNREFUSED/],
    ['reset', reset, /ECONNRESET|EPIPE/],
    ['tls', tls, /ECONNRESET|EPROTO|EPIPE/],
  ] as const) {
    t.like(result, { ok: false, statusCode: null, refused: false, error: DELIVERY_ERRORS.connection }, name);
    t.regex(result.detail ?? '', errno, `${name}: the server log keeps the errno`);
  }
});

test('a refused target reads "refused: address not allowed" without the address it resolved to', async (t) => {
  const byName = await sendWebhook('http://localhost:9/x', '{}', {}, { allowPrivate: false });
  t.like(byName, { ok: false, refused: true, error: DELIVERY_ERRORS.refused });
  t.notRegex(byName.error!, /127\.0\.0\.1|::1|loopback/);
  t.regex(byName.detail!, /127\.0\.0\.1|::1/, 'the operator sees the address');
  const documentation = await sendWebhook('https://[2001:db8::1]/x', '{}', {}, { allowPrivate: false });
  t.like(documentation, { refused: true, error: DELIVERY_ERRORS.refused });
});

test('delivery log rows written before the coarse errors are shown coarse too', (t) => {
  t.is(tenantError('connection failed (ECONNREFUSED)'), DELIVERY_ERRORS.connection);
  t.is(tenantError('connection failed (EPROTO)'), DELIVERY_ERRORS.connection);
  t.is(
    tenantError(
      'refused: the host localhost resolves to a loopback, private, link-local or metadata address (127.0.0.1)',
    ),
    DELIVERY_ERRORS.refused,
  );
  t.is(tenantError('refused: the host nope.invalid does not resolve'), DELIVERY_ERRORS.refused);
  t.is(tenantError('HTTP 500'), 'HTTP 500');
  t.is(tenantError('refused: must be an https URL'), 'refused: must be an https URL');
  t.is(tenantError(null), null);
});
