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
  /** What the tenant may see in the delivery log (see {@link DELIVERY_ERRORS}). */
  error: string | null;
  /** The URL is refused by the SSRF guard (no request was made). */
  refused: boolean;
  /** The low-level reason (errno, refused address), for the server log only. */
  detail?: string;
}

/**
 * The errors a tenant sees in delivery logs. Deliberately coarse: per-port errno codes
 * (ECONNREFUSED / ECONNRESET / EPROTO) or the address a name resolved to would turn the log into
 * a port scanner or an internal-DNS oracle. The detail goes to the server log instead.
 */
export const DELIVERY_ERRORS = {
  refused: 'refused: address not allowed',
  connection: 'connection failed',
} as const;

/**
 * POSTs one signed body. The host is resolved and checked first and the socket connects to that
 * checked address (a pinned `lookup`), so DNS rebinding between check and connect is impossible;
 * TLS still verifies the certificate against the URL's host name.
 */
export async function sendWebhook(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs?: number },
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(rawUrl);
  let target: { address: string; family: 4 | 6 };
  try {
    target = await resolveTarget(url, options.allowPrivate);
  } catch (error) {
    // Not resolving and resolving to a refused address read the same to the tenant (no DNS oracle).
    const refused = error instanceof UrlRefusedError;
    return {
      ok: false,
      statusCode: null,
      durationMs: elapsed(),
      error: refused ? DELIVERY_ERRORS.refused : 'cannot resolve the host',
      refused,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
  const pinned: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all)
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    else callback(null, target.address, target.family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    const req = send(url, {
      method: 'POST',
      lookup: pinned,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'SMX-Webhooks/1',
        'content-length': Buffer.byteLength(body),
        ...headers,
      },
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
        const error = ok
          ? null
          : status >= 300 && status < 400
            ? `redirect (${status}) not followed`
            : `HTTP ${status}`;
        resolve({ ok, statusCode: status, durationMs: elapsed(), error, refused: false });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    // Connected: a timeout from here on is the receiver's slowness, worth telling the tenant.
    let connected = false;
    req.on('socket', (socket) =>
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true)),
    );
    req.on('error', (error: Error & { code?: string }) => {
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError' || error.code === 'ABORT_ERR';
      const detail = `${error.code ?? error.name} (${target.address})`;
      resolve({
        ok: false,
        statusCode: null,
        durationMs: elapsed(),
        error:
          timedOut && connected
            ? `no answer within ${(options.timeoutMs ?? SEND_TIMEOUT_MS) / 1000} s`
            : DELIVERY_ERRORS.connection,
        refused: false,
        detail,
      });
    });
    req.end(body);
  });
}
