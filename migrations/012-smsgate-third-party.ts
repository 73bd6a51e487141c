import type { Knex } from 'knex';

/**
 * Why: the SMSGate 3rd-party API (`/compat/smsgate/3rdparty/v1`). One SMSGate message (an id the
 * client may choose, unique per project) goes to up to 100 numbers; SMX sends one message per
 * number, so the group and its recipients are kept here, in the order they were given (a
 * recipient SMX refused has no message and keeps the reason). Webhooks and settings are stored
 * per project as the client registered them; revoked JWTs are kept until they would have expired.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('smsgate_messages', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    // The SMSGate message id (client-chosen, at most 36 characters, or generated).
    t.text('id').notNullable();
    // The bulk batch that holds its SMX messages (null only between the reservation and the send).
    t.text('batch_id');
    // { text } of a text message, as the client sent it.
    t.jsonb('content').notNullable();
    t.boolean('with_delivery_report').notNullable().defaultTo(true);
    t.timestamp('valid_until', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['project_id', 'id']);
    t.index(['project_id', 'created_at']);
  });

  await knex.schema.createTable('smsgate_message_recipients', (t) => {
    t.text('project_id').notNullable();
    t.text('group_id').notNullable();
    t.integer('position').notNullable();
    t.text('phone_number').notNullable();
    // The SMX message (null: SMX refused this recipient; `error` says why).
    t.text('message_id');
    t.text('error');
    t.primary(['project_id', 'group_id', 'position']);
    t.foreign(['project_id', 'group_id'])
      .references(['project_id', 'id'])
      .inTable('smsgate_messages')
      .onDelete('CASCADE');
    t.index(['message_id']);
  });

  await knex.schema.createTable('smsgate_webhooks', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('id').notNullable();
    // null: every phone of the project.
    t.text('device_id');
    t.text('url').notNullable();
    t.text('event').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.primary(['project_id', 'id']);
  });

  await knex.schema.createTable('smsgate_settings', (t) => {
    t.text('project_id').primary().references('projects.id').onDelete('CASCADE');
    t.jsonb('settings').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('smsgate_revoked_tokens', (t) => {
    t.text('project_id').notNullable().references('projects.id').onDelete('CASCADE');
    t.text('jti').notNullable();
    // When the token would have expired anyway: the row may go after that.
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).notNullable();
    // Per project: a project can only revoke (or pre-empt) its own tokens' ids.
    t.primary(['project_id', 'jti']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('smsgate_revoked_tokens');
  await knex.schema.dropTableIfExists('smsgate_settings');
  await knex.schema.dropTableIfExists('smsgate_webhooks');
  await knex.schema.dropTableIfExists('smsgate_message_recipients');
  await knex.schema.dropTableIfExists('smsgate_messages');
}
