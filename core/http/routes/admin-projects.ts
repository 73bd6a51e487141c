import type { FastifyInstance } from 'fastify';
import type { Endpoints } from '../../endpoints.js';
import type { ErrorDetail } from '../../errors.js';
import { linkQrPayload, renderQr } from '../../qr.js';
import type { Router } from '../../delivery/router.js';
import type { ApiKeyService } from '../../services/api-keys.js';
import type { DeviceService } from '../../services/devices.js';
import type { LinkTokenService } from '../../services/link-tokens.js';
import type { ProjectService } from '../../services/projects.js';
import { CreateApiKeyDto, CreateProjectDto, UpdateProjectDto } from '../dtos/admin.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { apiKeySchema, deviceSchema, doneSchema, projectSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

type IdParams = { id: string };
const security = [{ adminToken: [] }];
const tags = ['admin'];
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
const keyParams = {
  type: 'object',
  properties: { id: { type: 'string' }, keyId: { type: 'string' } },
  required: ['id', 'keyId'],
};
const qrSchema = {
  type: 'object',
  properties: {
    token: { type: 'string', description: 'Single-use, shown once.' },
    expiresAt: { type: 'string', format: 'date-time' },
    qr: {
      type: 'object',
      properties: {
        payload: { type: 'string', description: 'The exact string the QR encodes.' },
        svg: { type: 'string' },
        pngDataUrl: { type: 'string' },
      },
    },
  },
};
const linkCodeSchema = {
  type: 'object',
  properties: {
    code: { type: 'string', description: '6 digits, single-use.' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
};

/** What adminProjectRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminProjectRouteDeps {
  projects: ProjectService;
  apiKeys: ApiKeyService;
  linkTokens: LinkTokenService;
  devices: DeviceService;
  router: Router;
  endpoints: Endpoints;
}

/** Operator endpoints for projects, their API keys, link tokens/codes and devices (docs/api.md "Admin API"). */
export async function adminProjectRoutes(app: FastifyInstance, deps: AdminProjectRouteDeps): Promise<void> {
  const { projects, apiKeys: keys, linkTokens: links, devices, router, endpoints } = deps;

  app.post(
    '/admin/projects',
    {
      schema: {
        tags,
        security,
        summary: 'Create a project',
        body: bodySchema(CreateProjectDto),
        response: responses({ 201: projectSchema }, [400, 401, 403]),
      },
    },
    async (request, reply) => {
      const dto = await validateBody(CreateProjectDto, request.body);
      return reply.status(201).send(ok(await projects.create(dto.name)));
    },
  );

  app.get(
    '/admin/projects',
    {
      schema: {
        tags,
        security,
        summary: 'List projects',
        response: responses(
          { 200: { type: 'object', properties: { projects: { type: 'array', items: projectSchema } } } },
          [401, 403],
        ),
      },
    },
    async () => ok({ projects: await projects.list() }),
  );

  app.get(
    '/admin/projects/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Read a project',
        response: responses({ 200: projectSchema }, [401, 403, 404]),
      },
    },
    async (request) => ok(await projects.get((request.params as IdParams).id)),
  );

  app.patch(
    '/admin/projects/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Rename a project or change its OTP defaults, limits and routing',
        body: bodySchema(UpdateProjectDto),
        response: responses({ 200: projectSchema }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      const { name, language, rateLimits, ...settings } = await validateBody(UpdateProjectDto, request.body, (d) => [
        ...prefixLimitProblems(d.rateLimits?.perCountryPrefix),
        // Only a registered strategy (built-in or from a loaded plugin) can be chosen.
        typeof d.routing === 'string' && !router.has(d.routing)
          ? { field: 'routing', message: `unknown routing strategy; registered: ${router.names().join(', ')}` }
          : null,
      ]);
      if (language && !settings.defaultLanguage) settings.defaultLanguage = language;
      if (settings.allowedCountries)
        settings.allowedCountries = [...new Set(settings.allowedCountries.map((c) => c.toUpperCase()))];
      return ok(
        await projects.update((request.params as IdParams).id, {
          name,
          settings: { ...settings, ...(rateLimits ? { rateLimits: { ...rateLimits } } : {}) },
        }),
      );
    },
  );

  app.delete(
    '/admin/projects/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Delete a project and everything it owns',
        response: responses({ 200: doneSchema('deleted') }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id } = request.params as IdParams;
      const linked = await devices.list(id).catch(() => []);
      await projects.remove(id);
      await Promise.all(linked.map((d) => devices.unlink(d.id).catch(() => undefined)));
      return ok({ id, deleted: true });
    },
  );

  app.post(
    '/admin/projects/:id/api-keys',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Create an API key (shown once)',
        body: bodySchema(CreateApiKeyDto),
        response: responses(
          {
            201: {
              ...apiKeySchema,
              properties: {
                ...apiKeySchema.properties,
                key: { type: 'string', description: 'The API key, shown only in this answer.' },
              },
            },
          },
          [400, 401, 403, 404],
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as IdParams;
      const dto = await validateBody(CreateApiKeyDto, request.body);
      await projects.get(id);
      const created = await keys.create(id, dto.name);
      return reply.status(201).send(ok({ ...created.info, key: created.key }));
    },
  );

  app.get(
    '/admin/projects/:id/api-keys',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'List API keys (no secrets)',
        response: responses(
          { 200: { type: 'object', properties: { apiKeys: { type: 'array', items: apiKeySchema } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => {
      const { id } = request.params as IdParams;
      await projects.get(id);
      return ok({ apiKeys: await keys.list(id) });
    },
  );

  app.delete(
    '/admin/projects/:id/api-keys/:keyId',
    {
      schema: {
        tags,
        security,
        params: keyParams,
        summary: 'Revoke an API key at once',
        response: responses({ 200: doneSchema('revoked') }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id, keyId } = request.params as { id: string; keyId: string };
      await keys.revoke(id, keyId);
      return ok({ id: keyId, revoked: true });
    },
  );

  app.post(
    '/admin/projects/:id/link-tokens',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Create a single-use link token and its QR code (10 minutes)',
        response: responses({ 201: qrSchema }, [401, 403, 404]),
      },
    },
    async (request, reply) => {
      const { id } = request.params as IdParams;
      await projects.get(id);
      const { token, expiresAt } = await links.createToken(id);
      return reply
        .status(201)
        .send(ok({ token, expiresAt, qr: await renderQr(linkQrPayload(endpoints.publicUrl, token)) }));
    },
  );

  app.post(
    '/admin/projects/:id/link-codes',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Create a 6-digit single-use link code (10 minutes)',
        response: responses({ 201: linkCodeSchema }, [401, 403, 404]),
      },
    },
    async (request, reply) => {
      const { id } = request.params as IdParams;
      await projects.get(id);
      return reply.status(201).send(ok(await links.createCode(id)));
    },
  );

  app.get(
    '/admin/projects/:id/devices',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: "List the project's linked devices with presence",
        response: responses(
          { 200: { type: 'object', properties: { devices: { type: 'array', items: deviceSchema } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => {
      const { id } = request.params as IdParams;
      await projects.get(id);
      return ok({ devices: await devices.list(id) });
    },
  );
}

/** `rateLimits.perCountryPrefix`: keys "+" and 1-6 digits, values whole numbers 0..1,000,000. */
function prefixLimitProblems(limits: unknown): ErrorDetail[] {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) return [];
  const details: ErrorDetail[] = Object.entries(limits).flatMap(([prefix, limit]) => {
    const field = `rateLimits.perCountryPrefix.${prefix}`;
    if (!/^\+[1-9]\d{0,5}$/.test(prefix)) return [{ field, message: 'a prefix is "+" and 1-6 digits, e.g. "+234"' }];
    if (!Number.isInteger(limit) || (limit as number) < 0 || (limit as number) > 1_000_000)
      return [{ field, message: 'a limit is a whole number from 0 to 1000000' }];
    return [];
  });
  if (Object.keys(limits).length > 300)
    details.push({ field: 'rateLimits.perCountryPrefix', message: 'at most 300 prefixes' });
  return details;
}
