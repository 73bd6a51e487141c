import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { apiError, type ErrorDetail } from '../errors.js';
import { jsonProblem } from '../json-depth.js';
import { validateFast } from './fast-validation.js';

type Dto<T> = new () => T;

/**
 * VALIDATION_FAILED for input SMX cannot take, or undefined: nested deeper than MAX_JSON_DEPTH
 * (class-transformer, class-validator and other consumers walk values recursively, and thousands
 * of levels overflow the stack), or a string PostgreSQL cannot store (NUL, unpaired surrogates).
 * The body parsers run it (iteratively) before anything else.
 */
export function unacceptableJson(value: unknown): Error | undefined {
  const problem = jsonProblem(value);
  return problem && apiError('VALIDATION_FAILED', { details: [{ field: problem.field, message: problem.message }] });
}

/**
 * A route's rules beyond the DTO's decorators (cross-field, configuration, a path parameter, a
 * check that needs I/O), as details that join the DTO's in one VALIDATION_FAILED. A detail for a
 * field the DTO already refused is dropped (one field, one story).
 */
export type ExtraChecks<T> = (instance: T) => Array<ErrorDetail | null> | Promise<Array<ErrorDetail | null>>;

/**
 * Validates a request body against a class-validator DTO. Unknown fields are dropped; every
 * failing field is listed in `details` (nested as `sims[0].slot`). A NUL character is refused
 * in any kept string (PostgreSQL text and jsonb cannot hold it: it would surface as a 500).
 */
export async function validateBody<T extends object>(
  dto: Dto<T>,
  body: unknown,
  extraChecks?: ExtraChecks<T>,
  options: { fast?: boolean } = {},
): Promise<T> {
  const plain = body === undefined || body === null ? {} : body;
  if (typeof plain !== 'object' || Array.isArray(plain)) {
    throw apiError('VALIDATION_FAILED', { details: [{ field: '', message: 'the body must be a JSON object' }] });
  }
  // Hot routes: a valid body is accepted without class-transformer (see validateFast); any
  // problem goes through the full path below, which alone words the details.
  if (options.fast) {
    const instance = validateFast(dto, plain as Record<string, unknown>);
    if (instance && nulFields(instance).length === 0 && !((await extraChecks?.(instance)) ?? []).some(Boolean))
      return instance;
  }
  const instance = plainToInstance(dto, plain, { enableImplicitConversion: false });
  const errors = await validate(instance, {
    whitelist: true,
    forbidUnknownValues: false,
    validationError: { target: false, value: false },
  });
  const details = flatten(errors);
  const failing = new Set(details.map((d) => d.field));
  for (const field of nulFields(instance)) {
    if (!failing.has(field)) details.push({ field, message: `${field} must not contain NUL characters` });
  }
  // Rules that depend on configuration (e.g. callback URL policy), for fields that passed the DTO.
  for (const detail of (await extraChecks?.(instance)) ?? []) {
    if (detail && !failing.has(detail.field ?? '')) details.push(detail);
  }
  if (details.length > 0) throw apiError('VALIDATION_FAILED', { details });
  return instance;
}

/**
 * Validates a query string against a class-validator DTO, like validateBody: every failing field
 * is listed at once, `extraChecks` (cross-field or configuration rules) joining the DTO's details.
 * Values are the query's strings (an array when a name repeats); unknown names are dropped.
 */
export async function validateQuery<T extends object>(
  dto: Dto<T>,
  query: unknown,
  extraChecks?: ExtraChecks<T>,
): Promise<T> {
  return validateBody(dto, query ?? {}, extraChecks);
}

/** Top-level fields whose value holds a NUL character anywhere (in a string or an object key). */
function nulFields(instance: object): string[] {
  const hasNul = (value: unknown): boolean => {
    if (typeof value === 'string') return value.includes('\u0000');
    if (Array.isArray(value)) return value.some(hasNul);
    if (value && typeof value === 'object')
      return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v));
    return false;
  };
  return Object.entries(instance)
    .filter(([, value]) => hasNul(value))
    .map(([field]) => field);
}

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const field = !parent
      ? error.property
      : /^\d+$/.test(error.property)
        ? `${parent}[${error.property}]`
        : `${parent}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) {
      details.push({ field, message: message.replace(new RegExp(`^${escape(error.property)}\\b`), field) });
    }
    if (error.children?.length) details.push(...flatten(error.children, field));
  }
  return details;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
