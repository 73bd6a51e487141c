import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { apiError, type ErrorDetail } from '../errors.js';

type Dto<T> = new () => T;

/**
 * Validates a request body against a class-validator DTO. Unknown fields are dropped; every
 * failing field is listed in `details` (nested as `sims[0].slot`).
 */
export async function validateBody<T extends object>(dto: Dto<T>, body: unknown): Promise<T> {
  const plain = body === undefined || body === null ? {} : body;
  if (typeof plain !== 'object' || Array.isArray(plain)) {
    throw apiError('VALIDATION_FAILED', { details: [{ field: '', message: 'the body must be a JSON object' }] });
  }
  const instance = plainToInstance(dto, plain, { enableImplicitConversion: false });
  const errors = await validate(instance, { whitelist: true, forbidUnknownValues: false, validationError: { target: false, value: false } });
  if (errors.length > 0) throw apiError('VALIDATION_FAILED', { details: flatten(errors) });
  return instance;
}

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const field = !parent ? error.property : /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`;
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
