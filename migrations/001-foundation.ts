import type { Knex } from 'knex';

/**
 * Why: the foundation tables — tenants, their keys, the phones that deliver for them, the one-time
 * tokens that link a phone, OTP challenges, the message log and idempotency records.
 * Secrets (API keys, device secrets, link tokens, OTP codes) are stored only as hashes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('projects', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    // OTP defaults, default language, rate limits, routing: one document the admin PATCHes.
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('key_hash').notNullable().unique();
    t.text('prefix').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['project_id']);
  });

  await knex.schema.createTable('devices', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('model');
    t.text('app_version');
    t.text('transport').notNullable().defaultTo('mqtt');
    t.text('secret_hash').notNullable();
    // active: the project's routing target; standby: linked, kept for failover; unlinked: credentials dead.
    t.text('status').notNullable();
    t.integer('send_rate_per_minute').notNullable().defaultTo(30);
    t.jsonb('sims').notNullable().defaultTo('[]');
    t.timestamp('linked_at', { useTz: true }).notNullable();
    t.timestamp('unlinked_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['project_id', 'status']);
  });
  // At most one active device per project, enforced by the database rather than by hope.
  await knex.raw(`create unique index devices_one_active_per_project on devices (project_id) where status = 'active'`);

  await knex.schema.createTable('link_tokens', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    // token: the QR/private token (high entropy); code: a 6-digit code typed on the phone.
    t.text('kind').notNullable();
    t.text('token_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.text('device_id');
    t.index(['token_hash']);
  });
  // A code is looked up without its project: two live codes must never collide.
  await knex.raw(`create unique index link_tokens_live_hash on link_tokens (token_hash) where used_at is null`);

  await knex.schema.createTable('verifications', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('message_id');
    t.text('device_id');
    t.text('to').notNullable();
    t.text('country_iso');
    t.boolean('number_valid').notNullable();
    t.text('code_hash').notNullable();
    t.text('code_type').notNullable();
    t.integer('code_length').notNullable();
    t.text('language').notNullable();
    t.text('status').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    t.boolean('test').notNullable().defaultTo(false);
    t.text('callback_url');
    t.jsonb('metadata');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('verified_at', { useTz: true });
    t.timestamp('canceled_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['project_id', 'created_at']);
    t.index(['status', 'expires_at']);
  });

  await knex.schema.createTable('messages', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.text('verification_id');
    t.text('batch_id');
    t.text('device_id');
    t.integer('sim_slot');
    t.text('to').notNullable();
    // OTP bodies hold the code, so they are sealed (AES-256-GCM) and wiped once the phone sent them.
    t.text('body');
    t.boolean('body_sealed').notNullable().defaultTo(false);
    t.integer('parts').notNullable().defaultTo(1);
    t.integer('priority').notNullable().defaultTo(0);
    t.text('status').notNullable();
    t.text('error');
    t.integer('attempt').notNullable().defaultTo(1);
    t.text('callback_url');
    t.jsonb('metadata');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('dispatched_at', { useTz: true });
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('failed_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    // running until the first request finishes; then the stored response is replayed.
    t.text('state').notNullable();
    t.integer('response_status');
    t.jsonb('response_body');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('locked_until', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['project_id', 'key']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'idempotency_keys',
    'messages',
    'verifications',
    'link_tokens',
    'devices',
    'api_keys',
    'projects',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
