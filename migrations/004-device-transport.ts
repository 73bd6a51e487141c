import type { Knex } from 'knex';

/**
 * Why: device transports beside MQTT. An SMSGate phone (the capcom6/android-sms-gateway app in
 * private-server mode) authenticates every call with a device token (stored as its SHA-256) and
 * signs its inbound webhooks with a per-device key that SMX must know in plain to verify them,
 * so it is kept sealed (AES-256-GCM under the server secret). `devices.transport` says which
 * transport hands a device its messages ('mqtt' or 'smsgate').
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('smsgate_devices', (t) => {
    t.text('device_id').primary().references('devices.id').onDelete('CASCADE');
    t.text('token_hash').notNullable().unique();
    t.text('signing_key_sealed').notNullable();
    t.text('push_token');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('smsgate_devices');
}
