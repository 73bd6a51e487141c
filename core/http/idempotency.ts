import type { FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../errors.js';
import { requestFingerprint, runUnderKey, type IdempotencyService } from '../services/idempotency.js';
import { ok } from './envelope.js';
import { toApiError } from './error-handler.js';

export interface HandlerResult {
  status: number;
  body: unknown;
}

const PRINTABLE_ASCII = /^[\x20-\x7E]{1,255}$/;

/**
 * Runs a POST handler under the request's Idempotency-Key (docs/api.md "Idempotency"): a replay
 * returns the stored status and body with `Idempotent-Replayed: true`; a 5xx is not stored.
 *
 * An accepted request's answer (`acceptedStatus`, the data in the success envelope) is stored by
 * the statement that accepts it (see answerOnAccept), so the answer and the accept commit or fail
 * together: a request that committed although its client got a 503 (the connection dropped after
 * the commit) is replayed on retry, never run twice.
 */
export async function runIdempotent(
  service: IdempotencyService,
  projectId: string,
  request: FastifyRequest,
  reply: FastifyReply,
  acceptedStatus: number,
  handler: () => Promise<HandlerResult>,
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) {
    const result = await handler();
    return reply.status(result.status).send(result.body);
  }
  if (!PRINTABLE_ASCII.test(key)) {
    throw apiError('VALIDATION_FAILED', {
      details: [{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1-255 printable ASCII characters' }],
    });
  }
  const start = await service.begin(
    projectId,
    key,
    requestFingerprint(request.method, request.routeOptions.url ?? request.url, request.body),
  );
  if (start.kind === 'replay') {
    return reply.header('idempotent-replayed', 'true').status(start.status).send(start.body);
  }
  let outcome: { result: HandlerResult; answered: boolean };
  try {
    outcome = await runUnderKey(
      { projectId, key, acceptedStatus, envelope: ok, leaseUntil: start.leaseUntil },
      handler,
    );
  } catch (error) {
    const apiErr = toApiError(error);
    await service.finish(projectId, key, apiErr.status, {
      success: false,
      error: apiErr.toJSON(),
      requestId: request.id,
    });
    throw error;
  }
  const { result, answered } = outcome;
  if (!answered) await service.finish(projectId, key, result.status, result.body);
  return reply.status(result.status).send(result.body);
}
