import type { Knex } from 'knex';

/**
 * Why: custom and bulk SMS. Batches group a bulk request's messages; `seq` gives every message a
 * total order (bulk rows share one created_at) so a device's messages leave in the order they
 * were accepted; the partial index is what the per-device dispatcher reads; hourly counters make
 * /v1/stats a read of a few rows instead of a scan of the message log.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('batches', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.integer('total').notNullable();
    t.integer('accepted').notNullable();
    t.integer('rejected').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['project_id', 'created_at']);
  });

  await knex.raw('alter table messages add column seq bigint generated always as identity');
  await knex.raw(
    `create index messages_dispatch_order on messages (device_id, priority desc, seq) where status = 'QUEUED'`,
  );
  await knex.raw('create index messages_batch on messages (batch_id, status) where batch_id is not null');
  await knex.raw('create index messages_project_log on messages (project_id, seq desc)');
  // Every status change rewrites the row and every index on it: the indexes a message leaves
  // when it moves on are partial, so a delivered message costs no more index work.
  await knex.raw(`create index messages_expiring on messages (expires_at) where status in ('QUEUED', 'DISPATCHED')`);

  await knex.schema.createTable('stats_hourly', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.timestamp('hour', { useTz: true }).notNullable();
    // e.g. otp.sent, otp.verified, sms.queued, sms.delivered
    t.text('metric').notNullable();
    t.bigInteger('count').notNullable();
    t.primary(['project_id', 'hour', 'metric']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('stats_hourly');
  await knex.raw('drop index if exists messages_expiring');
  await knex.raw('drop index if exists messages_project_log');
  await knex.raw('drop index if exists messages_batch');
  await knex.raw('drop index if exists messages_dispatch_order');
  await knex.raw('alter table messages drop column if exists seq');
  await knex.schema.dropTableIfExists('batches');
}
