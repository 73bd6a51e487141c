import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, UrlRefusedError } from './url-guard.js';

/** A receiver has this long to answer (headers and body). */
export const SEND_TIMEOUT_MS = 10_000;
/** What SMX reads of a receiver's answer (the rest is discarded). */
const MAX_RESPONSE_BYTES = 4096;

export interface SendResult {
  /** 2xx only: a redirect is not followed and counts as a failure. */
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The URL is refused by the SSRF guard (no request was made). */
  refused: boolean;
}

/**
 * POSTs one signed body. The host is resolved and checked first and the socket connects to that
 * checked address (a pinned `lookup`), so DNS rebinding between check and connect is impossible;
 * TLS still verifies the certificate against the URL's host name.
 */
export async function sendWebhook(rawUrl: string, body: string, headers: Record<string, string>, options: { allowPrivate: boolean; timeoutMs?: number }): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(rawUrl);
  let target: { address: string; family: 4 | 6 };
  try {
    target = await resolveTarget(url, options.allowPrivate);
  } catch (error) {
    const refused = error instanceof UrlRefusedError;
    return { ok: false, statusCode: null, durationMs: elapsed(), error: refused ? `refused: ${error.message}` : 'cannot resolve the host', refused };
  }
  const pinned: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    const req = send(url, {
      method: 'POST',
      lookup: pinned,
      headers: { 'content-type': 'application/json', 'user-agent': 'SMX-Webhooks/1', 'content-length': Buffer.byteLength(body), ...headers },
      signal: AbortSignal.timeout(options.timeoutMs ?? SEND_TIMEOUT_MS),
      agent: false,
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      const done = () => {
        const ok = status >= 200 && status < 300;
        const error = ok ? null : status >= 300 && status < 400 ? `redirect (${status}) not followed` : `HTTP ${status}`;
        resolve({ ok, statusCode: status, durationMs: elapsed(), error, refused: false });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.on('error', (error: Error & { code?: string }) => {
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError' || error.code === 'ABORT_ERR';
      resolve({ ok: false, statusCode: null, durationMs: elapsed(), error: timedOut ? `no answer within ${(options.timeoutMs ?? SEND_TIMEOUT_MS) / 1000} s` : `connection failed (${error.code ?? error.name})`, refused: false });
    });
    req.end(body);
  });
}
