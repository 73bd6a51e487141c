import type { Knex } from 'knex';

/**
 * Why: an idempotent replay must return the first response's body as it was; `jsonb` stores
 * objects with their keys re-ordered, `json` keeps the text as written.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table idempotency_keys alter column response_body type json using response_body::json');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table idempotency_keys alter column response_body type jsonb using response_body::jsonb');
}
