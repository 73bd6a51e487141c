/**
 * Collects a child's output lines (SMX logs pino JSON at LOG_LEVEL=warn): counts per level and
 * the distinct messages, so the report can say exactly what the server complained about.
 */
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

export interface LogDigest {
  lines: number;
  byLevel: Record<string, number>;
  /** Distinct `level msg (err)` texts with how often each was seen, most frequent first. */
  distinct: Array<{ text: string; count: number }>;
  /** The last lines verbatim (for start-up failures). */
  tail: string[];
}

const PINO_LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export class LogCollector {
  private lines = 0;
  private readonly byLevel: Record<string, number> = {};
  private readonly distinct = new Map<string, number>();
  private readonly tail: string[] = [];

  attach(stream: Readable | null, fallbackLevel: string): void {
    if (!stream) return;
    createInterface({ input: stream }).on('line', (line) => this.add(line, fallbackLevel));
  }

  private add(line: string, fallbackLevel: string): void {
    if (!line.trim()) return;
    this.lines++;
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    let level = fallbackLevel;
    let text = line.slice(0, 300);
    try {
      const entry = JSON.parse(line) as {
        level?: number;
        msg?: string;
        err?: { type?: string; message?: string; code?: string };
        code?: string;
      };
      level = PINO_LEVELS[entry.level ?? 0] ?? fallbackLevel;
      // knex puts the SQL before the server's message: keep the start and the end of long ones.
      const message = entry.err?.message ?? '';
      const short = message.length > 260 ? `${message.slice(0, 90)} … ${message.slice(-160)}` : message;
      const err = entry.err
        ? ` (${entry.err.type ?? 'Error'}${entry.err.code ? ` ${entry.err.code}` : ''}: ${short})`
        : '';
      text = `${entry.msg ?? ''}${err}`;
    } catch {
      // not JSON: a plain line (stderr, or a crash trace)
    }
    this.byLevel[level] = (this.byLevel[level] ?? 0) + 1;
    const key = `${level}: ${text}`;
    this.distinct.set(key, (this.distinct.get(key) ?? 0) + 1);
  }

  digest(): LogDigest {
    const distinct = [...this.distinct.entries()]
      .map(([text, count]) => ({ text, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 20);
    return { lines: this.lines, byLevel: { ...this.byLevel }, distinct, tail: [...this.tail] };
  }
}
