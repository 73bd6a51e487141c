import { readFileSync } from 'node:fs';
import { Server as NetServer, type Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { apiError } from '../errors.js';
import { httpDurationHistogram } from '../metrics.js';
import { adminGuard, apiKeyGuard } from './auth.js';
import type { HttpDependencies } from './dependencies.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from './error-handler.js';
import { htmlHeaders, requestIdOf, setBaseHeaders } from './response-headers.js';
import { registerOpenApi } from './openapi.js';
import { registerRateLimits } from './rate-limits.js';
import { unacceptableJson } from './validation.js';
import { adminDeviceRoutes } from './routes/admin-devices.js';
import { adminProjectRoutes } from './routes/admin-projects.js';
import { adminTemplateRoutes } from './routes/admin-templates.js';
import { adminWebhookRoutes } from './routes/admin-webhooks.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { healthRoutes } from './routes/health.js';
import { mqttAuthHttpRoutes } from './routes/mqtt-auth-http.js';
import { metricsRoutes } from './routes/metrics.js';
import { BULL_BOARD_PATH, queueBoardRoutes } from './routes/queues-board.js';
import { deviceLinkRoutes } from './routes/v1-devices.js';
import { messageRoutes } from './routes/v1-messages.js';
import { otpRoutes } from './routes/v1-otp.js';
import { statusRoutes } from './routes/v1-status.js';
import { smsRoutes } from './routes/v1-sms.js';
import { smsgateMobileRoutes } from './routes/smsgate-mobile.js';
import { statsRoutes } from './routes/v1-stats.js';
import { inboxRoutes } from './routes/v1-inbox.js';
import { compatSmsVerifyRoutes } from './routes/compat-sms-verify.js';
import { compatOtpRoutes } from './routes/compat-otp.js';
import { compatNumberRentalRoutes } from './routes/compat-number-rental.js';
import { smsgateThirdPartyRoutes } from './routes/smsgate-3rdparty.js';
import { rentalRoutes } from './routes/v1-rentals.js';
import { installLogContext } from './log-context.js';
import { consoleRoutes } from './routes/console.js';
import { adminProjectActivityRoutes } from './routes/admin-project-activity.js';
import { adminProjectTryRoutes } from './routes/admin-project-try.js';
import { adminWebhookStateRoutes } from './routes/admin-webhook-state.js';

/** How long shutdown waits for requests in flight after the grace (their own dependency timeouts bound them). */
const IN_FLIGHT_DRAIN_MS = 15_000;

/** Body limit of every route but bulk sends (docs/api.md: 1 MiB; bulk 10 MiB). */
export const BODY_LIMIT = 1024 * 1024;

/**
 * SMX_TRUST_PROXY as a hop count: the client address is the one `hops` proxies back in
 * X-Forwarded-For (Express semantics). Fastify 5.12 trusts nothing when given a bare number (a
 * client reaching the server directly could forge the header); a hop count in SMX's config is
 * the operator's word that that many proxies stand in front, so its function form is used.
 */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

/**
 * An extra route module (a plugin's, a later issue's): registers its routes on the
 * (encapsulated) instance it is given, with the HTTP API's dependencies if it needs any.
 */
export type RouteModule = (app: FastifyInstance, deps: HttpDependencies) => Promise<void>;

export interface HttpServerOptions {
  /** Extra /v1 route modules (later issues and plugins), registered behind the API-key guard. */
  v1Routes?: RouteModule[];
  /** Extra /admin route modules, registered behind the admin guard. */
  adminRoutes?: RouteModule[];
}

/**
 * Builds the HTTP API: envelope and error catalogue, request ids, OpenAPI, the /v1 routes behind
 * the API-key guard, the admin routes, Bull Board and /metrics behind the admin token. Its
 * dependencies come built from the composition root (`httpDependencies` in dependencies.ts).
 */
export async function buildHttpServer(
  deps: HttpDependencies,
  options: HttpServerOptions = {},
): Promise<FastifyInstance> {
  const { config, logger, metrics: registry, apiKeys: keys } = deps;

  const httpLog = logger.child({ component: 'http' }) as FastifyBaseLogger;
  const app = Fastify({
    ...(config.tls
      ? { https: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } }
      : {}),
    loggerInstance: httpLog,
    // One access line per request is written in onResponse (with the route pattern, not the URL).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: requestIdOf,
    bodyLimit: BODY_LIMIT,
    // Fastify's own 503 while closing is outside the envelope: the onRequest hook below answers it.
    return503OnClosing: false,
    // Behind a proxy the client address (per-source limits, logs) is X-Forwarded-For, from the proxies trusted here only.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    routerOptions: { ignoreTrailingSlash: true },
    // Router and HTTP-parser errors come before any hook: answered in the envelope with a request id too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: clientErrorHandler(httpLog),
  });
  // class-validator does the validating; route schemas feed the OpenAPI document only.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON in (docs/api.md "Conventions"): Fastify's default text/plain parser would hand a string
  // to the handlers; without it any other content type is 415, answered as INVALID_JSON.
  app.removeContentTypeParser('text/plain');
  // An empty body sent with Content-Type: application/json (many clients do, on POSTs that take
  // no body such as /cancel) is no body; anything else is parsed as Fastify does by default.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // JSON.parse itself does not recurse; the depth is checked here, once for every JSON route,
  // before validation (which does).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    return json(request, body as string, (error, parsed) => {
      if (error) return done(error, undefined);
      const refused = unacceptableJson(parsed);
      return refused ? done(refused, undefined) : done(null, parsed);
    });
  });

  const duration = httpDurationHistogram(registry);
  const html = htmlHeaders(config.publicUrl);
  // Requests still arriving on open connections while the server drains: 503 UNAVAILABLE, so a
  // load balancer retries them elsewhere.
  let closing = false;
  const open = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Stop accepting first (new connections are refused, a load balancer moves on), but not the
    // way http.Server#close does it: that also drops idle keep-alive connections at once, and a
    // client writing on one at that moment sees a reset. For a short grace those connections are
    // answered (503 with Connection: close) instead; then the idle rest are closed and the
    // requests in flight finish with their real answers.
    const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(app.server, () => resolve()));
    const graceEnds = Date.now() + config.shutdownGraceMs;
    while (open.size > 0 && Date.now() < graceEnds) await new Promise((resolve) => setTimeout(resolve, 25));
    app.server.closeIdleConnections();
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_DRAIN_MS).unref())]);
  });
  app.addHook('onRequest', async (request, reply) => {
    setBaseHeaders(reply.raw, request.id, request.url);
    if (closing) {
      void reply.header('connection', 'close');
      throw apiError('UNAVAILABLE', { message: 'The server is shutting down; retry the request.', retryAfter: 1 });
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (/^text\/html/i.test(String(reply.getHeader('content-type') ?? ''))) void reply.headers(html);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    request.log.info(
      { method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
  });
  // The access line (and any other line of the request) names the project and the challenge or message.
  installLogContext(app);
  installErrorHandling(app);
  await registerOpenApi(app, config.publicUrl ?? '/');
  // Per-source limits on the link and token routes (rate-limits.ts); before the routes, which they attach to.
  await registerRateLimits(app, deps.redis, config.redisPrefix);

  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => consoleRoutes(scope));
  await app.register(async (scope) => deviceLinkRoutes(scope, deps));
  // The SMSGate app's mobile API (device tokens and signed webhooks, no API key).
  await app.register(async (scope) => smsgateMobileRoutes(scope, deps));

  // Compatibility surfaces: each authenticates itself, parses forms in its own scope, and is
  // not registered at all when switched off (its routes are then NOT_FOUND).
  if (config.compatSmsVerify) await app.register(async (scope) => compatSmsVerifyRoutes(scope, deps));
  if (config.compatOtp) await app.register(async (scope) => compatOtpRoutes(scope, deps));
  if (config.compatNumberRental) await app.register(async (scope) => compatNumberRentalRoutes(scope, deps));
  if (config.compatSmsgate) await app.register(async (scope) => smsgateThirdPartyRoutes(scope, deps));
  // RabbitMQ's HTTP auth backend (SMX_MQTT_AUTH_HTTP_TOKEN): answers RabbitMQ only, in its own form-parsing scope.
  if (config.mqttAuthHttp) await app.register(async (scope) => mqttAuthHttpRoutes(scope, deps));

  await app.register(async (v1) => {
    v1.addHook('onRequest', apiKeyGuard(keys, config.adminToken));
    for (const routes of [
      otpRoutes,
      smsRoutes,
      messageRoutes,
      statusRoutes,
      statsRoutes,
      inboxRoutes,
      webhookDeliveryRoutes,
      rentalRoutes,
      ...(options.v1Routes ?? []),
    ])
      await routes(v1, deps);
  });

  await app.register(async (admin) => {
    admin.addHook(
      'onRequest',
      adminGuard(config.adminToken, keys, { browserPrefix: BULL_BOARD_PATH, publicUrl: config.publicUrl }),
    );
    // No id, name or number SMX stores holds a NUL character, and PostgreSQL refuses one in a
    // query (a 500): an admin path parameter with one names nothing. (The /v1 routes check their
    // ids' shape themselves and answer their own *_NOT_FOUND codes.)
    admin.addHook('preValidation', async (request) => {
      const params = request.params as Record<string, unknown> | undefined;
      if (params && Object.values(params).some((value) => typeof value === 'string' && value.includes('\u0000'))) {
        throw apiError('NOT_FOUND', { message: 'No such resource.' });
      }
    });
    for (const routes of [
      adminProjectRoutes,
      adminDeviceRoutes,
      adminTemplateRoutes,
      adminWebhookRoutes,
      ...(options.adminRoutes ?? []),
    ])
      await routes(admin, deps);
    await adminProjectActivityRoutes(admin, deps);
    await adminProjectTryRoutes(admin, deps);
    await adminWebhookStateRoutes(admin, deps);
    await metricsRoutes(admin, registry);
    await queueBoardRoutes(admin, deps.queues);
  });
  return app;
}

export type { FastifyRequest };
