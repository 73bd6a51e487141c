/**
 * /openapi.json against behaviour: every documented operation documents a success response with
 * a schema, and real calls to a running SMX (a real phone linked) answer statuses the document
 * lists for that operation, with bodies the documented schema describes — no field left out.
 */
import test, { type ExecutionContext } from 'ava';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import type { ReferenceDevice } from '../../device/reference-device.js';
import { startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'openapi-contract', { env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true' } });

type Schema = Record<string, any>;
type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, Schema> }>>;
  components: { schemas: Record<string, Schema> };
};
type Auth = 'admin' | 'none' | { key: string } | { bearer: string };

/** Served raw on purpose: Bull Board's UI and API, Prometheus text, the Swagger UI. */
const RAW = [/^\/admin\/queues/, /^\/metrics$/, /^\/docs/];

let doc: Doc;
/** `METHOD /path/{template}` → statuses seen. */
const seen = new Map<string, Set<number>>();

/** The served document, read once (before hooks run concurrently with useSmx's start). */
async function loadDoc(): Promise<void> {
  doc ??= (await (await fetch(`${current().url}/openapi.json`)).json()) as Doc;
}

function resolve(schema: Schema): Schema {
  if (typeof schema.$ref !== 'string') return schema;
  const target = doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
  if (!target) throw new Error(`unresolved ${schema.$ref}`);
  return resolve(target);
}

/**
 * Where `value` departs from `schema`: types, enums, required fields, nullability, and — stricter
 * than JSON Schema's default — any field the schema does not declare (a schema must describe the
 * data, not just admit it). An object schema without properties admits any fields.
 */
function departures(schemaIn: Schema, value: unknown, at: string): string[] {
  const schema = resolve(schemaIn);
  if (value === null) return schema.nullable || schema.type === undefined ? [] : [`${at}: null, not declared nullable`];
  const out: string[] = [];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const wrong = (expected: string) => [
    ...out,
    `${at}: expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`,
  ];
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? out : wrong('a string');
    case 'integer':
      return Number.isInteger(value) ? out : wrong('an integer');
    case 'number':
      return typeof value === 'number' ? out : wrong('a number');
    case 'boolean':
      return typeof value === 'boolean' ? out : wrong('a boolean');
    case 'array':
      if (!Array.isArray(value)) return wrong('an array');
      return [
        ...out,
        ...value.flatMap((item, i) => (schema.items ? departures(schema.items, item, `${at}[${i}]`) : [])),
      ];
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return wrong('an object');
      const record = value as Record<string, unknown>;
      for (const field of schema.required ?? []) if (!(field in record)) out.push(`${at}.${field}: required, missing`);
      for (const [field, v] of Object.entries(record)) {
        const declared = schema.properties?.[field];
        if (declared) out.push(...departures(declared, v, `${at}.${field}`));
        else if (typeof schema.additionalProperties === 'object')
          out.push(...departures(schema.additionalProperties, v, `${at}.${field}`));
        else if (schema.properties && schema.additionalProperties !== true)
          out.push(`${at}.${field}: not in the schema`);
      }
      return out;
    }
    default:
      return out;
  }
}

interface Answer {
  status: number;
  body: any;
}

/**
 * Calls `METHOD /path/{param}` as documented (params filled in, URL-encoded), then asserts the
 * status is one the operation documents and the JSON body matches that status's schema.
 */
async function call(
  t: ExecutionContext,
  operation: string,
  init: { params?: Record<string, string>; query?: string; auth?: Auth; body?: unknown } = {},
): Promise<Answer> {
  const [method, template] = operation.split(' ') as [string, string];
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(init.params?.[name] ?? `missing-${name}`),
  );
  const auth = init.auth ?? 'admin';
  const headers: Record<string, string> = {};
  if (auth === 'admin') headers.authorization = `Bearer ${current().adminToken}`;
  else if (auth !== 'none')
    Object.assign(headers, 'key' in auth ? { 'x-smx-api-key': auth.key } : { authorization: `Bearer ${auth.bearer}` });
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${current().url}${path}${init.query ? `?${init.query}` : ''}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('application/json');
  const body = json && text ? JSON.parse(text) : text;

  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) {
    t.fail(`${operation} is not in /openapi.json`);
    return { status: response.status, body };
  }
  if (!seen.has(operation)) seen.set(operation, new Set());
  seen.get(operation)!.add(response.status);
  const documented = op.responses[String(response.status)];
  t.truthy(
    documented,
    `${operation} answered ${response.status} (${text.slice(0, 200)}); documented: ${Object.keys(op.responses).join(', ')}`,
  );
  const schema = documented?.content?.['application/json']?.schema;
  if (documented && json) {
    t.truthy(schema, `${operation} ${response.status}: no JSON schema`);
    if (schema)
      t.deepEqual(
        departures(schema, body, 'body'),
        [],
        `${operation} ${response.status}: the body departs from its schema`,
      );
  }
  return { status: response.status, body };
}

/** Asserts the status too (the contract test is about documented statuses; this says which one we meant). */
async function expect(
  t: ExecutionContext,
  status: number,
  operation: string,
  init?: Parameters<typeof call>[2],
): Promise<any> {
  const answer = await call(t, operation, init);
  t.is(answer.status, status, `${operation}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  return answer.body;
}

/** A project with an API key, a phone linked with the QR token (started) and a second one by link code. */
async function setUp(t: ExecutionContext, name: string) {
  await loadDoc();
  const project = (await expect(t, 201, 'POST /admin/projects', { body: { name } })).data;
  const id = { id: project.id };
  const created = (
    await expect(t, 201, 'POST /admin/projects/{id}/api-keys', { params: id, body: { name: 'contract' } })
  ).data;
  const key = { key: created.key as string };
  const token = (await expect(t, 201, 'POST /admin/projects/{id}/link-tokens', { params: id })).data;
  const qr = JSON.parse(token.qr.payload) as { token: string };
  const credentials = (
    await expect(t, 201, 'POST /v1/devices/link', {
      auth: 'none',
      body: { token: qr.token, name: 'Phone', sims: [{ slot: 0, number: '+14155552671', rentable: true }] },
    })
  ).data as LinkResult;
  await expect(t, 200, 'PATCH /admin/devices/{id}', {
    params: { id: credentials.deviceId },
    body: { sendRatePerMinute: 0 },
  });
  const sent: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { onSend: (m) => void sent.push(m) });
  const smsTo = (to: string, count = 1) =>
    eventually(async () => sent.filter((m) => m.to === to)[count - 1], 15_000, `SMS ${count} to ${to}`);
  return { projectId: project.id as string, keyId: created.id as string, key, credentials, phone, smsTo };
}

test.serial(
  'every documented operation has a success response with a JSON schema (raw routes aside); SMSGate mobile routes stay hidden',
  async (t) => {
    await loadDoc();
    const lacking: string[] = [];
    let operations = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (RAW.some((raw) => raw.test(path))) continue;
      for (const [method, op] of Object.entries(ops)) {
        operations++;
        const success = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
        if (success.length === 0) lacking.push(`${method.toUpperCase()} ${path}: no success response`);
        // A body that is not JSON, or too large, is refused before any handler runs.
        if (['post', 'put', 'patch'].includes(method))
          for (const status of ['400', '413'])
            if (!op.responses?.[status]) lacking.push(`${method.toUpperCase()} ${path}: no ${status}`);
        for (const [status, response] of success) {
          const schema = response.content?.['application/json']?.schema;
          if (!schema) lacking.push(`${method.toUpperCase()} ${path} ${status}: no schema`);
          else if (
            resolve(schema).type === 'object' &&
            resolve(schema).properties?.data &&
            !resolve(schema).properties.data.type &&
            !resolve(schema).properties.data.nullable
          ) {
            lacking.push(`${method.toUpperCase()} ${path} ${status}: data undescribed`);
          }
        }
      }
    }
    t.true(operations > 50, `${operations} operations`);
    t.deepEqual(lacking, []);
    t.false(
      Object.keys(doc.paths).some((path) => path.startsWith('/compat/smsgate')),
      'SMSGate mobile routes are not documented',
    );
  },
);

test.serial(
  'admin API: projects, keys, link tokens and codes, devices, templates, test numbers, webhooks',
  async (t) => {
    const { projectId, credentials, key } = await setUp(t, 'contract admin');
    const id = { id: projectId };
    await expect(t, 200, 'GET /admin/projects');
    await expect(t, 200, 'GET /admin/projects/{id}', { params: id });
    await expect(t, 404, 'GET /admin/projects/{id}', { params: { id: 'prj_AAAAAAAAAAAAAAAAAAAAAA' } });
    await expect(t, 200, 'PATCH /admin/projects/{id}', {
      params: id,
      body: { codeLength: 6, rateLimits: { perCountryPrefix: { '+1': 100 } } },
    });
    await expect(t, 400, 'PATCH /admin/projects/{id}', { params: id, body: { routing: 'nope', codeLength: 3 } });

    const second = (
      await expect(t, 201, 'POST /admin/projects/{id}/api-keys', { params: id, body: { name: 'second' } })
    ).data;
    await expect(t, 400, 'POST /admin/projects/{id}/api-keys', { params: id, body: {} });
    await expect(t, 404, 'POST /admin/projects/{id}/api-keys', {
      params: { id: 'prj_AAAAAAAAAAAAAAAAAAAAAA' },
      body: { name: 'x' },
    });
    await expect(t, 200, 'GET /admin/projects/{id}/api-keys', { params: id });
    await expect(t, 200, 'DELETE /admin/projects/{id}/api-keys/{keyId}', {
      params: { id: projectId, keyId: second.id },
    });
    await expect(t, 404, 'DELETE /admin/projects/{id}/api-keys/{keyId}', {
      params: { id: projectId, keyId: second.id },
    });
    await expect(t, 403, 'GET /admin/projects', { auth: key });
    await expect(t, 401, 'GET /admin/projects', { auth: 'none' });

    const code = (await expect(t, 201, 'POST /admin/projects/{id}/link-codes', { params: id })).data;
    const byCode = (
      await expect(t, 201, 'POST /v1/devices/link', {
        auth: 'none',
        body: { code: code.code, name: 'Typed-code phone' },
      })
    ).data;
    await expect(t, 401, 'POST /v1/devices/link', { auth: 'none', body: { code: code.code, name: 'Reused code' } });
    await expect(t, 200, 'GET /admin/projects/{id}/devices', { params: id });
    await expect(t, 200, 'GET /admin/devices/{id}', { params: { id: credentials.deviceId } });
    await expect(t, 200, 'POST /admin/devices/{id}/activate', { params: { id: byCode.deviceId } });
    await expect(t, 200, 'POST /admin/devices/{id}/activate', { params: { id: credentials.deviceId } });
    await expect(t, 200, 'DELETE /admin/devices/{id}', { params: { id: byCode.deviceId } });
    await expect(t, 404, 'GET /admin/devices/{id}', { params: { id: byCode.deviceId } });

    await expect(t, 200, 'GET /admin/projects/{id}/templates', { params: id });
    await expect(t, 200, 'PUT /admin/projects/{id}/templates/{language}', {
      params: { id: projectId, language: 'de' },
      body: { text: 'Ihr Code: {{code}}' },
    });
    await expect(t, 400, 'PUT /admin/projects/{id}/templates/{language}', {
      params: { id: projectId, language: 'xx' },
      body: { text: 'no placeholder' },
    });
    await expect(t, 200, 'DELETE /admin/projects/{id}/templates/{language}', {
      params: { id: projectId, language: 'de' },
    });

    await expect(t, 201, 'POST /admin/projects/{id}/test-numbers', {
      params: id,
      body: { number: '+15555550100', code: '123456' },
    });
    await expect(t, 200, 'GET /admin/projects/{id}/test-numbers', { params: id });
    await expect(t, 200, 'DELETE /admin/projects/{id}/test-numbers/{number}', {
      params: { id: projectId, number: '+15555550100' },
    });
    await expect(t, 404, 'DELETE /admin/projects/{id}/test-numbers/{number}', {
      params: { id: projectId, number: '+15555550100' },
    });

    const hook = (
      await expect(t, 201, 'POST /admin/projects/{id}/webhooks', {
        params: id,
        body: { url: 'http://127.0.0.1:9/hooks', events: ['message.delivered'] },
      })
    ).data;
    await expect(t, 200, 'GET /admin/projects/{id}/webhooks', { params: id });
    await expect(t, 200, 'GET /admin/projects/{id}/webhooks/{webhookId}/deliveries', {
      params: { id: projectId, webhookId: hook.id },
      query: 'limit=5',
    });
    await expect(t, 201, 'POST /admin/projects/{id}/webhook-callback-secret', { params: id });
    await expect(t, 200, 'DELETE /admin/projects/{id}/webhooks/{webhookId}', {
      params: { id: projectId, webhookId: hook.id },
    });
    await expect(t, 404, 'DELETE /admin/projects/{id}/webhooks/{webhookId}', {
      params: { id: projectId, webhookId: hook.id },
    });

    const doomed = (await expect(t, 201, 'POST /admin/projects', { body: { name: 'doomed' } })).data;
    await expect(t, 200, 'DELETE /admin/projects/{id}', { params: { id: doomed.id } });
    await expect(t, 200, 'GET /health/live', { auth: 'none' });
    await expect(t, 200, 'GET /health/ready', { auth: 'none' });
    await expect(t, 200, 'GET /metrics');
  },
);

test.serial(
  "the console's admin operations: test sends, a project's messages, verifications, stats, inbox, rentals; disabling a webhook",
  async (t) => {
    const { projectId, smsTo } = await setUp(t, 'contract console');
    const id = { id: projectId };
    const to = '+4915112345670';
    const otp = (
      await expect(t, 201, 'POST /admin/projects/{id}/send-otp', {
        params: id,
        body: { to, metadata: { from: 'console' } },
      })
    ).data;
    await expect(t, 400, 'POST /admin/projects/{id}/send-otp', { params: id, body: { to, codeLength: 3 } });
    await expect(t, 404, 'POST /admin/projects/{id}/send-otp', {
      params: { id: 'prj_AAAAAAAAAAAAAAAAAAAAAA' },
      body: { to },
    });
    const sms = (
      await expect(t, 201, 'POST /admin/projects/{id}/send-sms', {
        params: id,
        body: { to, message: 'Hi from the console' },
      })
    ).data;
    await smsTo(to, 2);
    await expect(t, 200, 'GET /admin/projects/{id}/messages', { params: id, query: 'limit=5' });
    // An OTP's message (no `message` field) and a custom SMS (with it).
    await expect(t, 200, 'GET /admin/projects/{id}/messages/{messageId}', {
      params: { id: projectId, messageId: otp.messageId },
    });
    await expect(t, 200, 'GET /admin/projects/{id}/messages/{messageId}', {
      params: { id: projectId, messageId: sms.messageId },
    });
    await expect(t, 200, 'GET /admin/projects/{id}/verifications/{verificationId}', {
      params: { id: projectId, verificationId: otp.verificationId },
    });
    await expect(t, 200, 'GET /admin/projects/{id}/stats', { params: id, query: 'interval=day' });
    await expect(t, 200, 'GET /admin/projects/{id}/inbox', { params: id });
    await expect(t, 200, 'GET /admin/projects/{id}/rentals', { params: id });
    const hook = (
      await expect(t, 201, 'POST /admin/projects/{id}/webhooks', {
        params: id,
        body: { url: 'http://127.0.0.1:9/console', events: ['*'] },
      })
    ).data;
    await expect(t, 200, 'POST /admin/projects/{id}/webhooks/{webhookId}/disable', {
      params: { id: projectId, webhookId: hook.id },
    });
  },
);

test.serial('OTP and SMS: send, verify, read, resend, cancel, bulk, batches, the log, status, stats', async (t) => {
  const { key, smsTo } = await setUp(t, 'contract v1');
  const to = '+4915112345678';
  const otp = (
    await expect(t, 201, 'POST /v1/send-otp', {
      auth: key,
      body: { to, template: 'Code: {{code}}.', metadata: { order: 1 } },
    })
  ).data;
  const code = /Code: (\w+)\./.exec((await smsTo(to)).body)![1]!;
  await expect(t, 200, 'POST /v1/verify-otp', {
    auth: key,
    body: { verificationId: otp.verificationId, otp: '000000' === code ? '111111' : '000000' },
  });
  await expect(t, 200, 'POST /v1/verify-otp', { auth: key, body: { verificationId: otp.verificationId, otp: code } });
  await expect(t, 409, 'POST /v1/verify-otp', { auth: key, body: { verificationId: otp.verificationId, otp: code } });
  await expect(t, 200, 'GET /v1/verifications/{id}', { auth: key, params: { id: otp.verificationId } });
  await expect(t, 404, 'GET /v1/verifications/{id}', { auth: key, params: { id: 'ver_AAAAAAAAAAAAAAAAAAAAAA' } });
  await expect(t, 400, 'POST /v1/send-otp', { auth: key, body: { to, template: 'no placeholder', codeType: 'emoji' } });
  await expect(t, 422, 'POST /v1/send-otp', { auth: key, body: { to: '+1' } });

  const other = (await expect(t, 201, 'POST /v1/send-otp', { auth: key, body: { to: '+4915112345679' } })).data;
  const resend = await call(t, 'POST /v1/verifications/{id}/resend', {
    auth: key,
    params: { id: other.verificationId },
  });
  t.true([200, 429].includes(resend.status), `resend: ${resend.status}`);
  await expect(t, 200, 'POST /v1/verifications/{id}/cancel', { auth: key, params: { id: other.verificationId } });
  await expect(t, 409, 'POST /v1/verifications/{id}/resend', { auth: key, params: { id: other.verificationId } });

  const sms = (
    await expect(t, 201, 'POST /v1/send-sms', { auth: key, body: { to, message: 'Hello', metadata: { a: 1 } } })
  ).data;
  const bulk = (
    await expect(t, 202, 'POST /v1/send-sms/bulk', {
      auth: key,
      body: {
        messages: [
          { to, message: 'one' },
          { to: 'nope', message: 'two' },
        ],
      },
    })
  ).data;
  t.is(bulk.rejected.length, 1);
  await expect(t, 200, 'GET /v1/batches/{id}', { auth: key, params: { id: bulk.batchId } });
  await expect(t, 404, 'GET /v1/batches/{id}', { auth: key, params: { id: 'bat_AAAAAAAAAAAAAAAAAAAAAA' } });
  await smsTo(to, 3);
  await expect(t, 200, 'GET /v1/messages/{id}', { auth: key, params: { id: sms.messageId } });
  const page = (await expect(t, 200, 'GET /v1/messages', { auth: key, query: 'limit=2' })).data;
  await expect(t, 200, 'GET /v1/messages', { auth: key, query: `limit=2&cursor=${page.nextCursor}&kind=sms` });
  await expect(t, 400, 'GET /v1/messages', { auth: key, query: 'status=bogus&limit=0' });
  // Issue 13: a scheduled SMS with the new options, canceled while held; canceled twice is 409.
  const later = (
    await expect(t, 201, 'POST /v1/send-sms', {
      auth: key,
      body: {
        to,
        message: 'later',
        scheduleAt: new Date(Date.now() + 3_600_000).toISOString(),
        ttlSeconds: 600,
        priority: 5,
      },
    })
  ).data;
  await expect(t, 200, 'POST /v1/messages/{id}/cancel', { auth: key, params: { id: later.messageId } });
  await expect(t, 409, 'POST /v1/messages/{id}/cancel', { auth: key, params: { id: later.messageId } });
  await expect(t, 404, 'POST /v1/messages/{id}/cancel', { auth: key, params: { id: 'msg_AAAAAAAAAAAAAAAAAAAAAA' } });

  await expect(t, 200, 'GET /v1/status', { auth: key });
  await expect(t, 401, 'GET /v1/status', { auth: 'none' });
  await expect(t, 200, 'GET /v1/stats', { auth: key });
  await expect(t, 200, 'GET /v1/stats', { auth: key, query: 'interval=day' });
  await expect(t, 400, 'GET /v1/stats', {
    auth: key,
    query: 'interval=week&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
  });
  await expect(t, 200, 'GET /v1/webhook-deliveries', { auth: key });
});

test.serial('inbound and rentals: inbox, numbers, rent, rental messages, cancel', async (t) => {
  const { key, phone } = await setUp(t, 'contract rentals');
  await publish(phone, [{ from: '+4915112345678', body: 'Hello there', simSlot: 0 }]);
  await eventually(
    async () => (await call(t, 'GET /v1/inbox', { auth: key })).body.data.messages.length > 0,
    15_000,
    'the inbox has the SMS',
  );
  await expect(t, 200, 'GET /v1/inbox', { auth: key, query: 'limit=1' });
  await expect(t, 400, 'GET /v1/inbox', { auth: key, query: 'limit=0&cursor=bogus' });

  await expect(t, 200, 'GET /v1/numbers', { auth: key });
  const rental = (await expect(t, 201, 'POST /v1/rentals', { auth: key, body: { country: 'US', service: 'contract' } }))
    .data;
  await expect(t, 409, 'POST /v1/rentals', { auth: key, body: { country: 'US' } });
  await expect(t, 200, 'GET /v1/rentals/{id}', { auth: key, params: { id: rental.rentalId } });
  await expect(t, 404, 'GET /v1/rentals/{id}', { auth: key, params: { id: 'rnt_AAAAAAAAAAAAAAAAAAAAAA' } });
  await publish(phone, [{ from: 'Shop', body: 'Your code: 424242', simSlot: 0 }]);
  await eventually(
    async () =>
      (await call(t, 'GET /v1/rentals/{id}/messages', { auth: key, params: { id: rental.rentalId } })).body.data
        .messages.length > 0,
    15_000,
    'the rental has the SMS',
  );
  await expect(t, 200, 'POST /v1/rentals/{id}/cancel', { auth: key, params: { id: rental.rentalId } });
});

test.serial('compatibility surfaces: OTP by id, SMS Verify, number rental partner', async (t) => {
  const { key, keyId, smsTo } = await setUp(t, 'contract compat');
  const token = (
    await expect(t, 200, 'POST /compat/oauth/token', {
      auth: 'none',
      body: { grant_type: 'client_credentials', client_id: keyId, client_secret: key.key },
    })
  ).access_token as string;
  const otp = await expect(t, 201, 'POST /compat/otp', {
    auth: { bearer: token },
    body: { to: '+33612424100', template: 'PIN {{pin}} end', pinType: 'NUMERIC' },
  });
  const pin = /PIN (\w+) end/.exec((await smsTo('+33612424100')).body)![1]!;
  await expect(t, 200, 'POST /compat/otp/{otpId}', {
    auth: { bearer: token },
    params: { otpId: otp.otpId },
    body: { pin },
  });
  await expect(t, 400, 'POST /compat/otp', {
    auth: { bearer: token },
    body: { to: '+33612424100', template: 'no pin', pinType: 'X' },
  });
  await expect(t, 401, 'POST /compat/otp', { auth: 'none', body: { to: '+33612424100' } });

  const sent = await expect(t, 200, 'POST /compat/sms-verify', {
    auth: 'none',
    body: { 'api-key': key.key, number: '+4915112345678' },
  });
  await expect(t, 200, 'POST /compat/verify-security-code', {
    auth: 'none',
    body: { 'api-key': key.key, 'security-code': sent['security-code'] },
  });

  await expect(t, 200, 'GET /compat/getNumbers', { auth: 'none', query: `api_key=${encodeURIComponent(key.key)}` });
  const rented = await expect(t, 200, 'POST /compat/rentNumber', {
    auth: 'none',
    body: { api_key: key.key, country: 'US' },
  });
  await expect(t, 200, 'GET /compat/getSMS', {
    auth: 'none',
    query: `api_key=${encodeURIComponent(key.key)}&rental_id=${rented.rental_id}`,
  });
  await expect(t, 400, 'GET /compat/getSMS', { auth: 'none', query: `api_key=${encodeURIComponent(key.key)}` });
  await expect(t, 200, 'POST /compat/cancelNumber', {
    auth: 'none',
    body: { api_key: key.key, rental_id: rented.rental_id },
  });
});

test.serial('the calls above covered every creating operation and the ones the acceptance test named', async (t) => {
  await loadDoc();
  const creating = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => '201' in op.responses || '202' in op.responses)
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
  const named = [
    'GET /v1/status',
    'GET /v1/stats',
    'GET /v1/inbox',
    'GET /v1/batches/{id}',
    'GET /v1/messages',
    'POST /v1/rentals',
    'GET /v1/rentals/{id}',
  ];
  t.true(creating.length >= 10, creating.join(', '));
  for (const operation of [...creating, ...named]) {
    const statuses = seen.get(operation);
    t.truthy(statuses && [...statuses].some((s) => s >= 200 && s < 300), `${operation} was called with success`);
  }
  const uncovered = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .filter((op) => !seen.has(op));
  t.log(`operations not called: ${uncovered.join(', ') || 'none'}`);
});

function publish(phone: ReferenceDevice, sms: Parameters<ReferenceDevice['publishInbound']>[0]): Promise<void> {
  return phone.publishInbound(sms);
}
