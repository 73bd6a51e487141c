/** SMX_TLS_CERT / SMX_TLS_KEY: the HTTP API serves HTTPS itself (release SMSGate apps need it). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '../../core/config.js';
import { useSmx } from '../helpers/smx.js';

const dir = mkdtempSync(join(tmpdir(), 'smx-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
  ],
  { stdio: 'ignore' },
);
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const current = useSmx(test, 'tls', { env: { SMX_TLS_CERT: cert, SMX_TLS_KEY: key } });

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca: readFileSync(cert) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('the API answers over HTTPS with the configured certificate, and hands out https URLs', async (t) => {
  const smx = current();
  t.regex(smx.url, /^https:\/\/localhost:\d+$/);
  const live = await get(`${smx.url}/health/live`);
  t.is(live.status, 200);
  t.deepEqual(JSON.parse(live.body), { success: true, data: { status: 'ok' } });
});

test('half a TLS configuration, or a missing file, stops start with the variable named', (t) => {
  t.throws(() => loadConfig({ SMX_TLS_CERT: cert }), { instanceOf: ConfigError, message: /^SMX_TLS_KEY: / });
  t.throws(() => loadConfig({ SMX_TLS_KEY: key }), { instanceOf: ConfigError, message: /^SMX_TLS_CERT: / });
  t.throws(() => loadConfig({ SMX_TLS_CERT: join(dir, 'nope.pem'), SMX_TLS_KEY: key }), {
    message: /^SMX_TLS_CERT: expected a readable PEM file/,
  });
});
