import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PresenceTracker } from '../../presence/tracker.js';
import { apiError } from '../../errors.js';
import { header } from '../auth.js';
import { exceedsJsonDepth } from '../../json-depth.js';
import { unacceptableJson } from '../validation.js';
import type { Logger } from '../../logger.js';
import type { PresenceStore } from '../../presence/store.js';
import type { Queues } from '../../queues.js';
import { KEEPALIVE_MS, type SmsGateEvents } from '../../smsgate/events.js';
import { SMSGATE_BASE_PATH, type SmsGateService } from '../../smsgate/service.js';
import type { SmxMetrics } from '../../smx-metrics.js';

/** What smsgateMobileRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface SmsGateMobileRouteDeps {
  smsgate: SmsGateService;
  smsgateEvents: SmsGateEvents;
  presence: PresenceStore;
  queues: Queues;
  counters: SmxMetrics;
  logger: Logger;
}

/**
 * The SMSGate app's mobile API (private-server mode), mounted at `/compat/smsgate/mobile/v1`:
 * the URL the user types into the app is `{SMX_PUBLIC_URL}/compat/smsgate/mobile/v1`. Errors use
 * the SMX envelope; the app only looks at status codes (401 makes it register again).
 */
export async function smsgateMobileRoutes(app: FastifyInstance, deps: SmsGateMobileRouteDeps): Promise<void> {
  await app.register(async (scope) => mobileApi(scope, deps), { prefix: SMSGATE_BASE_PATH });
}

async function mobileApi(app: FastifyInstance, deps: SmsGateMobileRouteDeps): Promise<void> {
  const { smsgate: service, smsgateEvents: events, presence } = deps;
  const tracker = new PresenceTracker(
    presence,
    deps.queues.deviceEvents,
    deps.counters.deviceConnections.labels({ transport: 'smsgate' }),
  );
  const log = deps.logger.child({ component: 'smsgate' });

  // Webhook signatures cover the exact bytes: keep the raw body beside the parsed one.
  const rawBodies = new WeakMap<FastifyRequest, string>();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    rawBodies.set(request, text);
    if (text.length === 0) return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return done(apiError('INVALID_JSON', { cause: error }), undefined);
    }
    // As the server's own JSON parser: deep nesting is refused before anything walks it.
    // Only the depth here: strings are checked item by item by the SMSGate payload parsers, so a
    // bad state in a batch is dropped alone (the app would resend a refused batch forever).
    const refused = exceedsJsonDepth(parsed) ? unacceptableJson(parsed) : undefined;
    return refused ? done(refused, undefined) : done(null, parsed);
  });

  // Open event streams end on shutdown, and their offline marks finish before Redis closes.
  const closing = new Set<Promise<unknown>>();
  app.addHook('preClose', async () => {
    await events.stop();
    await Promise.allSettled([...closing]);
  });

  app.post('/device', { schema: { hide: true } }, async (request, reply) => {
    return reply.status(201).send(await service.register(request.headers.authorization, request.body, request.ip));
  });

  app.patch('/device', { schema: { hide: true } }, async (request, reply) => {
    const device = await service.authenticate(request.headers.authorization);
    await service.patchDevice(device, request.body);
    return reply.status(204).send();
  });

  app.get('/message', { schema: { hide: true } }, async (request) => {
    const device = await service.authenticate(request.headers.authorization);
    const order = (request.query as { order?: string }).order === 'lifo' ? 'lifo' : 'fifo';
    return service.pull(device, order);
  });

  app.patch('/message', { schema: { hide: true } }, async (request, reply) => {
    const device = await service.authenticate(request.headers.authorization);
    await service.report(device, request.body);
    return reply.status(204).send();
  });

  app.get('/settings', { schema: { hide: true } }, async (request) =>
    service.settings(await service.authenticate(request.headers.authorization)),
  );

  app.get('/webhooks', { schema: { hide: true } }, async (request) =>
    service.webhooks(await service.authenticate(request.headers.authorization)),
  );

  app.post('/webhooks/:deviceId/sms-received', { schema: { hide: true } }, async (request, reply) => {
    const result = await service.inbound(
      (request.params as { deviceId: string }).deviceId,
      rawBodies.get(request) ?? '',
      header(request, 'x-signature'),
      header(request, 'x-timestamp'),
    );
    request.log.info({ result }, 'smsgate webhook');
    return reply.status(204).send();
  });

  /**
   * `GET /events`: Server-Sent Events. An open stream is the device's connection: online while
   * it lasts (with the same `{ online, source: 'broker' }` presence events an MQTT connection
   * makes, so held messages are woken and `device.online/offline` fire alike).
   */
  app.get('/events', { schema: { hide: true } }, async (request, reply) => {
    const device = await service.authenticate(request.headers.authorization);
    await events.start();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    res.write(':connected\n\n');
    events.attach(device.id, res);
    const connectionId = `${events.holderId}:${randomUUID()}`;
    const opened = tracker
      .connected(device.id, connectionId)
      .catch((error: unknown) => log.error({ err: error, deviceId: device.id }, 'presence online not recorded'));
    const keepalive = setInterval(() => {
      res.write(':keepalive\n\n');
      presence.report(device.id, {}).catch(() => undefined);
    }, KEEPALIVE_MS);
    keepalive.unref();
    log.info({ deviceId: device.id }, 'smsgate event stream opened');
    res.on('close', () => {
      clearInterval(keepalive);
      events.detach(device.id, res);
      const offline = opened
        .then(() => tracker.disconnected(device.id, connectionId))
        .catch((error: unknown) => log.error({ err: error, deviceId: device.id }, 'presence offline not recorded'))
        .finally(() => closing.delete(offline));
      closing.add(offline);
      log.info({ deviceId: device.id }, 'smsgate event stream closed');
    });
  });
}
