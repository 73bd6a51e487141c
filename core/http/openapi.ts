import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { MetadataStorage } from 'class-transformer/types/MetadataStorage.js';
import { IS_ISO31661_ALPHA_2, IS_ISO8601, IS_URL, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata.js';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { ERROR_CATALOGUE } from '../errors.js';

const REF_PREFIX = '#/components/schemas/';

type Schema = Record<string, unknown>;

/** The package's version: `info.version` of the document (the API is versioned by its `/v1` path). */
const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * class-transformer's own storage, where `@Type(() => SimDto)` is recorded: with it, nested DTO
 * arrays become `$ref`s to their class. The package has no ESM build Node loads and no `exports`
 * map; its `main` is this CJS tree, so this is the instance the decorators wrote to.
 */
const transformerStorage = (
  createRequire(import.meta.url)('class-transformer/cjs/storage.js') as { defaultMetadataStorage: MetadataStorage }
).defaultMetadataStorage;

/**
 * Converters for what class-validator-jsonschema cannot see: its fallback turns a custom
 * decorator into a `$ref` named after the property's design type, so `metadata` (an object) and
 * `{ each: true }` arrays pointed at components `Object` and `Array` that do not exist.
 */
const CONVERTERS = {
  [ValidationTypes.CUSTOM_VALIDATION]: (meta: ValidationMetadata) => {
    if (meta.each) return {};
    const type = Reflect.getMetadata(
      'design:type',
      (meta.target as { prototype: object }).prototype,
      meta.propertyName,
    ) as unknown;
    if (type === String) return { type: 'string' };
    if (type === Number) return { type: 'number' };
    if (type === Boolean) return { type: 'boolean' };
    if (type === Array) return { type: 'array' };
    return { type: 'object' };
  },
  [IS_ISO31661_ALPHA_2]: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2 country code.' },
  // An ISO-8601 query value is a date or a date-time: one string, not a oneOf of two overlapping ones.
  [IS_ISO8601]: { type: 'string', description: 'ISO-8601 date or date-time.' },
  [IS_URL]: { type: 'string', format: 'uri' },
};

let dtoSchemas: Record<string, Schema> | undefined;

/** JSON Schemas of every class-validator DTO, generated from the decorators (one source of truth). */
export function schemasFromDtos(): Record<string, Schema> {
  dtoSchemas ??= validationMetadatasToSchemas({
    refPointerPrefix: REF_PREFIX,
    classTransformerMetadataStorage: transformerStorage,
    additionalConverters: CONVERTERS as never,
  }) as Record<string, Schema>;
  return dtoSchemas;
}

/** The body schema of a DTO for a route's `schema.body` (documentation; validation is class-validator's). */
export function bodySchema(dto: { name: string }): object {
  const schema = schemasFromDtos()[dto.name];
  if (!schema) throw new Error(`no JSON schema for DTO ${dto.name}`);
  return schema;
}

const errorCodes = Object.keys(ERROR_CATALOGUE);

/** Shared response schemas, referenced by routes for documentation. */
const COMMON_SCHEMAS = {
  ErrorEnvelope: {
    type: 'object',
    required: ['success', 'error', 'requestId'],
    properties: {
      success: { type: 'boolean', enum: [false] },
      error: {
        type: 'object',
        required: ['code', 'message', 'origin', 'details'],
        properties: {
          code: { type: 'string', enum: errorCodes, example: 'VALIDATION_FAILED' },
          message: { type: 'string', example: 'The request has invalid fields; see details.' },
          origin: { type: 'string', enum: ['client', 'auth', 'project', 'device', 'server'], example: 'client' },
          details: {
            type: 'array',
            description: 'For VALIDATION_FAILED, one item per refused field; often empty otherwise.',
            items: {
              type: 'object',
              required: ['message'],
              properties: {
                field: { type: 'string', example: 'to' },
                message: { type: 'string', example: 'to must be a string' },
              },
            },
          },
        },
      },
      requestId: { type: 'string', example: 'req_Qm9vT3dKc2xWbGZ0YmFyWg' },
    },
  },
};

/** Tags in the order the UI shows them, each with what it groups. */
const TAGS = [
  { name: 'otp', description: 'OTP challenges: send, verify, read, cancel, resend. The code is never in an answer.' },
  { name: 'sms', description: 'Custom SMS, one or up to 10,000 at once, and bulk batches.' },
  { name: 'messages', description: 'The message log and delivery progress.' },
  { name: 'status', description: "Readiness of the project's phone and queue; counts over time." },
  { name: 'inbound', description: "SMS the project's phones received." },
  { name: 'rental', description: "Renting the project's own SIM numbers to receive SMS." },
  { name: 'webhooks', description: 'Webhook endpoints and every delivery attempt.' },
  { name: 'devices', description: "The phone's side of linking (docs/device-protocol.md)." },
  { name: 'health', description: 'Liveness and readiness, no credentials.' },
  { name: 'admin', description: 'The operator API: `Authorization: Bearer <SMX_ADMIN_TOKEN>`.' },
  { name: 'activity', description: 'What the operator console reads and sends for one project (admin token).' },
  { name: 'plugins', description: 'Routes added by plugins, under /plugins/<name>.' },
  {
    name: 'compat: SMS Verify',
    description: "The SMS Verify provider's contract (success bodies without the SMX envelope).",
  },
  { name: 'compat: OTP by id', description: "The OTP-by-id provider's contract, with its OAuth2 token endpoint." },
  { name: 'compat: number rental', description: "The number-rental partner's contract." },
];

function catalogueMarkdown(): string {
  const rows = Object.values(ERROR_CATALOGUE).map((e) => `| ${e.code} | ${e.status} | ${e.origin} | ${e.message} |`);
  return ['| code | HTTP | origin | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const DESCRIPTION =
  'Self-hosted OTP and SMS delivered by your Android phones. The prose contract is `docs/api.md` in the repository; the device side is `docs/device-protocol.md`.\n\n' +
  'Every response is an envelope: `{ "success": true, "data": ... }` or `{ "success": false, "error": { code, message, origin, details }, "requestId" }`.\n\n' +
  "Every response carries `X-Request-Id`: the request's own `X-Request-Id` when it is 1-128 characters of `[A-Za-z0-9._:-]`, else a new `req_...` id. " +
  'Answers are `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`. A JSON body nested deeper than 32 levels is 400 `VALIDATION_FAILED` (field `body`). ' +
  '429 and 503 answers carry `Retry-After` (seconds).\n\n' +
  "Every `operationId` is the method followed by the path's segments (`POST /v1/send-otp` is `postV1SendOtp`, a `{param}` reads `By<Param>`), so it never changes while the route does not.";

/**
 * `POST /v1/verifications/:id/cancel` → `postV1VerificationsByIdCancel`: derived from the method
 * and the path only, so it is stable across releases and registration orders.
 */
export function operationIdOf(method: string, url: string): string {
  const pascal = (text: string) =>
    text
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean)
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('');
  const words = url
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = /^(?::(\w+)|\{(\w+)\})$/.exec(segment);
      return param ? `By${pascal(param[1] ?? param[2]!)}` : pascal(segment);
    });
  return method.toLowerCase() + words.join('');
}

/**
 * Who may call a route that does not say: the operator under /admin and /metrics, a project API
 * key under /v1 and /plugins, anyone on /health. Routes outside these families (the phone's link,
 * the compatibility surfaces) declare their own; one that does not fails the lint test.
 */
function defaultSecurity(url: string): object[] | undefined {
  if (url.startsWith('/admin/') || url === '/metrics') return [{ adminToken: [] }];
  if (url.startsWith('/v1/') || url.startsWith('/plugins/')) return [{ apiKey: [] }];
  if (url.startsWith('/health/')) return [];
  return undefined;
}

const isObject = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Response fields are required unless a schema says otherwise: an object schema that lists
 * `properties` and no `required` gets all of them (SMX answers with fixed shapes, `null` where a
 * value is absent, so a generated client types them as always present). A schema with fields
 * that are sometimes left out lists `required` itself; `required: []` means none (removed here:
 * OpenAPI 3.0 wants a non-empty list). Returns a copy: route schemas are shared objects.
 */
export function requireFields(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(requireFields);
  if (!isObject(schema) || typeof schema.$ref === 'string') return schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && isObject(value))
      out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, requireFields(s)]));
    else if (key === 'items' || key === 'additionalProperties' || key === 'not') out[key] = requireFields(value);
    else if ((key === 'oneOf' || key === 'anyOf' || key === 'allOf') && Array.isArray(value))
      out[key] = value.map(requireFields);
    else out[key] = value;
  }
  if (isObject(out.properties) && Object.keys(out.properties).length > 0) {
    if (out.required === undefined) out.required = Object.keys(out.properties);
    else if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  }
  return out;
}

/** `Retry-After`, documented on the answers that carry it. */
const RETRY_AFTER = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying.', example: 30 },
};

/** One route's schema as documented: operationId, security, required response fields, Retry-After. */
function documentRoute(schema: Schema | undefined, method: string, url: string): Schema | undefined {
  if (!schema || schema.hide) return schema;
  const out: Schema = { ...schema };
  // @fastify/swagger moves a body's `x-examples` out of the schema it is given: give it a copy of the shared DTO schema.
  if (schema.body) out.body = structuredClone(schema.body);
  out.operationId ??= operationIdOf(method, url);
  if (out.security === undefined) {
    const security = defaultSecurity(url);
    if (security) out.security = security;
  }
  if (isObject(schema.response)) {
    const response: Schema = {};
    for (const [status, answer] of Object.entries(schema.response)) {
      const documented = requireFields(answer) as Schema;
      response[status] =
        (status === '429' || status === '503') && isObject(documented) && !documented.headers
          ? { ...documented, headers: RETRY_AFTER }
          : documented;
    }
    out.response = response;
  }
  return out;
}

/** Every `#/components/schemas/<name>` the value refers to. */
function refsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (isObject(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string' && inner.startsWith(REF_PREFIX))
        found.add(inner.slice(REF_PREFIX.length));
      else refsIn(inner, found);
    }
  }
  return found;
}

/**
 * The DTO schemas are generated for every class; routes inline their bodies, so only the ones a
 * document refers to (nested DTOs, the error envelope) stay in `components.schemas`.
 */
function pruneComponents(document: Schema): Schema {
  const components = document.components as { schemas?: Record<string, unknown> } | undefined;
  if (!components?.schemas) return document;
  const used = refsIn({ ...document, components: { ...components, schemas: {} } });
  const queue = [...used];
  while (queue.length > 0) {
    for (const name of refsIn(components.schemas[queue.pop()!])) {
      if (used.has(name)) continue;
      used.add(name);
      queue.push(name);
    }
  }
  const schemas = Object.fromEntries(Object.entries(components.schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...components, schemas } };
}

/** The OTP-by-id surface's token URL, absolute when SMX_PUBLIC_URL is known. */
function tokenUrl(publicUrl: string): string {
  return /^https?:\/\//.test(publicUrl) ? new URL('/compat/oauth/token', publicUrl).toString() : '/compat/oauth/token';
}

/** Registers /openapi.json and the Swagger UI at /docs. */
export async function registerOpenApi(app: FastifyInstance, publicUrl: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'SMX API',
        version: VERSION,
        description: `${DESCRIPTION}\n\n## Error catalogue (closed)\n\n${catalogueMarkdown()}`,
      },
      servers: [{ url: publicUrl }],
      tags: TAGS,
      components: {
        securitySchemes: {
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'X-SMX-API-Key',
            description: 'A project API key. `Authorization: Bearer <key>` is accepted as an alias.',
          },
          adminToken: { type: 'http', scheme: 'bearer', description: "The operator's SMX_ADMIN_TOKEN." },
          apiKeyQuery: {
            type: 'apiKey',
            in: 'query',
            name: 'api_key',
            description: 'The project API key as the number-rental partner contract sends it (POST: a body field).',
          },
          apiKeyParam: {
            type: 'apiKey',
            in: 'query',
            name: 'api-key',
            description: 'The project API key as the SMS Verify contract sends it (also a form or JSON field).',
          },
          compatOAuth: {
            type: 'oauth2',
            description:
              'OTP-by-id access tokens: client id = an API key id (`key_...`), client secret = that API key; tokens live one hour.',
            flows: { clientCredentials: { tokenUrl: tokenUrl(publicUrl), scopes: {} } },
          },
        },
        schemas: { ...COMMON_SCHEMAS, ...schemasFromDtos() } as never,
      },
      'x-error-catalogue': Object.values(ERROR_CATALOGUE),
    } as never,
    transform: ({ schema, url, route }) => ({
      schema: documentRoute(schema as Schema, [route.method].flat()[0]!, url) as never,
      url,
    }),
    transformObject: (document) =>
      pruneComponents(
        ('openapiObject' in document ? document.openapiObject : document.swaggerObject) as Schema,
      ) as never,
  });
  // Any route that reads a body can answer INVALID_JSON (400) and PAYLOAD_TOO_LARGE (413) before
  // its handler runs: documented on each, so route modules need not list them.
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    const response = route.schema?.response as Record<number, object> | undefined;
    if (!response || !methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH')) return;
    for (const status of [400, 413])
      response[status] ??= { description: codesOf(status), $ref: `${REF_PREFIX}ErrorEnvelope` };
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** The catalogue codes answered with an HTTP status, for an error response's description. */
function codesOf(status: number): string {
  const codes = Object.values(ERROR_CATALOGUE)
    .filter((e) => e.status === status)
    .map((e) => e.code);
  return codes.length > 0 ? `Error envelope: ${codes.join(', ')}` : 'Error envelope';
}

/**
 * Response schema map for docs: each success status with the envelope `{ success: true, data }`
 * around its data schema, and each error status as the error envelope (named by its codes).
 */
export function responses(success: Record<number, object>, errors: number[] = []): Record<number, object> {
  const out: Record<number, object> = {};
  for (const [status, data] of Object.entries(success)) {
    out[Number(status)] = {
      description: 'Success: `{ "success": true, "data": ... }`',
      type: 'object',
      required: ['success', 'data'],
      properties: { success: { type: 'boolean', enum: [true] }, data },
    };
  }
  for (const status of errors) out[status] = { description: codesOf(status), $ref: `${REF_PREFIX}ErrorEnvelope` };
  return out;
}
