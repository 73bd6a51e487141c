/**
 * The error catalogue is closed and documented (STYLE.md habit 1, like fastify's
 * test/internals/errors.test.js): core/errors.ts holds exactly the codes of the table in
 * docs/api.md (the project's copy of the contract), each with the same HTTP status and origin, and
 * the served OpenAPI document lists every one of them. A missing table fails the test rather than
 * skipping it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { ERROR_CATALOGUE, type CatalogueEntry } from '../../core/errors.js';
import { useSmx } from '../helpers/smx.js';

/** How many codes docs/api.md defines; a new code changes the contract, the catalogue and this number together. */
const EXPECTED_COUNT = 21;

/** The contract, in the repository (this file runs as dist/test/core/errors-catalogue.test.js). */
const SPEC_PATH = fileURLToPath(new URL('../../../docs/api.md', import.meta.url));

interface SpecRow {
  code: string;
  status: number;
  origin: string;
}

/** The rows of the "Error catalogue" table: `| CODE | HTTP | origin | when |`. */
function specCatalogue(): SpecRow[] {
  if (!existsSync(SPEC_PATH)) throw new Error(`docs/api.md not found at ${SPEC_PATH}`);
  const text = readFileSync(SPEC_PATH, 'utf8');
  const start = text.search(/^#+ Error catalogue/m);
  if (start < 0) throw new Error('docs/api.md has no "Error catalogue" heading');
  const section = text.slice(start).split('\n').slice(1);
  const end = section.findIndex((line) => /^#+ /.test(line));
  const rows: SpecRow[] = [];
  for (const line of end < 0 ? section : section.slice(0, end)) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.length < 3 || !/^[A-Z][A-Z_]+$/.test(cells[0]!)) continue; // header and separator rows
    rows.push({ code: cells[0]!, status: Number(cells[1]), origin: cells[2]! });
  }
  return rows;
}

const catalogue = ERROR_CATALOGUE as Record<string, CatalogueEntry>;

test('the docs/api.md table is found and has the fixed number of codes', (t) => {
  const rows = specCatalogue();
  t.is(rows.length, EXPECTED_COUNT, rows.map((r) => r.code).join(', '));
  t.is(new Set(rows.map((r) => r.code)).size, rows.length, 'no code twice in docs/api.md');
  for (const row of rows) {
    t.true(Number.isInteger(row.status) && row.status >= 400 && row.status <= 599, `${row.code}: HTTP ${row.status}`);
    t.true(['client', 'auth', 'project', 'device', 'server'].includes(row.origin), `${row.code}: origin ${row.origin}`);
  }
});

test('core/errors.ts has exactly the codes of docs/api.md, each with its HTTP status and origin', (t) => {
  const rows = specCatalogue();
  t.is(Object.keys(catalogue).length, EXPECTED_COUNT);
  t.deepEqual(Object.keys(catalogue).sort(), rows.map((r) => r.code).sort());
  for (const row of rows) {
    const entry = catalogue[row.code];
    if (!entry) {
      t.fail(`${row.code} is missing from ERROR_CATALOGUE`);
      continue;
    }
    t.is(entry.code, row.code, `${row.code}: the entry's own code`);
    t.is(entry.status, row.status, `${row.code}: HTTP status`);
    t.is(entry.origin as string, row.origin, `${row.code}: origin`);
    t.true(entry.message.length > 0, `${row.code}: has a message`);
  }
});

const current = useSmx(test, 'errors-catalogue');

test('the served /openapi.json documents every code: ErrorEnvelope enum and x-error-catalogue', async (t) => {
  const smx = current();
  const rows = specCatalogue();
  const response = await fetch(`${smx.url}/openapi.json`);
  t.is(response.status, 200);
  const doc = (await response.json()) as {
    components: {
      schemas: Record<string, { properties?: Record<string, { properties?: Record<string, { enum?: string[] }> }> }>;
    };
    'x-error-catalogue'?: Array<{ code: string; status: number; origin: string; message: string }>;
    info: { description?: string };
  };

  const envelope = doc.components.schemas.ErrorEnvelope;
  t.truthy(envelope, 'components.schemas.ErrorEnvelope');
  const codeEnum = envelope?.properties?.error?.properties?.code?.enum ?? [];
  t.deepEqual([...codeEnum].sort(), rows.map((r) => r.code).sort(), 'ErrorEnvelope.error.code enum');
  const originEnum = envelope?.properties?.error?.properties?.origin?.enum ?? [];
  t.deepEqual([...originEnum].sort(), ['auth', 'client', 'device', 'project', 'server']);

  const documented = doc['x-error-catalogue'];
  t.true(Array.isArray(documented), 'x-error-catalogue is served');
  t.is(documented?.length, EXPECTED_COUNT);
  for (const row of rows) {
    const entry = documented?.find((e) => e.code === row.code);
    t.truthy(entry, `${row.code} in x-error-catalogue`);
    t.is(entry?.status, row.status, `${row.code}: documented HTTP status`);
    t.is(entry?.origin, row.origin, `${row.code}: documented origin`);
    t.true((entry?.message ?? '').length > 0, `${row.code}: documented message`);
    t.regex(
      doc.info.description ?? '',
      new RegExp(`\\| ${row.code} \\| ${row.status} \\| ${row.origin} \\|`),
      `${row.code} in the description's table`,
    );
  }
});
