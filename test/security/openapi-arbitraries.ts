/**
 * fast-check arbitraries for the adversarial suite: request bodies, path parameters and query
 * strings shaped by the served OpenAPI document, and hostile shapes no schema describes (deep
 * nesting, huge strings, NUL and control characters, invalid UTF-8, prototype keys).
 */
import fc from 'fast-check';

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface OpenApiOperation {
  operationId?: string;
  parameters?: Array<{ name: string; in: 'path' | 'query' | 'header'; schema?: JsonSchema; required?: boolean }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

export type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
};

/** Callback URLs the fuzz may produce: loopback only, so nothing ever leaves the machine. */
const LOOPBACK_URLS = [
  'https://127.0.0.1/hook',
  'http://127.0.0.1:1/x',
  'https://[::1]:8443/cb',
  'https://localhost/',
  'ftp://127.0.0.1/',
  'not a url',
  '',
];

/** Strings that have broken parsers, validators and SQL drivers elsewhere. */
export const NASTY_STRINGS = [
  '\u0000',
  'msg_\u0000abc',
  '\uD800',
  '\uDFFF\uD800',
  '%00',
  '%ZZ',
  '../../etc/passwd',
  "' OR 1=1 --",
  '{{code}}{{pin}}{{constructor}}',
  '<img src=x onerror=alert(1)>',
  '\u202E\u0007\u001b[31m',
  '+'.padEnd(40, '9'),
  'ver_' + 'A'.repeat(300),
  '__proto__',
  'constructor',
  '💥'.repeat(50),
  ' ',
  '-1',
  '1e309',
  'NaN',
];

const nastyString = fc.constantFrom(...NASTY_STRINGS);

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes out as raw bytes. */
export function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80';
  }
}

function resolve(doc: OpenApiDocument, schema: JsonSchema | undefined, seen = 0): JsonSchema | undefined {
  let current = schema;
  while (current?.$ref && seen++ < 10) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = doc.components?.schemas?.[name];
  }
  return current?.$ref ? undefined : current;
}

/** An arbitrary JSON value (bounded), for places the schema does not describe. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Values the schema describes, with a share of wrong types and nasty strings mixed in. */
export function fromSchema(doc: OpenApiDocument, input: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(doc, input);
  if (!schema || depth > 6) return anyJson;
  if (schema.allOf?.length)
    return fromSchema(doc, Object.assign({}, ...schema.allOf.map((s) => resolve(doc, s) ?? {})), depth);
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => fromSchema(doc, s, depth + 1)));
  const described = describedValue(doc, schema, depth);
  return fc.oneof(
    { arbitrary: described, weight: 8 },
    { arbitrary: nastyString, weight: 1 },
    { arbitrary: anyJson, weight: 1 },
  );
}

function describedValue(doc: OpenApiDocument, schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  const type = Array.isArray(schema.type)
    ? schema.type[0]
    : (schema.type ?? (schema.properties ? 'object' : undefined));
  switch (type) {
    case 'string':
      return stringFor(schema);
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? -1000, -1e9),
        max: Math.min(schema.maximum ?? 100_000, 1e9),
      });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(fromSchema(doc, schema.items, depth + 1), {
        minLength: 0,
        maxLength: Math.min(schema.maxItems ?? 5, 5),
      });
    case 'object': {
      const properties = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries(properties)) model[name] = fromSchema(doc, property, depth + 1);
      if (Object.keys(model).length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 });
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((key) => key in model) });
    }
    default:
      return anyJson;
  }
}

function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
  const max = Math.min(schema.maxLength ?? 40, 80);
  const min = Math.min(schema.minLength ?? 0, max);
  if (schema.format === 'uri' || schema.format === 'url') return fc.constantFrom(...LOOPBACK_URLS);
  if (schema.format === 'date-time')
    return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
  return fc.oneof(
    fc.string({ minLength: min, maxLength: max }),
    fc.constantFrom('+4915112345678', '+14155550100', '4915112345678', 'DE', 'US', 'en', '123456', 'numeric', 'alpha'),
  );
}

/** Nested arrays/objects `levels` deep around a scalar, as JSON text (built without recursion). */
export function deepJson(levels: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? '['.repeat(levels) + '1' + ']'.repeat(levels)
    : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

/** A JSON object text with a property set to raw JSON text (so hostile shapes need no JS value). */
function withRawField(body: unknown, field: string, rawJson: string): string {
  const base = body !== null && typeof body === 'object' && !Array.isArray(body) ? JSON.stringify(body) : '{}';
  const inner = base.slice(1, -1);
  return `{${inner}${inner ? ',' : ''}${JSON.stringify(field)}:${rawJson}}`;
}

/** Body bytes: mostly schema-shaped, the rest hostile. */
export function bodyBytes(doc: OpenApiDocument, schema: JsonSchema | undefined): fc.Arbitrary<Buffer> {
  const resolved = resolve(doc, schema);
  const fields = Object.keys(resolved?.properties ?? {}).concat(['metadata', 'to', 'id', '__proto__']);
  const shaped = fromSchema(doc, schema);
  const field = fc.constantFrom(...fields);
  const text = (arbitrary: fc.Arbitrary<string>) => arbitrary.map((s) => Buffer.from(s, 'utf8'));
  return fc.oneof(
    { weight: 10, arbitrary: text(shaped.map((v) => JSON.stringify(v) ?? 'null')) },
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(
            shaped,
            field,
            fc.integer({ min: 33, max: 6000 }),
            fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>,
          )
          .map(([v, f, n, k]) => withRawField(v, f, deepJson(n, k))),
      ),
    },
    {
      weight: 1,
      arbitrary: text(
        fc
          .tuple(
            fc.integer({ min: 33, max: 6000 }),
            fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>,
          )
          .map(([n, k]) => deepJson(n, k)),
      ),
    },
    {
      weight: 1,
      arbitrary: text(
        fc
          .tuple(shaped, field, fc.integer({ min: 10_000, max: 400_000 }))
          .map(([v, f, n]) => withRawField(v, f, JSON.stringify('x'.repeat(n)))),
      ),
    },
    {
      weight: 2,
      arbitrary: text(fc.tuple(shaped, field, nastyString).map(([v, f, s]) => withRawField(v, f, JSON.stringify(s)))),
    },
    {
      weight: 1,
      arbitrary: text(shaped.map((v) => withRawField(v, '__proto__', '{"isAdmin":true,"projectId":"prj_x"}'))),
    },
    {
      weight: 1,
      arbitrary: text(shaped.map((v) => withRawField(v, 'constructor', '{"prototype":{"polluted":true}}'))),
    },
    // Invalid UTF-8 inside a string value, and raw garbage.
    {
      weight: 1,
      arbitrary: fc
        .tuple(shaped, field)
        .map(([v, f]) =>
          Buffer.concat([
            Buffer.from(withRawField(v, f, '"ab').slice(0, -1)),
            Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
            Buffer.from('"}'),
          ]),
        ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)) },
    { weight: 1, arbitrary: text(anyJson.map((v) => JSON.stringify(v))) },
  );
}

/** A path parameter: ids of the right prefix, nasty strings, long and oddly encoded ones. */
export function pathParameter(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...(known.length ? known : ['x'])).map(encode),
    fc.string({ maxLength: 30 }).map(encode),
    nastyString.map(encode),
    fc.constantFrom('%ZZ', '%', '%00', '%2F..%2F', 'a'.repeat(2000), '%C3%28', '%F0%9F%92'),
  );
}

/** A query string for the operation's query parameters, schema-shaped with hostile values mixed in. */
export function queryString(doc: OpenApiDocument, operation: OpenApiOperation): fc.Arbitrary<string> {
  const names = (operation.parameters ?? []).filter((p) => p.in === 'query');
  if (names.length === 0) return fc.constant('');
  const pairs = names.map((p) =>
    fc.option(
      fc
        .oneof(
          fromSchema(doc, p.schema).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
          nastyString,
        )
        .map((v) => `${encode(p.name)}=${encode(v).replace(/%25ZZ/g, '%ZZ')}`),
      { nil: undefined },
    ),
  );
  return fc.tuple(...pairs).map((parts) => {
    const present = parts.filter((p): p is string => p !== undefined);
    return present.length ? `?${present.join('&')}` : '';
  });
}
