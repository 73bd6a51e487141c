import type { Knex } from 'knex';

/**
 * Why: phones forward the SMS they receive (MQTT inbox, SMSGate webhooks). They are kept per
 * project, once each: a phone may publish the same SMS again (QoS 1, retries), so a digest of
 * device, sender, text and receive time is unique per project.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('inbound_sms', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('device_id').notNullable();
    t.integer('sim_slot');
    t.text('from').notNullable();
    t.text('body').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.text('digest').notNullable();
    t.unique(['project_id', 'digest']);
  });
  await knex.raw('alter table inbound_sms add column seq bigint generated always as identity');
  await knex.raw('create index inbound_sms_project_log on inbound_sms (project_id, seq desc)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('inbound_sms');
}
