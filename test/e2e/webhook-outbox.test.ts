/**
 * Webhook events of message status changes cannot be lost (issue 11): they are written to the
 * outbox by the statement that makes the change. A process that dies after the commit and before
 * queueing them (simulated: its relay is stopped) leaves them in the outbox, and a relay that runs
 * later delivers them; a row relayed twice (a crash after queueing, before the delete) delivers
 * each event once per webhook-id.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { MessageTransitions } from '../../core/delivery/transitions.js';
import { TOKENS } from '../../core/tokens.js';
import { OutboxRelay } from '../../core/outbox.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { createProject, linkNewDevice, queuesIdle, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'webhook-outbox', {
  env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true', SMX_WEBHOOK_RETRY_BASE_MS: '200' },
});

test.serial(
  'events committed while no relay runs (the process died before queueing them) are delivered by a later relay, once each',
  async (t) => {
    const smx = current();
    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    const relay = smx.smx.container.resolve(OutboxRelay);
    const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
    const { projectId, key } = await createProject(smx, 'Outbox');
    const credentials = await linkNewDevice(smx, projectId, 'Phone');
    await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });

    // "Crash" after the commit: no relay runs in this process from here on.
    await relay.stop();
    await startPhone(t, credentials);
    const sent = await smx.api(key, 'POST', '/v1/send-sms', {
      to: '+4915112345601',
      message: 'outbox',
      callbackUrl: `${receiver.url}/cb`,
    });
    t.is(sent.status, 201);
    const messageId = sent.body.data.messageId as string;
    await eventually(
      async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
      10_000,
      'DELIVERED',
    );
    // All three changes are in the outbox, and no webhook job exists that could still deliver one.
    await eventually(
      async () => {
        const rows: Array<{ payload: Array<{ id: string; status: string }> }> = await db('outbox').select('payload');
        const statuses = rows.flatMap((r) => r.payload.filter((c) => c.id === messageId).map((c) => c.status));
        return ['DISPATCHED', 'SENT', 'DELIVERED'].every((s) => statuses.includes(s));
      },
      10_000,
      'the three changes in the outbox',
    );
    await queuesIdle(smx, ['webhooks']);
    t.deepEqual(receiver.received, [], 'nothing was queued: the events wait in the outbox');

    // The "restarted" process's relay delivers them.
    relay.start(100);
    await eventually(async () => receiver.received.length >= 3, 10_000, 'dispatched, sent and delivered');
    // The outbox is empty and no webhook job is left: no further delivery can come.
    await eventually(
      async () => Number((await db('outbox').count({ n: '*' }).first())?.n) === 0,
      10_000,
      'the outbox empty',
    );
    await queuesIdle(smx, ['webhooks']);
    const types = receiver.received.map((r) => r.json.type).sort();
    t.deepEqual(types, ['message.delivered', 'message.dispatched', 'message.sent']);
    t.true(receiver.received.every((r) => r.json.data.messageId === messageId));
    t.is(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 3, 'one delivery per webhook-id');
    t.is(Number((await db('outbox').count({ n: '*' }).first())?.n), 0, 'the outbox is empty again');
  },
);

test.serial(
  'a row relayed twice (crash after queueing, before the delete) is delivered once per webhook-id',
  async (t) => {
    const smx = current();
    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    const relay = smx.smx.container.resolve(OutboxRelay);
    const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
    const { projectId, key } = await createProject(smx, 'Outbox twice');
    await linkNewDevice(smx, projectId, 'Offline phone');
    await relay.stop();
    const sent = await smx.api(key, 'POST', '/v1/send-sms', {
      to: '+4915112345602',
      message: 'twice',
      callbackUrl: `${receiver.url}/cb`,
    });
    const messageId = sent.body.data.messageId as string;
    // The SMS is withdrawn by hand: one FAILED change, written to the outbox with the change.
    const cancelled = await smx.smx.container.resolve(MessageTransitions).failed([messageId], 'CANCELED');
    t.is(cancelled.length, 1);
    const [row] = await db('outbox').select('id', 'kind', 'payload', 'created_at');
    t.truthy(row, 'the change is in the outbox');

    await relay.relayBatch();
    // As if the first relay had crashed before its delete: the same row comes again.
    await db('outbox').insert({ ...row, payload: JSON.stringify(row.payload) });
    await relay.relayBatch();
    await eventually(async () => receiver.received.length >= 1, 10_000, 'the delivery');
    // Both relays queued their events before returning; once no webhook job is left, none can come.
    await queuesIdle(smx, ['webhooks']);
    t.is(receiver.received.length, 1, 'delivered once');
    t.is(receiver.received[0]!.json.type, 'message.failed');
    t.is(receiver.received[0]!.json.data.messageId, messageId);
    relay.start();
  },
);

test.serial(
  'verification and inbound SMS events are written with their change: a relay after a "crash" delivers each once, a row relayed twice once per webhook-id',
  async (t) => {
    const smx = current();
    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    const relay = smx.smx.container.resolve(OutboxRelay);
    const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
    const { projectId, key } = await createProject(smx, 'Outbox events');
    await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
      url: `${receiver.url}/endpoint`,
      events: ['sms.received'],
    });
    await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, { number: '+15555550123', code: '424242' });
    const credentials = await linkNewDevice(smx, projectId, 'Inbound phone');
    const phone = await startPhone(t, credentials);

    await relay.stop();
    const verified = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+15555550123',
      callbackUrl: `${receiver.url}/cb`,
    });
    const canceled = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+15555550123',
      callbackUrl: `${receiver.url}/cb`,
    });
    t.is(
      (
        await smx.api(key, 'POST', '/v1/verify-otp', {
          verificationId: verified.body.data.verificationId,
          otp: '424242',
        })
      ).body.data.verified,
      true,
    );
    t.is((await smx.api(key, 'POST', `/v1/verifications/${canceled.body.data.verificationId}/cancel`)).status, 200);
    await phone.publishInbound([
      { from: '+14155550999', body: 'hello outbox', receivedAt: new Date().toISOString(), simSlot: 0 },
    ]);
    await eventually(
      async () => (await smx.api(key, 'GET', '/v1/inbox')).body.data.messages.length === 1,
      10_000,
      'the inbound SMS stored',
    );
    const rows: Array<{ id: number; kind: string; payload: { events: Array<{ type: string }> } }> = await db('outbox')
      .select('*')
      .where({ kind: 'webhook.events' })
      .orderBy('id');
    t.deepEqual(rows.flatMap((r) => r.payload.events.map((e) => e.type)).sort(), [
      'sms.received',
      'verification.canceled',
      'verification.verified',
    ]);
    await queuesIdle(smx, ['webhooks', 'deviceEvents']);
    t.deepEqual(receiver.received, [], 'nothing queued while no relay ran');

    await relay.relayBatch();
    // As if that relay had crashed before its delete: the same rows come again.
    for (const row of rows) await db('outbox').insert({ kind: row.kind, payload: JSON.stringify(row.payload) });
    await relay.relayBatch();
    await eventually(async () => receiver.received.length >= 3, 10_000, 'three deliveries');
    await queuesIdle(smx, ['webhooks']);
    t.deepEqual(receiver.received.map((r) => r.json.type).sort(), [
      'sms.received',
      'verification.canceled',
      'verification.verified',
    ]);
    t.is(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 3, 'one delivery per webhook-id');
    relay.start();
  },
);
