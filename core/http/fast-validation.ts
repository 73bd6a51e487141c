import { getMetadataStorage, type ValidationArguments } from 'class-validator';

type Dto<T> = new () => T;
type Check = (value: unknown, object: object) => boolean;

interface CompiledProperty {
  name: string;
  /** IsOptional / ValidateIf: all must hold for the checks to run. */
  conditions: Array<(object: object, value: unknown) => boolean>;
  checks: Check[];
}

const compiled = new Map<Dto<object>, CompiledProperty[] | null>();

/**
 * The hot routes' shortcut past class-transformer and class-validator's per-call metadata
 * lookups (measured: most of a send-otp's validation CPU). The DTO's own decorators are compiled
 * once into their validator functions — the very functions class-validator calls — so a body
 * that passes here passes there. Anything else (a failing check, an async or `each` rule, a
 * rule type not handled here) returns undefined: the caller then runs the full validation,
 * which alone builds the VALIDATION_FAILED details. Only for DTOs without class-transformer
 * decorators (@Type, @Transform...), which this does not apply.
 */
export function validateFast<T extends object>(dto: Dto<T>, plain: Record<string, unknown>): T | undefined {
  let properties = compiled.get(dto);
  if (properties === undefined) {
    properties = compile(dto);
    compiled.set(dto, properties);
  }
  if (properties === null) return undefined;
  const instance = new dto() as Record<string, unknown>;
  // Like whitelist: only decorated properties are kept.
  for (const { name } of properties)
    if (Object.prototype.hasOwnProperty.call(plain, name)) instance[name] = plain[name];
  for (const property of properties) {
    const value = instance[property.name];
    if (!property.conditions.every((condition) => condition(instance, value))) continue;
    for (const check of property.checks) if (check(value, instance) !== true) return undefined;
  }
  return instance as T;
}

function compile<T extends object>(dto: Dto<T>): CompiledProperty[] | null {
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(dto, '', true, false, undefined);
  const byName = new Map<string, CompiledProperty>();
  for (const m of metadatas) {
    if (m.each || (m.groups && m.groups.length > 0)) return null;
    let property = byName.get(m.propertyName);
    if (!property) byName.set(m.propertyName, (property = { name: m.propertyName, conditions: [], checks: [] }));
    if (m.type === 'conditionalValidation') {
      property.conditions.push(m.constraints[0] as (object: object, value: unknown) => boolean);
    } else if (m.type === 'customValidation') {
      for (const constraint of storage.getTargetValidatorConstraints(m.constraintCls)) {
        if (constraint.async) return null;
        const validator = constraint.instance as { validate(value: unknown, args: ValidationArguments): unknown };
        property.checks.push(
          (value, object) =>
            validator.validate(value, {
              value,
              constraints: m.constraints,
              targetName: dto.name,
              object,
              property: m.propertyName,
            }) === true,
        );
      }
    } else {
      return null;
    }
  }
  return [...byName.values()];
}
