import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, apiError, isApiError } from '../errors.js';
import { isDependencyDown } from '../unavailable.js';
import { newId } from '../ids.js';
import { setBaseHeaders } from './response-headers.js';

/** Fastify's own errors, mapped into the catalogue. Everything else unexpected is INTERNAL. */
const FASTIFY_ERRORS: Record<string, () => ApiError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => apiError('PAYLOAD_TOO_LARGE'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    apiError('INVALID_JSON', { message: 'The body must be JSON (Content-Type: application/json).' }),
  FST_ERR_CTP_INVALID_JSON_BODY: () => apiError('INVALID_JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () =>
    apiError('INVALID_JSON', { message: 'The body is empty but Content-Type says application/json.' }),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    apiError('INVALID_JSON', { message: 'The body length does not match Content-Length.' }),
  // Router errors (bad percent-encoding, a path parameter over maxParamLength): no resource has
  // such a name. The message never echoes the URL.
  FST_ERR_BAD_URL: () =>
    apiError('NOT_FOUND', { message: 'No such route or resource: the path is not valid percent-encoding.' }),
  FST_ERR_MAX_PARAM_LENGTH: () =>
    apiError('NOT_FOUND', { message: 'No such route or resource: a path segment is too long.' }),
  FST_ERR_NOT_FOUND: () => apiError('NOT_FOUND'),
  FST_ERR_ASYNC_CONSTRAINT: () => apiError('NOT_FOUND'),
};

/** Maps anything thrown to a catalogue error. Never lets a stack, SQL or library text through. */
export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  const fe = error as FastifyError;
  if (fe.code && FASTIFY_ERRORS[fe.code]) return FASTIFY_ERRORS[fe.code]!();
  if (error instanceof SyntaxError && (fe.statusCode === 400 || /JSON/.test(error.message)))
    return apiError('INVALID_JSON', { cause: error });
  if (isDependencyDown(error)) return apiError('UNAVAILABLE', { retryAfter: 5, cause: error });
  return apiError('INTERNAL', { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  void reply.header('x-request-id', request.id);
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return reply.status(error.status).send({ success: false, error: error.toJSON(), requestId: request.id });
}

/** The envelope for every error, and NOT_FOUND for unknown routes. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const apiErr = toApiError(error);
    if (apiErr.status >= 500) request.log.error({ err: error }, `request failed: ${apiErr.code}`);
    else if (!isApiError(error))
      request.log.info({ errorCode: apiErr.code, reason: (error as Error).message }, 'request refused');
    return sendError(request, reply, apiErr);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      apiError('NOT_FOUND', { message: `No route ${request.method} ${request.url.split('?')[0]}.` }),
    ),
  );
}

/**
 * Fastify's `frameworkErrors`: errors its router raises before any hook runs (bad URL encoding,
 * a parameter over `maxParamLength`, an async constraint). No hook sets the usual headers or
 * writes the access line for these, so this does both.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  setBaseHeaders(reply.raw, request.id, request.url);
  const apiErr = toApiError(error);
  request.log.info(
    { method: request.method, route: 'unmatched', status: apiErr.status, errorCode: apiErr.code, reason: error.code },
    'request refused',
  );
  void sendError(request, reply, apiErr);
}

/** The catalogue error for a request Node's HTTP parser refused (no request object exists). */
function clientErrorOf(error: Error & { code?: string }): ApiError {
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return apiError('PAYLOAD_TOO_LARGE', { message: 'The request line and headers are larger than allowed.' });
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return apiError('VALIDATION_FAILED', {
      message: 'The request was not completed in time.',
      details: [{ field: 'request', message: 'incomplete request' }],
    });
  }
  // Malformed HTTP, e.g. bytes after a body shorter than its Content-Length said.
  return apiError('VALIDATION_FAILED', {
    message: 'The request is not valid HTTP/1.1.',
    details: [{ field: 'request', message: 'malformed HTTP request' }],
  });
}

/**
 * The server's `clientErrorHandler`: the answer to a request Node's HTTP parser refused, written
 * straight to the socket (there is no request or reply) in the envelope with a request id, then
 * the connection is closed. As Node's own handler does, nothing is written once a response on
 * this connection has started, which would corrupt it.
 */
export function clientErrorHandler(log: FastifyBaseLogger): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const apiErr = clientErrorOf(error);
    const requestId = newId('req');
    log.debug({ requestId, errorCode: apiErr.code, reason: error.code }, 'malformed request refused');
    const body = JSON.stringify({ success: false, error: apiErr.toJSON(), requestId });
    const head = [
      `HTTP/1.1 ${apiErr.status} ${STATUS_CODES[apiErr.status] ?? ''}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${requestId}`,
      'x-content-type-options: nosniff',
      'cache-control: no-store',
      'connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    // A client that never reads would hold the socket open: close it after a grace period.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}
