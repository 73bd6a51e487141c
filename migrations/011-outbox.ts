import type { Knex } from 'knex';

/**
 * Why: webhook events of message status changes were queued after the change committed, so a
 * crash between the two lost them. The change now writes its events into this outbox in the same
 * statement; a relay moves them to the webhooks queue and deletes them (at least once, with the
 * same webhook ids on a retry). Rows live seconds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id').primary();
    // What the payload holds: 'message.changes' = a JSON array of message status changes.
    t.text('kind').notNullable();
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('outbox');
}
