import { registerDecorator, type ValidationOptions } from 'class-validator';

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
        validate: (value: unknown) => value === undefined || Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') <= max,
      },
    });
  };
}
