import type { Knex } from 'knex';

/**
 * Why: webhooks. A project registers endpoints (URL, the events it wants, a signing secret kept
 * sealed because it must be recovered to sign); per-request callback URLs are signed with the
 * project's callback secret. Every delivery attempt is logged so operators and API users can see
 * what was sent where and what came back; `seq` orders the log for cursor pages.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.text('id').primary();
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('url').notNullable();
    // The event types it receives; ["*"] = every event.
    t.jsonb('events').notNullable();
    t.text('secret_sealed').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.text('disabled_reason');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['project_id']);
  });

  await knex.schema.createTable('webhook_callback_secrets', (t) => {
    t.text('project_id').primary().references('projects.id').onDelete('CASCADE');
    t.text('secret_sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    // null: a per-request callbackUrl
    t.text('endpoint_id').references('webhook_endpoints.id').onDelete('CASCADE');
    t.text('event_id').notNullable();
    t.text('event_type').notNullable();
    t.text('url').notNullable();
    t.integer('attempt').notNullable();
    t.integer('status_code');
    t.integer('duration_ms').notNullable();
    t.text('error');
    t.boolean('succeeded').notNullable();
    t.timestamp('next_attempt_at', { useTz: true });
    t.timestamp('at', { useTz: true }).notNullable();
  });
  await knex.raw('alter table webhook_attempts add column seq bigint generated always as identity primary key');
  await knex.raw('create index webhook_attempts_project_log on webhook_attempts (project_id, seq desc)');
  await knex.raw(
    'create index webhook_attempts_endpoint_log on webhook_attempts (endpoint_id, seq desc) where endpoint_id is not null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_attempts');
  await knex.schema.dropTableIfExists('webhook_callback_secrets');
  await knex.schema.dropTableIfExists('webhook_endpoints');
}
