import type { Knex } from 'knex';

/**
 * Why: lease-based re-routing and resends (issue 4).
 * - A DISPATCHED OTP message whose phone has not reported `sent` within the project's lease is
 *   re-routed; `lease_checked_at` remembers a look that found no other route, so the sweep asks
 *   again one lease later instead of every round. The partial index keeps the sweep's read small.
 * - A resend gives the challenge a new code; the codes sent before stay valid (the earlier SMS may
 *   arrive last), kept as hashes only. `resends` and `last_sent_at` rate-limit resends per challenge.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('messages', (t) => {
    t.timestamp('lease_checked_at', { useTz: true });
  });
  await knex.raw(
    `create index messages_otp_leases on messages (dispatched_at) where kind = 'otp' and status = 'DISPATCHED'`,
  );
  await knex.schema.alterTable('verifications', (t) => {
    t.integer('resends').notNullable().defaultTo(0);
    t.timestamp('last_sent_at', { useTz: true });
    t.specificType('previous_code_hashes', 'text[]');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists messages_otp_leases');
  await knex.schema.alterTable('messages', (t) => {
    t.dropColumn('lease_checked_at');
  });
  await knex.schema.alterTable('verifications', (t) => {
    t.dropColumn('resends');
    t.dropColumn('last_sent_at');
    t.dropColumn('previous_code_hashes');
  });
}
