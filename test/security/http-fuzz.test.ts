/**
 * Adversarial suite, HTTP half: every operation of the served OpenAPI document gets bodies,
 * path parameters and query strings generated from its own schemas, mixed with hostile shapes
 * (deep nesting, huge strings, NUL, invalid UTF-8, `__proto__`). Every answer must be a 2xx or a
 * 4xx in the envelope with an `x-request-id`, within a bounded time: never a 5xx, a hang, a stack
 * or SQL text, or a crash. Bounded in count (FUZZ_RUNS per operation) and in time.
 */
import test from 'ava';
import fc from 'fast-check';
import { ERROR_CATALOGUE } from '../../core/errors.js';
import { createProject, linkNewDevice, useSmx, type TestSmx } from '../helpers/smx.js';
import {
  bodyBytes,
  pathParameter,
  queryString,
  type OpenApiDocument,
  type OpenApiOperation,
} from './openapi-arbitraries.js';

const current = useSmx(test, 'security-http-fuzz');

/** Inputs per operation; FUZZ_RUNS raises it for a longer local run. */
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 40);
/** No answer within this is a hang. */
const ANSWER_TIMEOUT_MS = 15_000;
/** Long-lived streams and HTML pages are not JSON routes. */
const SKIPPED = [/^\/docs/, /^\/admin\/queues/, /\/events$/];
/** Run last, so the fixtures the other operations use survive until then. */
const DESTRUCTIVE = (method: string, path: string) => method === 'delete' || /\/(activate|cancel)$/.test(path);

interface Counts {
  tried: number;
  ok: number;
  clientErrors: number;
  serverErrors: number;
  byStatus: Record<string, number>;
}

interface Fixtures {
  key: string;
  otherKey: string;
  ids: string[];
}

async function fixtures(smx: TestSmx): Promise<Fixtures> {
  const a = await createProject(smx, 'Fuzz A');
  const b = await createProject(smx, 'Fuzz B');
  const device = await linkNewDevice(smx, a.projectId, 'Fuzz phone');
  const otp = await smx.api(a.key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  const sms = await smx.api(a.key, 'POST', '/v1/send-sms', { to: '+4915112345679', message: 'hello' });
  const keys = await smx.admin('GET', `/admin/projects/${a.projectId}/api-keys`);
  const ids = [
    a.projectId,
    b.projectId,
    device.deviceId,
    otp.body.data?.verificationId,
    otp.body.data?.messageId,
    sms.body.data?.messageId,
    keys.body.data?.apiKeys?.[0]?.id,
    'en',
    '%2B15555550100',
  ];
  return { key: a.key, otherKey: b.key, ids: ids.filter((id): id is string => typeof id === 'string') };
}

function credentials(path: string, f: Fixtures, adminToken: string): Record<string, string> {
  if (path.startsWith('/admin') || path === '/metrics') return { authorization: `Bearer ${adminToken}` };
  if (path.startsWith('/v1') || (path.startsWith('/compat') && !path.startsWith('/compat/smsgate')))
    return { 'x-smx-api-key': f.key };
  return {};
}

const CATALOGUE = ERROR_CATALOGUE as Record<string, { status: number }>;
const LEAK =
  /(?:\n|\\n)\s+at [\w.<>]+ \(|\bselect\b[^"]{0,80}\bfrom\b|\binsert into\b|\bupdate "?\w+"? set\b|node_modules/i;

/** Checks one answer; returns a problem or undefined. */
function problem(path: string, status: number, headers: Headers, text: string): string | undefined {
  if (status >= 500) return `${status} ${text.slice(0, 300)}`;
  if (!headers.get('x-request-id')) return `no x-request-id (${status})`;
  if (LEAK.test(text)) return `internal text in the answer: ${text.slice(0, 300)}`;
  if (status === 204 || text === '') return undefined;
  // /metrics answers Prometheus text; everything else JSON.
  if (status < 400 && !(headers.get('content-type') ?? '').includes('json'))
    return path === '/metrics' ? undefined : `not JSON (${status})`;
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return `not JSON (${status}): ${text.slice(0, 200)}`;
  }
  // The compatibility surfaces answer in their providers' shapes; SMX's own routes in the envelope.
  if (path.startsWith('/compat')) return undefined;
  if (typeof body?.success !== 'boolean') return `no envelope (${status}): ${text.slice(0, 200)}`;
  if (!body.success) {
    const entry = CATALOGUE[body.error?.code];
    if (!entry) return `code outside the catalogue: ${body.error?.code}`;
    if (entry.status !== status) return `${body.error.code} with status ${status}`;
    if (!body.requestId) return 'error without requestId';
  }
  return undefined;
}

function seedOf(error: unknown): string {
  return /seed: (-?\d+)/.exec(String((error as Error).message))?.[1] ?? '?';
}

test('every public JSON route answers hostile and schema-shaped input with 2xx or an enveloped 4xx, never 5xx or a hang', async (t) => {
  t.timeout(170_000);
  const smx = current();
  const f = await fixtures(smx);
  const doc = (await (await fetch(`${smx.url}/openapi.json`)).json()) as OpenApiDocument;
  const operations: Array<{ method: string; path: string; operation: OpenApiOperation }> = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (SKIPPED.some((pattern) => pattern.test(path))) continue;
    for (const [method, operation] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) operations.push({ method, path, operation });
    }
  }
  operations.sort((x, y) => Number(DESTRUCTIVE(x.method, x.path)) - Number(DESTRUCTIVE(y.method, y.path)));
  t.true(operations.length >= 50, `the document lists the routes (${operations.length})`);

  const counts: Counts = { tried: 0, ok: 0, clientErrors: 0, serverErrors: 0, byStatus: {} };
  const failures: string[] = [];
  const started = Date.now();
  for (const { method, path, operation } of operations) {
    const parameters = (path.match(/\{[^}]+\}/g) ?? []).map(() => pathParameter(f.ids));
    const schema = operation.requestBody?.content?.['application/json']?.schema;
    const body = method === 'get' || method === 'delete' ? fc.constant(undefined) : bodyBytes(doc, schema);
    const property = fc.asyncProperty(
      fc.tuple(...parameters, fc.constant(0)),
      queryString(doc, operation),
      body,
      async (values, query, payload) => {
        let i = 0;
        const url = smx.url + path.replace(/\{[^}]+\}/g, () => String(values[i++])) + query;
        const response = await fetch(url, {
          method: method.toUpperCase(),
          headers: {
            ...credentials(path, f, smx.adminToken),
            ...(payload ? { 'content-type': 'application/json' } : {}),
          },
          body: payload,
          signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
        });
        const text = await response.text();
        counts.tried++;
        counts.byStatus[response.status] = (counts.byStatus[response.status] ?? 0) + 1;
        if (response.status >= 500) counts.serverErrors++;
        else if (response.status >= 400) counts.clientErrors++;
        else counts.ok++;
        const found = problem(path, response.status, response.headers, text);
        if (found)
          throw new Error(`${method.toUpperCase()} ${url.slice(smx.url.length, smx.url.length + 200)}: ${found}`);
      },
    );
    try {
      await fc.assert(property, {
        numRuns: RUNS_PER_OPERATION,
        endOnFailure: true,
        seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31),
      });
    } catch (error) {
      // The property's own error names the request and what was wrong; the counterexample is long.
      const cause = (error as Error & { cause?: Error }).cause;
      failures.push(`${(cause?.message ?? (error as Error).message).slice(0, 600)} (FUZZ_SEED=${seedOf(error)})`);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.log(
    `http fuzz: ${operations.length} operations, ${counts.tried} inputs tried in ${seconds} s: 2xx ${counts.ok}, 4xx ${counts.clientErrors}, 5xx ${counts.serverErrors}; by status ${JSON.stringify(counts.byStatus)}`,
  );
  const errorLines = smx
    .logs()
    .split('\n')
    .filter((line) => line.includes('"level":50'))
    .map((line) => line.slice(0, 600));
  t.deepEqual(failures, [], `${failures.join('\n\n')}\n\nserver errors:\n${errorLines.slice(0, 5).join('\n')}`);
  t.is(counts.serverErrors, 0);
  t.true(counts.clientErrors > 0 && counts.ok > 0, 'both refusals and acceptances were reached');

  // Still serving, and no request failed inside.
  const ready = await fetch(`${smx.url}/health/ready`);
  t.is(ready.status, 200);
  // The fuzz may have deleted its own projects and keys; a new project still works end to end.
  const fresh = await createProject(smx, 'After the fuzz');
  const still = await smx.api(fresh.key, 'POST', '/v1/send-sms', { to: '+4915112345670', message: 'still here' });
  t.is(still.status, 409, `no device yet: DEVICE_NOT_LINKED (${JSON.stringify(still.body)})`);
  t.false(/request failed: INTERNAL|Maximum call stack/.test(smx.logs()), 'no request failed inside the server');
});
