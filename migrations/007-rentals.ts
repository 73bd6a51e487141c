import type { Knex } from 'knex';

/**
 * Why: number rental (spec/api.md "Inbound SMS and number rental"). A rental holds one SIM
 * (device + slot) of the project's rentable pool for a while; the SMS that SIM receives during
 * the rental belong to it.
 * - A partial unique index on active rentals per device+slot makes renting atomic: two
 *   concurrent rentals can never hold the same number (the loser's insert does nothing).
 * - `ended_at` closes the window early (cancel); otherwise the window ends at `expires_at`.
 * - inbound_sms gains the rental it belongs to and the verification code found in its text.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rentals', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('device_id').notNullable();
    t.integer('sim_slot').notNullable();
    t.text('number').notNullable();
    t.text('country').notNullable();
    t.text('service');
    t.text('status').notNullable(); // active | canceled | expired
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true });
  });
  await knex.raw(
    `create unique index rentals_one_active_per_sim on rentals (device_id, sim_slot) where status = 'active'`,
  );
  await knex.raw(`create index rentals_active_expiry on rentals (expires_at) where status = 'active'`);
  await knex.raw('create index rentals_device_window on rentals (device_id, created_at)');
  await knex.schema.alterTable('inbound_sms', (t) => {
    t.text('rental_id').references('rentals.id').onDelete('SET NULL');
    t.text('code');
  });
  await knex.raw('create index inbound_sms_rental on inbound_sms (rental_id, received_at) where rental_id is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('inbound_sms', (t) => {
    t.dropColumn('code');
    t.dropColumn('rental_id');
  });
  await knex.schema.dropTableIfExists('rentals');
}
