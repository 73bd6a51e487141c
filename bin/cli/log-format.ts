/**
 * How `smx start` (and the other roles) write their logs: JSON lines, one object each, for log
 * collectors (the default when stdout is not a terminal, and under LOG_FORMAT=json); on a
 * terminal, one readable line per entry through pino-pretty (LOG_FORMAT=pretty forces it).
 */
import { Writable } from 'node:stream';
import { ConfigError } from '../../core/index.js';

export type LogFormat = 'pretty' | 'json';

/** LOG_FORMAT, else pretty on a terminal and JSON elsewhere. @throws ConfigError for another value */
export function logFormat(env: Record<string, string | undefined>, isTTY: boolean): LogFormat {
  const raw = env.LOG_FORMAT?.trim().toLowerCase();
  if (raw === undefined || raw === '') return isTTY ? 'pretty' : 'json';
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new ConfigError('LOG_FORMAT', 'json or pretty', env.LOG_FORMAT ?? '');
}

export interface PrettyDestination {
  stream: NodeJS.WritableStream;
  /** The start summary is out: from now on info entries are printed too. */
  started(): void;
}

/**
 * A destination that prints pino's JSON lines readably on `out`. Until `started()`, entries at
 * `info` (plugins loaded, listeners up, "SMX started") are left out when `quietStart`: the start
 * summary says the same in words, once. Warnings and errors always show. Undefined when
 * pino-pretty cannot be loaded (it is a dependency; a trimmed install may still lack it): logs stay JSON.
 */
export async function prettyDestination(
  quietStart: boolean,
  out: NodeJS.WritableStream = process.stdout,
): Promise<PrettyDestination | undefined> {
  let prettify: (line: string) => string;
  try {
    const { prettyFactory } = (await import('pino-pretty')).default;
    prettify = prettyFactory({
      colorize: (out as NodeJS.WriteStream).isTTY === true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,service',
      singleLine: true,
    });
  } catch {
    return undefined;
  }
  let starting = quietStart;
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const line = chunk.toString();
      if (!(starting && line.startsWith('{"level":30,'))) out.write(prettify(line));
      done();
    },
  });
  return { stream, started: () => void (starting = false) };
}
