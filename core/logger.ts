import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * Paths that may carry secrets or OTP codes; pino replaces them before anything is written.
 * Request bodies are never logged whole, but a plugin or an error may attach one.
 */
const REDACT = [
  'password',
  'secret',
  'token',
  'key',
  'code',
  'otp',
  'pin',
  'body',
  'apiKey',
  '*.password',
  '*.secret',
  '*.token',
  '*.key',
  '*.code',
  '*.otp',
  '*.pin',
  '*.apiKey',
  'req.headers.authorization',
  'req.headers["x-smx-api-key"]',
];

/**
 * JSON lines with `service`, `hostname` and `pid` on each (pino's own defaults, which a custom
 * `base` would drop), so lines from several processes and hosts stay apart. Lines about a message
 * or a challenge name it (`projectId`, `messageId`, `verificationId`), as does the access line.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'smx', hostname: hostname(), pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    destination ?? process.stdout,
  );
}

export type { Logger };
