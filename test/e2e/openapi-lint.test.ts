/**
 * The served /openapi.json, checked from outside with the standard tools (issue 16):
 * `@apidevtools/swagger-parser` validates it, `@redocly/openapi-core` lints it with the
 * recommended ruleset (plus example validation as errors) and finds no error; every operation has
 * a unique operationId derived from its method and path, and declares who may call it; info.version
 * is the package's version.
 */
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import test from 'ava';
import { operationIdOf } from '../../core/http/openapi.js';
import { useSmx } from '../helpers/smx.js';

const current = useSmx(test, 'openapi-lint');

type Operation = {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, unknown>;
};
type Doc = { info: { version: string }; paths: Record<string, Record<string, Operation>> };

/**
 * Warnings accepted, each with its reason. Anything else the linter warns about fails the test
 * (a new route should not bring back what issue 16 cleaned up).
 */
const ACCEPTED_WARNINGS: Record<string, (pointer: string) => boolean> = {
  // The project has not chosen a license; the document does not invent one.
  'info-license': () => true,
  // Liveness and readiness answer 200 or 503: there is nothing a caller can get wrong.
  'operation-4xx-response': (pointer) => pointer.startsWith('#/paths/~1health~1'),
};

const served = async () => (await fetch(`${current().url}/openapi.json`)).text();

test('swagger-parser validates the served document', async (t) => {
  const text = await served();
  await t.notThrowsAsync(() => SwaggerParser.validate(JSON.parse(text)));
});

test('redocly lint (recommended, examples validated): no errors, only the accepted warnings', async (t) => {
  const config = await createConfig({
    extends: ['recommended'],
    rules: { 'no-invalid-schema-examples': 'error', 'no-invalid-media-type-examples': 'error' },
  });
  const problems = await lintFromString({ source: await served(), absoluteRef: 'openapi.json', config });
  const describe = (p: (typeof problems)[number]) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`;
  const errors = problems.filter((p) => p.severity === 'error').map(describe);
  const warnings = problems.filter((p) => p.severity === 'warn');
  t.log(`${errors.length} errors, ${warnings.length} warnings: ${warnings.map(describe).join('; ')}`);
  t.deepEqual(errors, []);
  t.deepEqual(warnings.filter((p) => !ACCEPTED_WARNINGS[p.ruleId]?.(p.location[0]?.pointer ?? '')).map(describe), []);
});

test('every operation: operationId = method + path, unique; security declared; public routes are security: []', async (t) => {
  const doc = JSON.parse(await served()) as Doc;
  const ids = new Map<string, string>();
  const publicOps: string[] = [];
  let operations = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      operations++;
      const name = `${method.toUpperCase()} ${path}`;
      t.is(op.operationId, operationIdOf(method, path), name);
      t.false(ids.has(op.operationId!), `${name} repeats ${ids.get(op.operationId!)}'s operationId`);
      ids.set(op.operationId!, name);
      t.true(Array.isArray(op.security), `${name} declares its security`);
      if (op.security?.length === 0) publicOps.push(name);
    }
  }
  t.true(operations > 50, `${operations} operations`);
  t.is(operationIdOf('post', '/v1/send-otp'), 'postV1SendOtp');
  t.is(operationIdOf('delete', '/admin/projects/{id}/api-keys/{keyId}'), 'deleteAdminProjectsByIdApiKeysByKeyId');
  t.is(operationIdOf('DELETE', '/admin/projects/:id/api-keys/:keyId'), 'deleteAdminProjectsByIdApiKeysByKeyId');
  // Who needs no credentials at all: the probes, the phone's link (its token is in the body), the OAuth token endpoint.
  for (const name of ['GET /health/live', 'GET /health/ready', 'POST /v1/devices/link', 'POST /compat/oauth/token'])
    t.true(publicOps.includes(name), `${name} is security: []`);
  t.deepEqual(
    publicOps.filter((name) => !/^(GET \/health\/|POST \/v1\/devices\/link$|POST \/compat\/oauth\/token$)/.test(name)),
    [],
  );
});

test('every request field and query parameter has an example (or an enum), none of them a limit', async (t) => {
  const doc = JSON.parse(await served()) as {
    paths: Record<string, Record<string, any>>;
    components: { schemas: Record<string, any> };
  };
  const resolve = (schema: any) => (schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema);
  const lacking: string[] = [];
  const atLimit: string[] = [];
  const look = (where: string, schema: any, example: unknown) => {
    const s = resolve(schema);
    if (example === undefined && s.example === undefined && !s.enum && !s.properties) lacking.push(where);
    const value = example ?? s.example;
    if (typeof value === 'number' && s.maximum !== undefined && value === s.maximum && s.minimum !== s.maximum)
      atLimit.push(`${where}: ${value}`);
    if (typeof value === 'string' && s.maxLength !== undefined && value.length === s.maxLength && s.maxLength > 8)
      atLimit.push(`${where}: ${s.maxLength} characters`);
  };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const name = `${method.toUpperCase()} ${path}`;
      for (const parameter of op.parameters ?? [])
        if (parameter.in !== 'path')
          look(`${name} ${parameter.in} ${parameter.name}`, parameter.schema, parameter.example);
      for (const [type, media] of Object.entries<any>(op.requestBody?.content ?? {})) {
        for (const [field, schema] of Object.entries<any>(resolve(media.schema).properties ?? {}))
          look(`${name} ${type} ${field}`, schema, undefined);
      }
    }
  }
  t.deepEqual(lacking, []);
  t.deepEqual(atLimit, []);
});

test('info.version is the package version; response fields a client relies on are required', async (t) => {
  const doc = JSON.parse(await served()) as Doc & {
    paths: Record<string, Record<string, { responses: Record<string, any> }>>;
  };
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  t.is(doc.info.version, pkg.version);
  const sent = doc.paths['/v1/send-otp']!.post!.responses['201'].content['application/json'].schema.properties.data;
  t.true(sent.required.includes('verificationId'));
  const verified =
    doc.paths['/v1/verify-otp']!.post!.responses['200'].content['application/json'].schema.properties.data;
  t.deepEqual(verified.required, ['verified', 'status', 'verificationId', 'attempts', 'maxAttempts']);
});
