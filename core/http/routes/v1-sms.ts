import type { FastifyInstance } from 'fastify';
import type { IdempotencyService } from '../../services/idempotency.js';
import type { SmsService } from '../../sending/sms.js';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { projectOf } from '../auth.js';
import { SendBulkSmsDto, SendSmsDto, sendSmsInputOf, smsOptionProblems, smsOptionsOf } from '../dtos/sms.js';
import { ok } from '../envelope.js';
import { runIdempotent } from '../idempotency.js';
import { bodySchema, responses } from '../openapi.js';
import { batchSchema, bulkAcceptedSchema, smsAcceptedSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

/** Bulk bodies may be up to 10 MiB (docs/api.md "Error catalogue", PAYLOAD_TOO_LARGE). */
export const BULK_BODY_LIMIT = 10 * 1024 * 1024;

const security = [{ apiKey: [] }];
const idempotencyHeader = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description: 'Retry safely: the same key and body answer the first response again (24 hours).',
      example: 'newsletter-2026-11-21',
    },
  },
};

/** What smsRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface SmsRouteDeps {
  sms: SmsService;
  idempotency: IdempotencyService;
  webhooks: WebhookEndpoints;
}

/** Custom SMS, one-off and bulk (docs/api.md "Custom SMS"). */
export async function smsRoutes(app: FastifyInstance, deps: SmsRouteDeps): Promise<void> {
  const { sms, idempotency, webhooks } = deps;

  app.post(
    '/v1/send-sms',
    {
      schema: {
        tags: ['sms'],
        summary: 'Send one SMS',
        security,
        headers: idempotencyHeader,
        body: bodySchema(SendSmsDto),
        response: responses({ 201: smsAcceptedSchema }, [400, 401, 404, 409, 413, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const projectId = projectOf(request);
      return runIdempotent(idempotency, projectId, request, reply, 201, async () => {
        const dto = await validateBody(
          SendSmsDto,
          request.body,
          (d) => [webhooks.callbackProblem(d.callbackUrl), ...smsOptionProblems(d)],
          { fast: true },
        );
        return { status: 201, body: ok(await sms.send(projectId, sendSmsInputOf(dto))) };
      });
    },
  );

  app.post(
    '/v1/send-sms/bulk',
    {
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        tags: ['sms'],
        summary: 'Send one text to many recipients, or many texts (up to 10,000)',
        security,
        headers: idempotencyHeader,
        body: bodySchema(SendBulkSmsDto),
        response: responses({ 202: bulkAcceptedSchema }, [400, 401, 404, 409, 413, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const projectId = projectOf(request);
      return runIdempotent(idempotency, projectId, request, reply, 202, async () => {
        const dto = await validateBody(
          SendBulkSmsDto,
          request.body,
          (d) => [webhooks.callbackProblem(d.callbackUrl), bothBodyForms(d), ...smsOptionProblems(d)],
          { fast: true },
        );
        const entries =
          dto.messages ??
          (dto.to ?? []).map((to) => ({
            to,
            message: dto.message,
            data: dto.data,
            dataPort: dto.dataPort,
            metadata: dto.metadata,
          }));
        const result = await sms.sendBulk(projectId, { ...smsOptionsOf(dto), entries });
        return { status: 202, body: ok(result) };
      });
    },
  );

  app.get(
    '/v1/batches/:id',
    {
      schema: {
        tags: ['sms'],
        summary: "A bulk request's messages counted per status",
        security,
        params: { type: 'object', properties: { id: { type: 'string', description: 'bat_...' } }, required: ['id'] },
        response: responses({ 200: batchSchema }, [401, 404]),
      },
    },
    async (request) => ok(await sms.batch(projectOf(request), (request.params as { id: string }).id)),
  );
}

/** The bulk body is `messages`, or `to` with `message` (or `data`): never both (one would be dropped silently). */
function bothBodyForms(dto: SendBulkSmsDto): { field: string; message: string } | null {
  if (dto.messages === undefined || (dto.to === undefined && dto.message === undefined && dto.data === undefined))
    return null;
  return { field: 'messages', message: 'give either messages, or to with message, not both' };
}
