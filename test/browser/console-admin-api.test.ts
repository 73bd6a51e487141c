/**
 * The admin endpoints the console reads and calls (issue 14), without a browser: a project's
 * message log and one message, a verification (never its code), stats, inbox, active rentals, the
 * test sends, disabling a webhook endpoint; each answer matches the operation's schema in the
 * served /openapi.json (no undocumented field), errors stay in the catalogue envelope. And how
 * /console itself is served: its policy, framing, and assets cached by hash.
 */
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx, type ApiResponse } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'console-admin-api', { env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true' } });

type Schema = Record<string, any>;
let doc:
  | {
      paths: Record<string, Record<string, { responses: Record<string, Schema> }>>;
      components: { schemas: Record<string, Schema> };
    }
  | undefined;

function resolve(schema: Schema): Schema {
  return typeof schema.$ref === 'string'
    ? resolve(doc!.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!)
    : schema;
}

/** Fields of `value` the schema does not declare, and nulls it does not allow (the contract test's strictness, in short). */
function undocumented(schemaIn: Schema, value: unknown, at: string): string[] {
  const schema = resolve(schemaIn);
  if (value === null) return schema.nullable || schema.type === undefined ? [] : [`${at}: null, not nullable`];
  if (Array.isArray(value))
    return schema.items ? value.flatMap((item, i) => undocumented(schema.items, item, `${at}[${i}]`)) : [];
  if (typeof value !== 'object' || !schema.properties) return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([field, v]) =>
    schema.properties[field]
      ? undocumented(schema.properties[field], v, `${at}.${field}`)
      : [`${at}.${field}: not in the schema`],
  );
}

/** Calls an admin operation and checks its status and that the body is what /openapi.json documents for it. */
async function call(
  t: ExecutionContext,
  status: number,
  method: string,
  template: string,
  params: Record<string, string>,
  body?: unknown,
  query = '',
): Promise<ApiResponse> {
  const smx = current();
  doc ??= (await (await fetch(`${smx.url}/openapi.json`)).json()) as typeof doc;
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
  const answer = await smx.admin(method, `${path}${query ? `?${query}` : ''}`, body);
  t.is(answer.status, status, `${method} ${template}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  const documented = doc!.paths[template]?.[method.toLowerCase()]?.responses[String(answer.status)];
  t.truthy(documented, `${method} ${template} documents ${answer.status}`);
  const schema = documented?.content?.['application/json']?.schema;
  if (schema)
    t.deepEqual(
      undocumented(schema, answer.body, 'body'),
      [],
      `${method} ${template} ${answer.status}: the body matches its schema`,
    );
  if (status >= 400) t.is(answer.body.success, false);
  return answer;
}

test.serial(
  "activity: messages, one message, a verification without code, stats, inbox, rentals; test sends reuse /v1's rules",
  async (t) => {
    const smx = current();
    const { projectId, key } = await createProject(smx, 'Console API');
    const other = await createProject(smx, 'Someone else');
    const id = { id: projectId };

    // Before a phone: the log is empty, a test send is refused as on /v1.
    t.deepEqual((await call(t, 200, 'GET', '/admin/projects/{id}/messages', id)).body.data, {
      messages: [],
      nextCursor: null,
    });
    t.is(
      (await call(t, 409, 'POST', '/admin/projects/{id}/send-otp', id, { to: '+4915112345678' })).body.error.code,
      'DEVICE_NOT_LINKED',
    );

    const credentials = await linkNewDevice(smx, projectId, 'API phone');
    await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, {
      sendRatePerMinute: 0,
      sims: [{ slot: 0, number: '+14155550123', rentable: true }],
    });
    const sent: OutboxMessage[] = [];
    const phone = await startPhone(t, credentials, { onSend: (m) => void sent.push(m) });

    const otp = (
      await call(t, 201, 'POST', '/admin/projects/{id}/send-otp', id, {
        to: '+4915112345678',
        template: 'Code {{code}} here',
        metadata: { from: 'console' },
      })
    ).body.data;
    t.is(otp.status, 'PENDING');
    t.false('code' in otp, 'no code in the answer');
    const sms = (
      await call(t, 201, 'POST', '/admin/projects/{id}/send-sms', id, {
        to: '+4915112345679',
        message: 'Hi from the console',
      })
    ).body.data;
    t.is(sms.status, 'QUEUED');
    const invalid = await call(t, 400, 'POST', '/admin/projects/{id}/send-otp', id, {
      to: '+4915112345678',
      codeLength: 3,
      template: 'no placeholder',
    });
    t.deepEqual(invalid.body.error.details.map((d) => d.field).sort(), ['codeLength', 'template']);
    t.is(
      (await call(t, 422, 'POST', '/admin/projects/{id}/send-sms', id, { to: '+1', message: 'x' })).body.error.code,
      'INVALID_PHONE_NUMBER',
    );
    t.is(
      (
        await call(
          t,
          404,
          'POST',
          '/admin/projects/{id}/send-sms',
          { id: 'prj_AAAAAAAAAAAAAAAAAAAAAA' },
          { to: '+4915112345679', message: 'x' },
        )
      ).body.error.code,
      'NOT_FOUND',
    );

    const delivered = await eventually(
      async () => {
        const m = (await smx.admin('GET', `/admin/projects/${projectId}/messages/${otp.messageId}`)).body.data;
        return m.status === 'DELIVERED' ? m : undefined;
      },
      15_000,
      'the OTP delivered',
    );
    t.truthy(delivered.deliveredAt);
    t.true(
      sent.some((m) => m.body.startsWith('Code ')),
      'the phone got the OTP',
    );

    // The log: filters and cursor pages as /v1/messages.
    const first = (await call(t, 200, 'GET', '/admin/projects/{id}/messages', id, undefined, 'limit=1')).body.data;
    t.is(first.messages.length, 1);
    t.truthy(first.nextCursor);
    const second = (
      await call(t, 200, 'GET', '/admin/projects/{id}/messages', id, undefined, `limit=1&cursor=${first.nextCursor}`)
    ).body.data;
    t.not(second.messages[0].messageId, first.messages[0].messageId);
    const smsOnly = (await call(t, 200, 'GET', '/admin/projects/{id}/messages', id, undefined, 'kind=sms')).body.data
      .messages;
    t.deepEqual(
      smsOnly.map((m: { messageId: string }) => m.messageId),
      [sms.messageId],
    );
    t.is(smsOnly[0].message, 'Hi from the console');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    t.deepEqual(
      (await call(t, 200, 'GET', '/admin/projects/{id}/messages', id, undefined, `from=${future}`)).body.data.messages,
      [],
    );
    const bad = await call(
      t,
      400,
      'GET',
      '/admin/projects/{id}/messages',
      id,
      undefined,
      'status=bogus&limit=0&cursor=nope',
    );
    t.deepEqual(bad.body.error.details.map((d) => d.field).sort(), ['cursor', 'limit', 'status']);

    // One message, one verification; another project's ids are NOT_FOUND.
    const otpMessage = (
      await call(t, 200, 'GET', '/admin/projects/{id}/messages/{messageId}', {
        id: projectId,
        messageId: otp.messageId,
      })
    ).body.data;
    t.is(otpMessage.kind, 'otp');
    t.false('message' in otpMessage, "an OTP's text is never shown");
    await call(t, 404, 'GET', '/admin/projects/{id}/messages/{messageId}', {
      id: other.projectId,
      messageId: otp.messageId,
    });
    await call(t, 404, 'GET', '/admin/projects/{id}/messages/{messageId}', {
      id: projectId,
      messageId: 'msg_AAAAAAAAAAAAAAAAAAAAAA',
    });
    const verification = (
      await call(t, 200, 'GET', '/admin/projects/{id}/verifications/{verificationId}', {
        id: projectId,
        verificationId: otp.verificationId,
      })
    ).body.data;
    t.is(verification.verificationId, otp.verificationId);
    t.deepEqual(verification.metadata, { from: 'console' });
    const code = /Code (\w+) here/.exec(sent.find((m) => m.body.startsWith('Code '))!.body)![1]!;
    t.false(JSON.stringify(verification).includes(code), 'never the code');
    t.is(
      (
        await call(t, 404, 'GET', '/admin/projects/{id}/verifications/{verificationId}', {
          id: other.projectId,
          verificationId: otp.verificationId,
        })
      ).body.error.code,
      'VERIFICATION_NOT_FOUND',
    );

    // Stats as /v1/stats reports them.
    await eventually(
      async () => (await smx.admin('GET', `/admin/projects/${projectId}/stats`)).body.data.totals.otp.delivered === 1,
      10_000,
      'the delivery counted',
    );
    const stats = (await call(t, 200, 'GET', '/admin/projects/{id}/stats', id, undefined, 'interval=hour')).body.data;
    t.is(stats.totals.otp.requested, 1);
    t.deepEqual(
      stats,
      (await smx.api(key, 'GET', '/v1/stats?interval=hour')).body.data,
      "the same figures as the project's own /v1/stats",
    );
    await call(t, 200, 'GET', '/admin/projects/{id}/stats', id, undefined, 'interval=day');
    const range = await call(
      t,
      400,
      'GET',
      '/admin/projects/{id}/stats',
      id,
      undefined,
      'interval=week&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    t.true(range.body.error.details.some((d) => d.field === 'interval'));
    await call(t, 404, 'GET', '/admin/projects/{id}/stats', { id: 'prj_AAAAAAAAAAAAAAAAAAAAAA' });

    // Inbox and rentals.
    await phone.publishInbound([{ from: '+4915112345000', body: 'Hello <b>there</b>', simSlot: 0 }]);
    await eventually(
      async () => (await smx.admin('GET', `/admin/projects/${projectId}/inbox`)).body.data.messages.length === 1,
      10_000,
      'the inbox',
    );
    const inbox = (await call(t, 200, 'GET', '/admin/projects/{id}/inbox', id, undefined, 'limit=10')).body.data;
    t.is(inbox.messages[0].body, 'Hello <b>there</b>', 'stored and answered as sent (the console renders it as text)');
    await call(t, 400, 'GET', '/admin/projects/{id}/inbox', id, undefined, 'limit=0');
    t.deepEqual((await call(t, 200, 'GET', '/admin/projects/{id}/rentals', id)).body.data, { rentals: [] });
    const rental = (await smx.api(key, 'POST', '/v1/rentals', { country: 'US', service: 'console' })).body.data;
    const rentals = (await call(t, 200, 'GET', '/admin/projects/{id}/rentals', id)).body.data.rentals;
    t.deepEqual(
      rentals.map((r: { rentalId: string }) => r.rentalId),
      [rental.rentalId],
    );
    await smx.api(key, 'POST', `/v1/rentals/${rental.rentalId}/cancel`);
    t.deepEqual(
      (await call(t, 200, 'GET', '/admin/projects/{id}/rentals', id)).body.data,
      { rentals: [] },
      'only active rentals',
    );
    t.deepEqual((await call(t, 200, 'GET', '/admin/projects/{id}/rentals', { id: other.projectId })).body.data, {
      rentals: [],
    });

    // The admin family only: a project API key is FORBIDDEN here.
    const asKey = await fetch(`${smx.url}/admin/projects/${projectId}/messages`, {
      headers: { authorization: `Bearer ${key}` },
    });
    t.is(asKey.status, 403);
  },
);

test.serial('a webhook endpoint is disabled, not deleted: no more deliveries, its log stays', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'Console hooks');
  const other = await createProject(smx, 'Other hooks');
  const hook = (
    await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
      url: 'http://127.0.0.1:9/hooks',
      events: ['message.sent'],
    })
  ).body.data;
  const params = { id: projectId, webhookId: hook.id };
  await call(t, 404, 'POST', '/admin/projects/{id}/webhooks/{webhookId}/disable', {
    id: other.projectId,
    webhookId: hook.id,
  });
  const disabled = (await call(t, 200, 'POST', '/admin/projects/{id}/webhooks/{webhookId}/disable', params)).body.data;
  t.like(disabled, { id: hook.id, enabled: false, disabledReason: 'disabled by the operator' });
  t.like(
    (await call(t, 200, 'POST', '/admin/projects/{id}/webhooks/{webhookId}/disable', params)).body.data,
    { enabled: false },
    'disabling twice answers it as it is',
  );
  t.like((await smx.admin('GET', `/admin/projects/${projectId}/webhooks`)).body.data.webhooks[0], {
    id: hook.id,
    enabled: false,
  });
  t.is(
    (await smx.admin('GET', `/admin/projects/${projectId}/webhooks/${hook.id}/deliveries`)).status,
    200,
    'its attempt log is still there',
  );
  await call(t, 404, 'POST', '/admin/projects/{id}/webhooks/{webhookId}/disable', {
    id: projectId,
    webhookId: 'whk_AAAAAAAAAAAAAAAAAAAAAA',
  });
});

test.serial(
  '/console: the page with a strict policy and no framing, assets cached by their hash, no second server',
  async (t) => {
    const smx = current();
    const page = await fetch(`${smx.url}/console`);
    t.is(page.status, 200);
    t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
    const policy = page.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "form-action 'none'",
      "require-trusted-types-for 'script'",
    ]) {
      t.true(policy.split('; ').includes(directive), `CSP has ${directive}`);
    }
    t.is(page.headers.get('x-frame-options'), 'DENY');
    t.is(page.headers.get('referrer-policy'), 'no-referrer');
    const html = await page.text();
    t.notRegex(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    t.notRegex(html, /\sstyle=|<style/, 'no inline style');
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    t.true(
      assets.some((a) => /\/app-[A-Z0-9]+\.js$/.test(a)) && assets.some((a) => /\/app-[A-Z0-9]+\.css$/.test(a)),
      `hashed script and stylesheet: ${assets.join(', ')}`,
    );
    for (const asset of assets) {
      const response = await fetch(`${smx.url}${asset}`, { headers: { 'accept-encoding': 'br' } });
      t.is(response.status, 200, asset);
      t.regex(
        response.headers.get('cache-control') ?? '',
        /max-age=31536000.*immutable/,
        `${asset} is cached for a year`,
      );
      if (!asset.endsWith('.svg'))
        t.is(response.headers.get('content-encoding'), 'br', `${asset} is served compressed`);
      await response.arrayBuffer();
    }
    const missing = await fetch(`${smx.url}/console/assets/app-NOTTHERE.js`);
    t.is(missing.status, 404);
    t.is(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND', 'in the error envelope');
    t.false(
      Object.keys(
        doc?.paths ?? ((await (await fetch(`${smx.url}/openapi.json`)).json()) as { paths: object }).paths,
      ).some((p) => p.startsWith('/console')),
      'not an API operation',
    );
  },
);
