import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError, isApiError } from '../errors.js';

/** Fastify's own errors, mapped into the catalogue. Everything else unexpected is INTERNAL. */
const FASTIFY_ERRORS: Record<string, () => ApiError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => apiError('PAYLOAD_TOO_LARGE'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => apiError('INVALID_JSON', { message: 'The body must be JSON (Content-Type: application/json).' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => apiError('INVALID_JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => apiError('INVALID_JSON', { message: 'The body is empty but Content-Type says application/json.' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => apiError('INVALID_JSON', { message: 'The body length does not match Content-Length.' }),
  FST_ERR_BAD_URL: () => apiError('NOT_FOUND'),
  FST_ERR_NOT_FOUND: () => apiError('NOT_FOUND'),
  FST_ERR_ASYNC_CONSTRAINT: () => apiError('NOT_FOUND'),
};

/** Errors whose cause is a dependency being down: the client should retry (503 UNAVAILABLE). */
function isUnavailable(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string };
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '08006', '08001', '08003'].includes(e.code ?? '')) return true;
  if (e.name === 'KnexTimeoutError' || e.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Stream isn't writeable|Connection terminated/i.test(e.message ?? '');
}

/** Maps anything thrown to a catalogue error. Never lets a stack, SQL or library text through. */
export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  const fe = error as FastifyError;
  if (fe.code && FASTIFY_ERRORS[fe.code]) return FASTIFY_ERRORS[fe.code]!();
  if (error instanceof SyntaxError && (fe.statusCode === 400 || /JSON/.test(error.message))) return apiError('INVALID_JSON', { cause: error });
  if (isUnavailable(error)) return apiError('UNAVAILABLE', { retryAfter: 5, cause: error });
  return apiError('INTERNAL', { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return reply.status(error.status).send({ success: false, error: error.toJSON(), requestId: request.id });
}

/** The envelope for every error, and NOT_FOUND for unknown routes. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const apiErr = toApiError(error);
    if (apiErr.status >= 500) request.log.error({ err: error }, `request failed: ${apiErr.code}`);
    else if (!isApiError(error)) request.log.info({ code: apiErr.code, reason: (error as Error).message }, 'request refused');
    return sendError(request, reply, apiErr);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, apiError('NOT_FOUND', { message: `No route ${request.method} ${request.url.split('?')[0]}.` })));
}
