import type { Knex } from 'knex';

/**
 * Why: SMX's own send-sms gains scheduling, pinning, priorities and binary SMS (issue 13).
 * - `scheduled_at` is when a message was asked to go out (shown as `scheduleAt`); `held` is true
 *   while that time has not come. The dispatcher's read skips held rows, and the dispatch-order
 *   index leaves them out, so messages scheduled for later cost the hot read nothing however many
 *   wait (a filter on the time would scan them on every read). A maintenance task releases due
 *   rows (`held = false`) and signals their devices; `messages_held` keeps its read small.
 * - `pinned`: the caller chose the phone (`deviceId`); such a message is never moved to another.
 * - `data_port`: a binary SMS to this port; its base64 payload is in `body`, where a text would be.
 * - `devices.capabilities`: what a phone declared it can do (link request, presence), e.g.
 *   `data-sms`. SMSGate-app phones send data messages: theirs is set here.
 * - OTP messages rank above every SMS priority (-128..127): queued ones move from 1 to 128.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.timestamp('scheduled_at', { useTz: true });
    t.boolean('held').notNullable().defaultTo(false);
    t.boolean('pinned').notNullable().defaultTo(false);
    t.integer('data_port');
  });
  await knex.raw('drop index if exists messages_dispatch_order');
  await knex.raw(
    `create index messages_dispatch_order on messages (device_id, priority desc, seq) where status = 'QUEUED' and not held`,
  );
  await knex.raw(`create index messages_held on messages (scheduled_at) where status = 'QUEUED' and held`);
  await knex.raw(
    `update messages set priority = 128 where kind = 'otp' and priority = 1 and status in ('QUEUED', 'DISPATCHED')`,
  );
  await knex.schema.alterTable('devices', (t) => {
    t.jsonb('capabilities').notNullable().defaultTo('[]');
  });
  await knex.raw(`update devices set capabilities = '["data-sms"]'::jsonb where transport = 'smsgate'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists messages_held');
  await knex.raw('drop index if exists messages_dispatch_order');
  await knex.raw(
    `create index messages_dispatch_order on messages (device_id, priority desc, seq) where status = 'QUEUED'`,
  );
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('scheduled_at');
    t.dropColumn('held');
    t.dropColumn('pinned');
    t.dropColumn('data_port');
  });
  await knex.schema.alterTable('devices', (t) => {
    t.dropColumn('capabilities');
  });
}
