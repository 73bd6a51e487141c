import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * Paths that may carry secrets or OTP codes; pino replaces them before anything is written.
 * Request bodies are never logged whole, but a plugin or an error may attach one.
 */
const REDACT = [
  'password', 'secret', 'token', 'key', 'code', 'otp', 'pin', 'body', 'apiKey',
  '*.password', '*.secret', '*.token', '*.key', '*.code', '*.otp', '*.pin', '*.apiKey',
  'req.headers.authorization', 'req.headers["x-smx-api-key"]',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { service: 'smx' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination ?? process.stdout);
}

export type { Logger };
