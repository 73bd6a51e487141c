import { readFileSync } from 'node:fs';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError, isApiError } from '../../errors.js';
import type { HealthService } from '../../health.js';
import type { RuntimeConfig } from '../../secrets.js';
import type { ApiKeyService } from '../../services/api-keys.js';
import type { DeviceService } from '../../services/devices.js';
import type { Authorise, Principal, SmsGateAuth } from '../../smsgate/third-party/auth.js';
import { SmsGateError } from '../../smsgate/third-party/errors.js';
import type { SmsGateInbox } from '../../smsgate/third-party/inbox.js';
import type { SmsGateMessages } from '../../smsgate/third-party/messages.js';
import type { SmsGateSettings } from '../../smsgate/third-party/settings.js';
import type { SmsGateWebhooks } from '../../smsgate/third-party/webhooks.js';
import { isDependencyDown } from '../../unavailable.js';
import { adminGuard } from '../auth.js';
import { smsgateMessageRoutes } from './smsgate-3rdparty-messages.js';
import { smsgateResourceRoutes } from './smsgate-3rdparty-resources.js';

/** Where the SMSGate 3rd-party API is served: a client's base URL is `{SMX_PUBLIC_URL}` + this. */
export const SMSGATE_3RDPARTY_PATH = '/compat/smsgate/3rdparty/v1';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** What the surface's routes use (names as in HttpDependencies). */
export interface SmsGateThirdPartyRouteDeps {
  config: Pick<RuntimeConfig, 'adminToken'>;
  apiKeys: ApiKeyService;
  devices: DeviceService;
  health: HealthService;
  smsgateAuth: SmsGateAuth;
  smsgateMessages: SmsGateMessages;
  smsgateWebhooks: SmsGateWebhooks;
  smsgateSettings: SmsGateSettings;
  smsgateInbox: SmsGateInbox;
}

/**
 * SMSGate's 3rd-party API (contract: ../shared/reference/smsgate-3rdparty-api.md), so the
 * `android-sms-gateway` clients work with their base URL set to
 * `{SMX_PUBLIC_URL}/compat/smsgate/3rdparty/v1` and an SMX project's credentials. Everything under
 * the prefix — 401/403/404, unknown routes, body parse errors — answers SMSGate's `{"message"}`.
 */
export async function smsgateThirdPartyRoutes(app: FastifyInstance, deps: SmsGateThirdPartyRouteDeps): Promise<void> {
  await app.register(async (scope) => surface(scope, deps), { prefix: SMSGATE_3RDPARTY_PATH });

  // The key receivers check X-Signature with (SMSGate's own API never reveals it): the admin's to hand out.
  await app.register(async (admin) => {
    admin.addHook('onRequest', adminGuard(deps.config.adminToken, deps.apiKeys));
    admin.get('/admin/projects/:projectId/smsgate/signing-key', { schema: { hide: true } }, async (request) => {
      const { projectId } = request.params as { projectId: string };
      const signingKey = /^[A-Za-z0-9_-]{1,64}$/.test(projectId)
        ? await deps.smsgateWebhooks.signingKey(projectId)
        : undefined;
      if (signingKey === undefined) throw apiError('NOT_FOUND', { message: 'No project with this id.' });
      return { success: true, data: { signingKey } };
    });
  });
}

async function surface(app: FastifyInstance, deps: SmsGateThirdPartyRouteDeps): Promise<void> {
  const { smsgateAuth: auth } = deps;
  const principals = new WeakMap<FastifyRequest, Principal>();

  app.setErrorHandler((error, request, reply) => {
    const answer = toAnswer(error);
    if (answer.status >= 500) request.log.error({ err: error }, 'smsgate 3rdparty request failed');
    return send(reply, answer);
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, new SmsGateError(404, `Cannot ${request.method} ${request.url.split('?')[0]}`)),
  );

  // Health and the refresh exchange carry no (or their own) credentials; everything else needs a caller.
  const HEALTH = ['/health', '/health/live', '/health/ready', '/health/startup'];
  const open = new Set([...HEALTH, '/auth/token/refresh'].map((path) => `${SMSGATE_3RDPARTY_PATH}${path}`));
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== undefined && open.has(request.routeOptions.url)) return;
    principals.set(request, await auth.authenticate(request.headers.authorization));
  });
  const authorise: Authorise = (request, scope) => {
    const principal = principals.get(request);
    if (!principal) throw new SmsGateError(401, 'Unauthorized');
    auth.require(principal, scope);
    return principal;
  };

  const publicRoute = { schema: { hide: true } };
  const health = async (_request: FastifyRequest, reply: FastifyReply) => {
    const report = await deps.health.check();
    const pass = report.database === 'up';
    return reply.status(pass ? 200 : 503).send({
      status: pass ? 'pass' : 'fail',
      version: VERSION,
      checks: {
        'db:ping': {
          description: 'Database ping',
          observedUnit: 'failed pings',
          observedValue: pass ? 0 : 1,
          status: pass ? 'pass' : 'fail',
        },
        'redis:ping': {
          description: 'Redis ping',
          observedUnit: 'failed pings',
          observedValue: report.redis === 'up' ? 0 : 1,
          status: report.redis === 'up' ? 'pass' : 'warn',
        },
      },
    });
  };
  for (const path of HEALTH) app.get(path, publicRoute, health);

  // JWTs (SMSGate ≥ 1.36; client-ts ≥ 3.1 with an empty login sends `Bearer <access_token>`).
  app.post('/auth/token', { schema: { hide: true } }, async (request, reply) => {
    const principal = authorise(request, 'tokens:manage');
    return reply.status(201).send(await auth.issue(principal, request.body));
  });
  app.post('/auth/token/refresh', publicRoute, async (request, reply) =>
    reply.status(201).send(await auth.refresh(request.headers.authorization)),
  );
  app.delete('/auth/token/:jti', { schema: { hide: true } }, async (request, reply) => {
    const principal = authorise(request, 'tokens:manage');
    await auth.revoke(principal.projectId, (request.params as { jti: string }).jti);
    return reply.status(204).send();
  });

  await smsgateMessageRoutes(app, { messages: deps.smsgateMessages, authorise });
  await smsgateResourceRoutes(app, {
    devices: deps.devices,
    webhooks: deps.smsgateWebhooks,
    settings: deps.smsgateSettings,
    inbox: deps.smsgateInbox,
    authorise,
  });
}

function send(reply: FastifyReply, error: SmsGateError): FastifyReply {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return reply.status(error.status).type('application/json; charset=utf-8').send(error.toJSON());
}

/** Anything thrown under the prefix, as SMSGate's `{"message"}` with its status. Never a stack or SQL. */
export function toAnswer(error: unknown): SmsGateError {
  if (error instanceof SmsGateError) return error;
  if (isApiError(error)) {
    if (error.code === 'INVALID_JSON')
      return new SmsGateError(400, `failed to parse body: ${error.message}`, { cause: error });
    if (error.code === 'PAYLOAD_TOO_LARGE')
      return new SmsGateError(413, 'failed to parse body: the body is too large', { cause: error });
    if (error.code === 'NOT_FOUND') return new SmsGateError(404, error.message, { cause: error });
    if (error.status === 401) return new SmsGateError(401, 'Unauthorized', { cause: error });
    return new SmsGateError(
      error.status,
      error.status >= 500 ? error.message : `${error.code}: ${error.details[0]?.message ?? error.message}`,
      { cause: error, retryAfter: error.retryAfter },
    );
  }
  const fe = error as FastifyError;
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_ERR_CTP_')) {
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return new SmsGateError(413, 'failed to parse body: the body is too large', { cause: error });
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return new SmsGateError(400, 'failed to parse body: the body must be JSON (Content-Type: application/json)', {
        cause: error,
      });
    return new SmsGateError(400, 'failed to parse body: invalid JSON', { cause: error });
  }
  if (error instanceof SyntaxError)
    return new SmsGateError(400, 'failed to parse body: invalid JSON', { cause: error });
  if (fe.code === 'FST_ERR_BAD_URL' || fe.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new SmsGateError(404, 'Not Found', { cause: error });
  if (isDependencyDown(error))
    return new SmsGateError(503, 'service unavailable, retry later', { cause: error, retryAfter: 5 });
  return new SmsGateError(500, 'internal server error', { cause: error });
}
