import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isId } from '../ids.js';

/** What a request's log lines say it is about. */
interface LogContext {
  projectId?: string;
  verificationId?: string;
  messageId?: string;
}

/** How far into an answer the ids it created are looked for (they come first in the envelope's `data`). */
const ANSWER_SCAN_CHARS = 400;
const ANSWER_IDS = /"(verificationId|messageId)":"((?:ver|msg)_[A-Za-z0-9_-]{22})"/g;

/**
 * Binds what a request is about to its logger (`request.log`), so every line it writes, the
 * access line and a 5xx's error line included, carries `projectId` and the `verificationId` /
 * `messageId` it concerns: from the API key (set by the guard in onRequest), the path
 * (`/v1/verifications/:id`, `/v1/messages/:id`), the body (`verify-otp`'s `verificationId`), and,
 * for a call that created them (`send-otp`, `send-sms`), the ids at the start of its answer. Only
 * ids of SMX's own shape are taken, never other body fields (the body holds the code).
 */
export function installLogContext(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    const context: LogContext = {};
    if (request.projectId) context.projectId = request.projectId;
    const id = (request.params as { id?: unknown } | undefined)?.id;
    const body = request.body as { verificationId?: unknown; messageId?: unknown } | undefined;
    const verificationId = isId('ver', id)
      ? id
      : typeof body === 'object' && body !== null && isId('ver', body.verificationId)
        ? body.verificationId
        : undefined;
    const messageId = isId('msg', id)
      ? id
      : typeof body === 'object' && body !== null && isId('msg', body.messageId)
        ? body.messageId
        : undefined;
    if (verificationId) context.verificationId = verificationId;
    if (messageId) context.messageId = messageId;
    bind(request, context);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.projectId || reply.statusCode >= 300 || typeof payload !== 'string') return payload;
    const context: LogContext = {};
    for (const [, field, value] of payload.slice(0, ANSWER_SCAN_CHARS).matchAll(ANSWER_IDS)) {
      if (field === 'verificationId' && !bound.get(request)?.verificationId) context.verificationId ??= value;
      if (field === 'messageId' && !bound.get(request)?.messageId) context.messageId ??= value;
    }
    bind(request, context);
    return payload;
  });
}

/** What was bound to each request's logger already (a child logger is only made for something new). */
const bound = new WeakMap<FastifyRequest, LogContext>();

function bind(request: FastifyRequest, context: LogContext): void {
  if (Object.keys(context).length === 0) return;
  request.log = request.log.child(context);
  bound.set(request, { ...bound.get(request), ...context });
}
