import type { Knex } from 'knex';

/**
 * Why: every status change of a project adds to the same few hourly counter rows in its own
 * transaction, so concurrent writers (the dispatcher, status reports, the accept path) queued on
 * those rows' locks (measured: a third of PostgreSQL's active time in Lock:transactionid during
 * a 100k bulk). Each counter is now spread over a few shard rows that writers pick at random;
 * reads add the shards up.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('stats_hourly', (t) => {
    t.smallint('shard').notNullable().defaultTo(0);
  });
  await knex.raw('alter table stats_hourly drop constraint stats_hourly_pkey');
  await knex.raw('alter table stats_hourly add primary key (project_id, hour, metric, shard)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `create temporary table stats_merged as select project_id, hour, metric, sum(count)::bigint as count from stats_hourly group by 1, 2, 3`,
  );
  await knex.raw('delete from stats_hourly');
  await knex.raw('alter table stats_hourly drop constraint stats_hourly_pkey');
  await knex.schema.alterTable('stats_hourly', (t) => {
    t.dropColumn('shard');
  });
  await knex.raw(
    'insert into stats_hourly (project_id, hour, metric, count) select project_id, hour, metric, count from stats_merged',
  );
  await knex.raw('alter table stats_hourly add primary key (project_id, hour, metric)');
}
