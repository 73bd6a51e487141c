import { registerDecorator, type ValidationOptions } from 'class-validator';
import { hasCodePlaceholder } from '../../templates.js';

/** The value, serialized as JSON, is at most `max` bytes (metadata limits). */
export function MaxJsonBytes(max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'maxJsonBytes',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [max],
      options: { message: `$property must serialize to at most ${max} bytes of JSON`, ...options },
      validator: {
        validate: (value: unknown) =>
          value === undefined || Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') <= max,
      },
    });
  };
}

/** An OTP text holds the code's placeholder, `{{code}}` or its alias `{{pin}}` (non-strings are IsString's). */
export function HasCodePlaceholder(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'hasCodePlaceholder',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must contain {{code}} (or {{pin}})', ...options },
      validator: { validate: (value: unknown) => typeof value !== 'string' || hasCodePlaceholder(value) },
    });
  };
}
