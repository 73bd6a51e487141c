import type { Knex } from 'knex';

/**
 * Why: built-in plugins of issue 4. `templates` holds a project's own OTP text per language (a
 * missing row means the built-in text); `test_numbers` holds admin-configured numbers whose
 * challenges send no SMS and verify with a fixed code, kept only as an HMAC (never in plain).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('templates', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('language').notNullable();
    t.text('text').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.primary(['project_id', 'language']);
  });

  await knex.schema.createTable('test_numbers', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    // E.164; not checked against numbering plans (fictional numbers are the point).
    t.text('number').notNullable();
    t.text('code_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['project_id', 'number']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('test_numbers');
  await knex.schema.dropTableIfExists('templates');
}
