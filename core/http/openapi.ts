import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { ERROR_CATALOGUE } from '../errors.js';

const REF_PREFIX = '#/components/schemas/';

let dtoSchemas: Record<string, object> | undefined;

/** JSON Schemas of every class-validator DTO, generated from the decorators (one source of truth). */
export function schemasFromDtos(): Record<string, object> {
  dtoSchemas ??= validationMetadatasToSchemas({ refPointerPrefix: REF_PREFIX }) as Record<string, object>;
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
          code: { type: 'string', enum: errorCodes },
          message: { type: 'string' },
          origin: { type: 'string', enum: ['client', 'auth', 'project', 'device', 'server'] },
          details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
      requestId: { type: 'string' },
    },
  },
};

function catalogueMarkdown(): string {
  const rows = Object.values(ERROR_CATALOGUE).map((e) => `| ${e.code} | ${e.status} | ${e.origin} | ${e.message} |`);
  return ['| code | HTTP | origin | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** Registers /openapi.json and the Swagger UI at /docs. */
export async function registerOpenApi(app: FastifyInstance, publicUrl: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'SMX API',
        version: '1.0.0',
        description:
          'Self-hosted OTP and SMS delivered by your Android phones.\n\n' +
          'Every response is an envelope: `{ "success": true, "data": ... }` or `{ "success": false, "error": { code, message, origin, details }, "requestId" }`.\n\n' +
          'Every response carries `X-Request-Id`: the request\'s own `X-Request-Id` when it is 1-128 characters of `[A-Za-z0-9._:-]`, else a new `req_...` id. ' +
          'Answers are `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`. A JSON body nested deeper than 32 levels is 400 `VALIDATION_FAILED` (field `body`).\n\n' +
          `## Error catalogue (closed)\n\n${catalogueMarkdown()}`,
      },
      servers: [{ url: publicUrl }],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-SMX-API-Key' },
          adminToken: { type: 'http', scheme: 'bearer' },
        },
        schemas: { ...COMMON_SCHEMAS, ...schemasFromDtos() } as never,
      },
      'x-error-catalogue': Object.values(ERROR_CATALOGUE),
    } as never,
  });
  // Any route that reads a body can answer INVALID_JSON (400) and PAYLOAD_TOO_LARGE (413) before
  // its handler runs: documented on each, so route modules need not list them.
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    const response = route.schema?.response as Record<number, object> | undefined;
    if (!response || !methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH')) return;
    for (const status of [400, 413]) response[status] ??= { description: codesOf(status), $ref: `${REF_PREFIX}ErrorEnvelope` };
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** The catalogue codes answered with an HTTP status, for an error response's description. */
function codesOf(status: number): string {
  const codes = Object.values(ERROR_CATALOGUE).filter((e) => e.status === status).map((e) => e.code);
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
