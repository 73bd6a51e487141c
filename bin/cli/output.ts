/** What the admin commands print: words and aligned tables for people, `--json` for scripts. */
import type { CliIo } from './conventions.js';

/** `value` as indented JSON on stdout (the API's `data`, unchanged). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Rows under a header, each column padded to its widest cell. */
export function printTable(io: CliIo, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  io.out(line(header));
  for (const row of rows) io.out(line(row));
}

/** A timestamp as people read it: `2026-11-21 10:00:00` (UTC), or `-`. */
export function when(iso: unknown): string {
  return typeof iso === 'string' ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}
