import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { apiError } from '../../errors.js';

/** Where the operator console is served (issue 14). */
export const CONSOLE_PATH = '/console';

/**
 * The built console: `npm run build` bundles `console/` with esbuild into `dist/console/`
 * (`index.html` naming its content-hashed assets under `assets/`). This module is
 * `dist/core/http/routes/console.js`, so that folder is three levels up.
 */
const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

/**
 * The console's own policy, stricter than the one of /docs and Bull Board: nothing but its own
 * scripts, styles and API (no inline script or style element, no other origin), QR codes as
 * `data:` images, no framing, no form ever sent anywhere (the sign-in form is handled by script;
 * were the script to fail, the browser still would not put the token into a URL), and Trusted
 * Types, so a string can never reach an HTML sink such as innerHTML (all text is rendered as text).
 */
export const CONSOLE_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const CONSOLE_HEADERS = {
  'content-security-policy': CONSOLE_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/**
 * Serves the operator console at /console: the page (no secrets in it; the browser signs in with
 * the admin token and calls the /admin API with it as a bearer header) and its assets, which are
 * named by content hash and so cached for a year. Registered outside the admin guard: the page
 * and scripts are public, everything they show comes from the guarded API.
 */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  // After the server's own onSend (which gives HTML the /docs policy): this scope's answers get the console's.
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.headers(CONSOLE_HEADERS);
    return payload;
  });

  app.get(CONSOLE_PATH, { schema: { hide: true } }, async (_request, reply) => {
    // Read on each request (half a KiB): after a rebuild the page names the new assets at once.
    const page = await readFile(`${CONSOLE_DIR}index.html`).catch(() => undefined);
    if (!page) throw apiError('NOT_FOUND', { message: 'The console is not built: run `npm run build`.' });
    // The page names the current assets; it must be revalidated, never served stale (it holds no secret).
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page);
  });

  await app.register(fastifyStatic, {
    root: `${CONSOLE_DIR}assets`,
    prefix: `${CONSOLE_PATH}/assets/`,
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    // Every file name carries its content hash: a changed file is a new URL.
    immutable: true,
    maxAge: '365d',
    // esbuild's output is written with .br and .gz beside it (console/build.mjs). Files of an
    // earlier build stay a while, so a page loaded before a rebuild still finds its chunks.
    preCompressed: true,
  });
}
