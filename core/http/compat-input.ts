import type { FastifyInstance, FastifyRequest } from 'fastify';
import { apiError } from '../errors.js';
import { header } from './auth.js';
import { unacceptableJson } from './validation.js';

/**
 * What the compatibility surfaces read besides JSON: providers' clients send HTML-form bodies
 * and query parameters. Registered per route scope only (the server refuses non-JSON elsewhere).
 */

/**
 * Parses `application/x-www-form-urlencoded` bodies in this scope (repeated fields: the last
 * wins). A form is flat (name=value pairs; no `a[b][c]` nesting is read), so it cannot be deep;
 * JSON bodies in these scopes go through the server's JSON parser and its depth limit.
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

/** The query parameters and the body's fields in one object; a body field wins over a query one. */
export function requestParams(request: FastifyRequest): Record<string, unknown> {
  const query = request.query && typeof request.query === 'object' ? (request.query as Record<string, unknown>) : {};
  const body = request.body;
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw apiError('VALIDATION_FAILED', { details: [{ field: '', message: 'the body must be an object of fields' }] });
  }
  // The JSON parser already refuses such input; forms and query strings (and a plugin's parser) come this way.
  const refused = unacceptableJson(body) ?? unacceptableJson(query);
  if (refused) throw refused;
  return { ...query, ...(body as Record<string, unknown> | undefined) };
}

/** Form and query values are strings: reads the named integer fields as numbers when they are whole numbers. */
export function withIntegers(params: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out = { ...params };
  for (const field of fields) {
    const value = out[field];
    if (typeof value === 'string' && /^\s*-?\d{1,9}\s*$/.test(value)) out[field] = Number(value);
  }
  return out;
}

/** Reads the named fields as strings when a JSON client sent them as numbers (codes the provider types as integers). */
export function withStrings(params: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out = { ...params };
  for (const field of fields) {
    if (typeof out[field] === 'number' && Number.isSafeInteger(out[field])) out[field] = String(out[field]);
  }
  return out;
}

/** User and password of `Authorization: Basic` (RFC 6749 §2.3.1: each form-urlencoded before encoding). */
export function basicCredentials(request: FastifyRequest): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header(request, 'authorization') ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const unescape = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { user: unescape(decoded.slice(0, colon)), password: unescape(decoded.slice(colon + 1)) };
}
