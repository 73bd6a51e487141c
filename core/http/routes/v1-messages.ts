import type { FastifyInstance } from 'fastify';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import type { SmsService } from '../../sending/sms.js';
import type { MessageService } from '../../services/messages.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { ListMessagesQuery } from '../dtos/sms.js';
import { bodySchema, responses } from '../openapi.js';
import { EXAMPLES } from '../response-schemas.js';
import { validateQuery } from '../validation.js';

const at = (example: string | null) => ({ type: 'string', format: 'date-time', nullable: true, example });
const message = {
  type: 'object',
  properties: {
    messageId: { type: 'string', example: EXAMPLES.messageId },
    kind: { type: 'string', enum: ['otp', 'sms'], example: 'sms' },
    status: {
      type: 'string',
      enum: ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'],
      example: 'DELIVERED',
    },
    to: { type: 'string', example: EXAMPLES.phone },
    message: {
      type: 'string',
      description: "A custom text SMS only (an OTP's text, which holds its code, is never shown).",
      example: 'Your parcel arrives today between 2 and 4 pm.',
    },
    data: {
      type: 'string',
      description: 'A binary (data) SMS only, instead of `message`: its payload, base64.',
      example: 'SGVsbG8=',
    },
    dataPort: { type: 'integer', description: 'A binary SMS only: its destination port.', example: 8200 },
    parts: { type: 'integer', example: 1 },
    deviceId: { type: 'string', nullable: true, example: EXAMPLES.deviceId },
    simSlot: { type: 'integer', nullable: true, example: 0 },
    verificationId: { type: 'string', nullable: true, example: null },
    batchId: { type: 'string', nullable: true, example: null },
    error: {
      type: 'string',
      nullable: true,
      description: 'Why it FAILED (e.g. RADIO_OFF, EXPIRED, CANCELED after POST /v1/messages/{id}/cancel).',
      example: null,
    },
    priority: {
      type: 'integer',
      description: "Dispatch order among the phone's waiting messages: higher first (OTPs 128, SMS -128..127).",
      example: 0,
    },
    scheduleAt: {
      ...at(null),
      description: 'The time it was held until (send-sms `scheduleAt`); null when not scheduled.',
    },
    metadata: {
      type: 'object',
      nullable: true,
      description: 'Your metadata, as sent.',
      example: { orderId: 'A-1042' },
    },
    createdAt: { type: 'string', format: 'date-time', example: EXAMPLES.createdAt },
    expiresAt: { type: 'string', format: 'date-time', example: '2026-11-22T10:00:00.000Z' },
    dispatchedAt: at('2026-11-21T10:00:00.060Z'),
    sentAt: at('2026-11-21T10:00:02.410Z'),
    deliveredAt: at('2026-11-21T10:00:04.180Z'),
    failedAt: at(null),
  },
  // `message` is left out of OTP messages.
  required: [
    'messageId',
    'kind',
    'status',
    'to',
    'parts',
    'deviceId',
    'simSlot',
    'verificationId',
    'batchId',
    'error',
    'metadata',
    'priority',
    'scheduleAt',
    'createdAt',
    'expiresAt',
    'dispatchedAt',
    'sentAt',
    'deliveredAt',
    'failedAt',
  ],
};

/** What messageRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface MessageRouteDeps {
  messages: MessageService;
  sms: SmsService;
}

/** The message log (docs/api.md "Custom SMS"). */
export async function messageRoutes(app: FastifyInstance, deps: MessageRouteDeps): Promise<void> {
  const { messages, sms } = deps;
  app.get(
    '/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: "The project's message log, newest first, cursor-paginated",
        security: [{ apiKey: [] }],
        querystring: bodySchema(ListMessagesQuery),
        response: responses(
          {
            200: {
              type: 'object',
              properties: {
                messages: { type: 'array', items: message },
                nextCursor: { type: 'string', nullable: true },
              },
            },
          },
          [400, 401],
        ),
      },
    },
    async (request) => {
      const q = await validateQuery(ListMessagesQuery, request.query, (d) => pageProblems(d, PAGE_TAGS.messages));
      const limit = q.limit === undefined ? undefined : Number(q.limit);
      return ok(
        await messages.list(projectOf(request), {
          limit,
          cursor: q.cursor,
          status: q.status,
          kind: q.kind,
          from: q.from ? new Date(q.from) : undefined,
          to: q.to ? new Date(q.to) : undefined,
        }),
      );
    },
  );

  app.get(
    '/v1/messages/:id',
    {
      schema: {
        tags: ['messages'],
        summary: 'Read a message and its delivery progress',
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: responses({ 200: message }, [401, 404]),
      },
    },
    async (request) => ok(await messages.get(projectOf(request), (request.params as { id: string }).id)),
  );

  app.post(
    '/v1/messages/:id/cancel',
    {
      schema: {
        tags: ['messages'],
        summary: 'Cancel a message the phone has not sent',
        description:
          'A QUEUED message (scheduled or not) is withdrawn; a DISPATCHED one too, and its phone gets a `cancel` on its control topic ' +
          '(an SMSGate phone a MessageCancelled event). It ends FAILED with error `CANCELED` (not counted as a delivery failure) and is answered as it is now. ' +
          "A message already SENT, DELIVERED, FAILED or EXPIRED: 409 MESSAGE_NOT_CANCELABLE. Another project's id: 404 NOT_FOUND.",
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { id: { type: 'string', description: 'msg_...' } }, required: ['id'] },
        response: responses({ 200: message }, [401, 404, 409]),
      },
    },
    async (request) => ok(await sms.cancel(projectOf(request), (request.params as { id: string }).id)),
  );
}
