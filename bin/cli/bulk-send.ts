/**
 * `smx send --csv FILE`: one SMS per row of a CSV file, through `POST /v1/send-sms/bulk` in
 * batches the API takes (at most 10,000 recipients and well under its 10 MiB body limit).
 *
 * - The file is parsed by csv-parse: a header row, a `to` column, an optional `message` column;
 *   every other column is a variable, `{{name}}` in the text takes the row's value.
 * - Each batch carries an Idempotency-Key made from the file's content, the options and the
 *   batch's number: running the same command again (after a network error, a 503, a Ctrl-C)
 *   replays the batches the server already accepted instead of sending them twice.
 * - 429 and 503 answers, and no answer at all, are retried with the same key (Retry-After, else
 *   1, 2, 4, 8, 16 s); any other failure of a batch marks its rows rejected and the run goes on,
 *   except a refused key, which ends it.
 * - Rows the CLI or the server rejected are written to a CSV (line, to, code, message).
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { parse } from 'csv-parse/sync';
import { CommandFailure, UsageError, type CliIo } from './conventions.js';
import { CallError, call } from './http.js';
import { printJson } from './output.js';

/** The API's limit of recipients per bulk request (docs/api.md). */
export const MAX_BATCH = 10_000;
/** Bodies stay well under the bulk route's 10 MiB limit. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const RETRIES = 5;

export interface CsvSendOptions {
  server: string;
  apiKey: string;
  file: string;
  /** Text (template) for rows without their own `message`. */
  message?: string;
  countryCode?: string;
  ttl?: number;
  batchSize: number;
  rejectedFile?: string;
  idempotencyKey?: string;
  json: boolean;
  /** Waits between retries; tests shorten it. @defaultValue setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

interface Row {
  line: number;
  to: string;
  message: string;
}

export interface RejectedRow {
  line: number;
  to: string;
  code: string;
  message: string;
}

export interface BatchResult {
  batch: number;
  rows: number;
  batchId?: string;
  accepted: number;
  rejected: number;
  /** The server had accepted this batch before (a re-run): nothing was sent again. */
  replayed: boolean;
  error?: { code: string; message: string };
}

export interface CsvSendSummary {
  file: string;
  rows: number;
  accepted: number;
  rejected: number;
  rejectedFile: string | null;
  batches: BatchResult[];
}

export async function sendCsv(io: CliIo, options: CsvSendOptions): Promise<CsvSendSummary> {
  const path = resolve(io.cwd ?? process.cwd(), options.file);
  const content = await readFile(path).catch((err: Error) => {
    throw new UsageError(
      `--csv ${options.file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err.message})`,
    );
  });
  const { rows, rejected } = readRows(content, options.message);
  const fileRows = rows.length + rejected.length;
  const batches = splitBatches(rows, options.batchSize);
  const keyPrefix =
    options.idempotencyKey ??
    `smx-csv-${createHash('sha256')
      .update(content)
      .update(JSON.stringify([options.message, options.countryCode, options.ttl, options.batchSize]))
      .digest('hex')
      .slice(0, 32)}`;

  const bar =
    io.isTTY && !options.json
      ? new cliProgress.SingleBar(
          {
            format: 'sending |{bar}| {value}/{total} rows, batch {batch}/{batches}',
            hideCursor: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(rows.length, 0, { batch: 0, batches: batches.length });
  const results: BatchResult[] = [];
  let done = 0;
  let stopped = null as CallError | null;
  for (const [index, batch] of batches.entries()) {
    if (stopped) {
      for (const row of batch)
        rejected.push({
          line: row.line,
          to: row.to,
          code: 'NOT_SENT',
          message: `not sent: an earlier batch failed with ${stopped.code}`,
        });
      results.push({
        batch: index + 1,
        rows: batch.length,
        accepted: 0,
        rejected: batch.length,
        replayed: false,
        error: { code: 'NOT_SENT', message: 'not sent' },
      });
      continue;
    }
    const result = await sendBatch(options, `${keyPrefix}-${index + 1}`, batch).catch((err: unknown) => {
      if (!(err instanceof CallError)) throw err;
      // A refused key or project refuses every batch alike: stop instead of trying each.
      if (err.status === 401 || err.status === 403 || err.status === 404) stopped = err;
      return err;
    });
    if (result instanceof CallError) {
      for (const row of batch)
        rejected.push({ line: row.line, to: row.to, code: result.code, message: result.message });
      results.push({
        batch: index + 1,
        rows: batch.length,
        accepted: 0,
        rejected: batch.length,
        replayed: false,
        error: { code: result.code, message: result.message },
      });
    } else {
      for (const r of result.rejected) {
        const row = batch[r.index];
        if (row) rejected.push({ line: row.line, to: row.to, code: r.code, message: r.message });
      }
      results.push({
        batch: index + 1,
        rows: batch.length,
        batchId: result.batchId,
        accepted: result.accepted,
        rejected: result.rejected.length,
        replayed: result.replayed,
      });
    }
    done += batch.length;
    bar?.update(done, { batch: index + 1, batches: batches.length });
  }
  bar?.stop();

  rejected.sort((a, b) => a.line - b.line);
  const rejectedFile =
    rejected.length > 0
      ? resolve(io.cwd ?? process.cwd(), options.rejectedFile ?? path.replace(/(\.csv)?$/i, '.rejected.csv'))
      : null;
  if (rejectedFile)
    await writeFile(
      rejectedFile,
      toCsv(
        ['line', 'to', 'code', 'message'],
        rejected.map((r) => [String(r.line), r.to, r.code, r.message]),
      ),
    );
  const summary: CsvSendSummary = {
    file: path,
    rows: fileRows,
    accepted: results.reduce((n, r) => n + r.accepted, 0),
    rejected: rejected.length,
    rejectedFile,
    batches: results,
  };
  if (options.json) printJson(io, summary);
  else printSummary(io, summary, rejected);
  if (results.some((r) => r.error))
    throw new CommandFailure(
      options.json
        ? ''
        : `${results.filter((r) => r.error).length} of ${results.length} batches failed; run the same command again to retry them (accepted batches are not sent twice)`,
    );
  return summary;
}

/** Rows with a number and a text; the others rejected with the reason. */
function readRows(content: Buffer, template: string | undefined): { rows: Row[]; rejected: RejectedRow[] } {
  const rejected: RejectedRow[] = [];
  let header: string[] = [];
  let records: Array<{ info: { lines: number }; record: Record<string, string> }>;
  try {
    records = parse(content, {
      columns: (names: string[]) => (header = names.map((n) => n.trim())),
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (err) =>
        void rejected.push({
          line: Number(err?.lines ?? 0),
          to: '',
          code: String(err?.code ?? 'CSV_INVALID'),
          message: err?.message ?? 'not a CSV record',
        }),
    }) as unknown as typeof records;
  } catch (err) {
    throw new UsageError(`the CSV cannot be read: ${(err as Error).message}`);
  }
  const toColumn = header.find((h) => h.toLowerCase() === 'to');
  if (toColumn === undefined)
    throw new UsageError(`the CSV needs a "to" column (its header: ${header.join(', ') || 'none'})`);
  const messageColumn = header.find((h) => h.toLowerCase() === 'message');
  if (template === undefined && messageColumn === undefined)
    throw new UsageError('give the text with --message, or a "message" column in the CSV');
  const unknown = template === undefined ? [] : variables(template).filter((v) => !header.includes(v));
  if (unknown.length > 0)
    throw new UsageError(
      `--message uses {{${unknown.join('}}, {{')}}} but the CSV has no such column (columns: ${header.join(', ')})`,
    );

  const rows: Row[] = [];
  for (const { info, record } of records) {
    const to = record[toColumn] ?? '';
    const text = (messageColumn && record[messageColumn]) || template;
    const missing = text === undefined ? [] : variables(text).filter((v) => !(v in record));
    if (!to) rejected.push({ line: info.lines, to, code: 'MISSING_TO', message: 'the "to" column is empty' });
    else if (!text)
      rejected.push({
        line: info.lines,
        to,
        code: 'MISSING_MESSAGE',
        message: 'no text: the "message" column is empty and there is no --message',
      });
    else if (missing.length > 0)
      rejected.push({
        line: info.lines,
        to,
        code: 'UNKNOWN_VARIABLE',
        message: `the text uses {{${missing.join('}}, {{')}}}, which is no column`,
      });
    else
      rows.push({
        line: info.lines,
        to,
        message: text.replace(/\{\{\s*([^{}]+?)\s*\}\}/g, (_, name: string) => record[name] ?? ''),
      });
  }
  return { rows, rejected };
}

function variables(text: string): string[] {
  return [...text.matchAll(/\{\{\s*([^{}]+?)\s*\}\}/g)].map((m) => m[1]!);
}

/** Consecutive rows, at most `size` and MAX_BATCH_BYTES of JSON per batch. */
function splitBatches(rows: Row[], size: number): Row[][] {
  const batches: Row[][] = [];
  let current: Row[] = [];
  let bytes = 0;
  for (const row of rows) {
    const rowBytes = Buffer.byteLength(JSON.stringify({ to: row.to, message: row.message })) + 1;
    if (current.length > 0 && (current.length >= size || bytes + rowBytes > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += rowBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

interface BulkAnswer {
  batchId: string;
  accepted: number;
  rejected: Array<{ index: number; code: string; message: string }>;
  replayed: boolean;
}

async function sendBatch(options: CsvSendOptions, key: string, batch: Row[]): Promise<BulkAnswer> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const body = {
    messages: batch.map((r) => ({ to: r.to, message: r.message })),
    countryCode: options.countryCode,
    ttl: options.ttl,
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await call<Omit<BulkAnswer, 'replayed'>>(options.server, {
        method: 'POST',
        path: '/v1/send-sms/bulk',
        body,
        headers: { 'x-smx-api-key': options.apiKey, 'idempotency-key': key },
        timeoutMs: 120_000,
      });
      return { ...answer.data, replayed: answer.headers.get('idempotent-replayed') === 'true' };
    } catch (err) {
      const retryable =
        err instanceof CallError &&
        (err.status === 429 ||
          err.status === 503 ||
          err.code === 'NETWORK_ERROR' ||
          err.code === 'IDEMPOTENCY_IN_PROGRESS');
      if (!retryable || attempt >= RETRIES) throw err;
      await sleep(((err as CallError).retryAfterS ?? 2 ** attempt) * 1000);
    }
  }
}

function printSummary(io: CliIo, summary: CsvSendSummary, rejected: RejectedRow[]): void {
  const replayed = summary.batches.filter((b) => b.replayed).length;
  const ids = summary.batches.map((b) => b.batchId).filter(Boolean);
  io.out(
    `${summary.accepted} of ${summary.rows} rows accepted in ${summary.batches.length} batch${summary.batches.length === 1 ? '' : 'es'}${ids.length ? ` (${ids.join(', ')})` : ''}.`,
  );
  if (replayed > 0)
    io.out(`${replayed} batch${replayed === 1 ? ' was' : 'es were'} accepted by an earlier run and not sent again.`);
  if (summary.rejectedFile) {
    io.out(`${summary.rejected} rejected, listed in ${summary.rejectedFile}:`);
    for (const r of rejected.slice(0, 5)) io.out(`  line ${r.line}  ${r.to || '-'}  ${r.code}  ${r.message}`);
    if (rejected.length > 5) io.out(`  ... and ${rejected.length - 5} more`);
  }
  if (ids.length > 0) io.out('Delivery progress: GET /v1/batches/<batchId> (counts per status).');
}

/** RFC 4180 quoting for the rejected-rows file. */
function toCsv(header: string[], rows: string[][]): string {
  const cell = (v: string) => (/[",\r\n]/.test(v) || /^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}
