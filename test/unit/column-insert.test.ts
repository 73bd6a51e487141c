/**
 * columnInsert: many rows in one INSERT with few parameters (a column equal in every row is one
 * scalar, every other column one JSON array unnested on the server). Run against real PostgreSQL
 * in a schema of this file's own, with every column type it supports.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { columnInsert, type InsertColumn } from '../../core/batching/column-insert.js';
import { createDatabase } from '../../core/db.js';
import { isolationId, PG_URL } from '../helpers/smx.js';

const schema = `u_${isolationId('unit/column-insert')}`;
const db: Knex = createDatabase({ url: PG_URL, schema, dataDir: ':memory:', poolMax: 2 });

test.before(async () => {
  await db.raw('drop schema if exists ?? cascade', [schema]);
  await db.raw('create schema ??', [schema]);
});
test.after.always(async () => {
  await db.raw('drop schema if exists ?? cascade', [schema]);
  await db.destroy();
});

interface Row {
  id: string;
  n: number | null;
  flag: boolean | null;
  doc: string | null;
  at: Date | null;
  note: string | null;
}

const COLUMNS: ReadonlyArray<InsertColumn<Row>> = [
  { name: 'id', type: 'text', value: (r) => r.id },
  { name: 'n', type: 'int', value: (r) => r.n },
  { name: 'flag', type: 'bool', value: (r) => r.flag },
  { name: 'doc', type: 'jsonb', value: (r) => r.doc },
  { name: 'at', type: 'timestamptz', value: (r) => r.at },
  { name: 'note', type: 'text', value: (r) => r.note },
];

/** A fresh table per test (tests run concurrently). */
async function table(name: string): Promise<string> {
  await db.raw(
    `create table ?? (id text primary key, n int, flag bool, doc jsonb, at timestamptz, note text, position int)`,
    [name],
  );
  return name;
}

async function insert(name: string, rows: Row[], columns: ReadonlyArray<InsertColumn<Row>> = COLUMNS): Promise<number> {
  const part = columnInsert(name, columns, rows);
  const result = await db.raw(part.sql, part.bindings as Knex.RawBinding[]);
  return result.rowCount as number;
}

async function read(name: string): Promise<Array<Omit<Row, 'at'> & { at: Date | null; position: number | null }>> {
  return db(name).select('id', 'n', 'flag', 'doc', 'at', 'note', 'position').orderBy('id');
}

const t0 = new Date('2025-03-01T10:00:00.123Z');

test('varying columns of every type arrive as given, row by row', async (t) => {
  const name = await table('varying');
  const rows: Row[] = [
    { id: 'a', n: 1, flag: true, doc: JSON.stringify({ k: 'v', list: [1, 2] }), at: t0, note: 'plain' },
    {
      id: 'b',
      n: -42,
      flag: false,
      doc: JSON.stringify([1, 'two', null]),
      at: new Date(t0.getTime() + 1),
      note: 'quote \' and "double" and \\ and ünïcödé 🙂',
    },
    { id: 'c', n: 2_147_483_647, flag: true, doc: JSON.stringify('a string'), at: new Date(0), note: '007' },
  ];
  t.is(await insert(name, rows), 3);
  const stored = await read(name);
  t.deepEqual(
    stored.map((r) => r.id),
    ['a', 'b', 'c'],
  );
  t.deepEqual(
    stored.map((r) => r.n),
    [1, -42, 2_147_483_647],
  );
  t.deepEqual(
    stored.map((r) => r.flag),
    [true, false, true],
  );
  t.deepEqual(
    stored.map((r) => r.doc),
    [{ k: 'v', list: [1, 2] }, [1, 'two', null], 'a string'],
  );
  t.deepEqual(
    stored.map((r) => r.at?.toISOString()),
    [t0.toISOString(), new Date(t0.getTime() + 1).toISOString(), new Date(0).toISOString()],
    'milliseconds kept',
  );
  t.deepEqual(
    stored.map((r) => r.note),
    ['plain', 'quote \' and "double" and \\ and ünïcödé 🙂', '007'],
    'text stays text (no number parsing)',
  );
});

test('nulls: a null in a varying column is SQL NULL (not the text "null"), a column null in every row is one null scalar', async (t) => {
  const name = await table('nulls');
  const rows: Row[] = [
    { id: 'a', n: null, flag: null, doc: null, at: null, note: 'null' },
    { id: 'b', n: 5, flag: true, doc: JSON.stringify(null), at: t0, note: null },
    { id: 'c', n: null, flag: false, doc: JSON.stringify({}), at: null, note: '' },
  ];
  t.is(await insert(name, rows), 3);
  const stored = await read(name);
  t.deepEqual(
    stored.map((r) => r.n),
    [null, 5, null],
  );
  t.deepEqual(
    stored.map((r) => r.flag),
    [null, true, false],
  );
  t.deepEqual(
    stored.map((r) => r.at?.toISOString() ?? null),
    [null, t0.toISOString(), null],
  );
  t.deepEqual(
    stored.map((r) => r.note),
    ['null', null, ''],
    'the string "null" and the empty string survive; only a real null is NULL',
  );
  const docs = await db(name)
    .select('id', db.raw('doc is null as sql_null'), db.raw('jsonb_typeof(doc) as type'))
    .orderBy('id');
  t.deepEqual(
    docs.map((d) => [d.id, d.sql_null, d.type]),
    [
      ['a', true, null],
      ['b', false, 'null'],
      ['c', false, 'object'],
    ],
    'SQL NULL and JSON null stay apart',
  );

  const allNull = await table('all_null');
  const part = columnInsert(
    allNull,
    COLUMNS,
    rows.map((r) => ({ ...r, n: null })),
  );
  t.is(part.bindings.filter((b) => b === null).length, 1, 'n is null in every row: one null binding, no array');
  await db.raw(part.sql, part.bindings as Knex.RawBinding[]);
  t.deepEqual(
    (await read(allNull)).map((r) => r.n),
    [null, null, null],
  );
});

test('a column equal in every row travels as one scalar (Dates compared by time), the others as one JSON array each', async (t) => {
  const name = await table('constant');
  const rows: Row[] = ['a', 'b', 'c', 'd'].map((id, i) => ({
    id,
    n: 7,
    flag: true,
    doc: '{"same":true}',
    at: new Date(t0.getTime()),
    note: i % 2 ? 'odd' : 'even',
  }));
  const part = columnInsert(name, COLUMNS, rows);
  // Scalars n, flag, doc, at (four distinct Date objects of one time), then the arrays of id and note.
  t.is(part.bindings.length, 6);
  t.deepEqual(part.bindings.slice(0, 3), [7, true, '{"same":true}']);
  t.is((part.bindings[3] as Date).getTime(), t0.getTime());
  t.deepEqual(part.bindings.slice(4), [
    JSON.stringify(['a', 'b', 'c', 'd']),
    JSON.stringify(['even', 'odd', 'even', 'odd']),
  ]);
  t.is(await insert(name, rows), 4);
  const stored = await read(name);
  t.true(stored.every((r) => r.n === 7 && r.flag === true && r.at?.getTime() === t0.getTime()));
  t.deepEqual(
    stored.map((r) => r.doc),
    [{ same: true }, { same: true }, { same: true }, { same: true }],
    'a constant jsonb is cast like a varying one',
  );
  t.deepEqual(
    stored.map((r) => r.note),
    ['even', 'odd', 'even', 'odd'],
  );
});

test('10,000 rows in one statement with a handful of parameters', async (t) => {
  const name = await table('many');
  const rows: Row[] = Array.from({ length: 10_000 }, (_, i) => ({
    id: `m${String(i).padStart(5, '0')}`,
    n: i,
    flag: i % 3 === 0,
    doc: null,
    at: t0,
    note: null,
  }));
  const columns = [
    ...COLUMNS,
    { name: 'position', type: 'int', value: (_: Row, i: number) => i } satisfies InsertColumn<Row>,
  ];
  const part = columnInsert(name, columns, rows);
  t.true(part.bindings.length <= columns.length, `${part.bindings.length} bindings`);
  t.is(await insert(name, rows, columns), 10_000);
  const [summary] = await db(name).select(
    db.raw('count(*)::int as rows'),
    db.raw('sum(n)::bigint as total'),
    db.raw('count(*) filter (where flag)::int as flagged'),
    db.raw('bool_and(position = n) as in_order'),
  );
  t.deepEqual(summary, { rows: 10_000, total: (9_999 * 10_000) / 2, flagged: 3_334, in_order: true });
});

test('one row and no rows: every column is a scalar, and the row count comes from generate_series', async (t) => {
  const name = await table('edges');
  const one = columnInsert(name, COLUMNS, [{ id: 'only', n: 1, flag: false, doc: '[]', at: t0, note: 'x' }]);
  t.is(one.bindings.length, COLUMNS.length + 1, 'six scalars and the row count');
  t.is(one.bindings.at(-1), 1);
  t.regex(one.sql, /generate_series/);
  await db.raw(one.sql, one.bindings as Knex.RawBinding[]);

  const none = columnInsert(name, COLUMNS, []);
  t.is(none.bindings.at(-1), 0);
  const result = await db.raw(none.sql, none.bindings as Knex.RawBinding[]);
  t.is(result.rowCount, 0, 'an empty insert inserts nothing (and does not fail)');
  t.deepEqual(
    (await read(name)).map((r) => [r.id, r.doc]),
    [['only', []]],
  );
});

test('the SQL text is built once per table, columns and constant pattern, and changes when the pattern does', (t) => {
  const rowsA: Row[] = [
    { id: 'a', n: 1, flag: true, doc: null, at: t0, note: 'x' },
    { id: 'b', n: 2, flag: true, doc: null, at: t0, note: 'x' },
  ];
  const rowsB: Row[] = rowsA.map((r) => ({ ...r, id: `${r.id}2`, n: r.n! + 10 }));
  const rowsC: Row[] = rowsA.map((r, i) => ({ ...r, note: `n${i}` }));
  const a = columnInsert('cache_probe', COLUMNS, rowsA);
  const b = columnInsert('cache_probe', COLUMNS, rowsB);
  const c = columnInsert('cache_probe', COLUMNS, rowsC);
  t.is(a.sql, b.sql, 'same shape, same text (prepared-statement friendly)');
  t.notDeepEqual(a.bindings, b.bindings);
  t.not(a.sql, c.sql, 'note became varying');
  t.is(columnInsert('other_table', COLUMNS, rowsA).sql.includes('"other_table"'), true);
});
