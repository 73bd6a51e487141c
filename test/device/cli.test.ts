import test, { type ExecutionContext } from 'ava';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deviceTopics } from '../../protocol/topics.js';
import { saveCredentials, type LinkResult } from '../../device/index.js';
import { deviceLinkCommand, deviceRunCommand, linkQrCommand } from '../../bin/cli/device-commands.js';
import type { CliIo } from '../../bin/cli/conventions.js';
import { makeCredentials, serverClient, startBroker, startHttp, tempDir } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

interface Captured extends CliIo {
  lines: string[];
  errors: string[];
}

function captureIo(cwd: string, env: Record<string, string | undefined> = {}, signal?: AbortSignal): Captured {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => void lines.push(l), err: (l) => void errors.push(l), env, cwd, signal };
}

const DEVICE_ID = 'dev_CCCCCCCCCCCCCCCCCCCCCC';
const SECRET = 'never-print-me-0123456789';

function linkData(): LinkResult {
  return {
    deviceId: DEVICE_ID,
    projectId: 'prj_DDDDDDDDDDDDDDDDDDDDDD',
    mqtt: {
      url: 'mqtt://127.0.0.1:1',
      wsUrl: 'ws://127.0.0.1:1/mqtt',
      clientId: DEVICE_ID,
      username: DEVICE_ID,
      password: SECRET,
    },
    topics: deviceTopics(DEVICE_ID),
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test('device link: links, saves the credentials and prints the topics but never the secret', async (t) => {
  const dir = await tempDir(t);
  const http = await startHttp(t, () => ({ status: 201, body: { success: true, data: linkData() } }));
  const io = captureIo(dir);
  const qr = JSON.stringify({ v: 1, server: http.url, token: 'lt_good' });
  const code = await deviceLinkCommand(
    [qr, '--name', 'Bench phone', '--out', 'creds/phone.json', '--sim', '+14155550100'],
    io,
  );
  t.is(code, 0, io.errors.join('\n'));
  const output = io.lines.join('\n');
  t.true(output.includes(DEVICE_ID));
  t.true(output.includes(deviceTopics(DEVICE_ID).outbox));
  t.false(output.includes(SECRET));
  t.false(io.errors.join('\n').includes(SECRET));
  const saved = JSON.parse(await readFile(join(dir, 'creds/phone.json'), 'utf8')) as LinkResult & {
    name: string;
    server: string;
  };
  t.is(saved.mqtt.password, SECRET);
  t.is(saved.name, 'Bench phone');
  t.is(saved.server, http.url);
  t.like(http.requests[0]?.body, {
    token: 'lt_good',
    name: 'Bench phone',
    sims: [{ slot: 0, number: '+14155550100', carrier: null, rentable: false }],
  });

  // The QR JSON may also come from a file.
  await writeFile(join(dir, 'qr.json'), qr);
  t.is(await deviceLinkCommand(['qr.json'], captureIo(dir)), 0);
  t.true(await exists(join(dir, 'var/device.json')));
});

test('device link: --help only prints the usage; the next command is one that works from here; SMX_DATA_DIR holds the credentials', async (t) => {
  const dir = await tempDir(t);
  const http = await startHttp(t, () => ({ status: 201, body: { success: true, data: linkData() } }));
  const qr = JSON.stringify({ v: 1, server: http.url, token: 'lt_good' });
  for (const help of ['--help', '-h']) {
    const io = captureIo(dir);
    t.is(await deviceLinkCommand([qr, help], io), 0);
    t.regex(io.lines.join('\n'), /^Usage: device link \[options\] <qr-json-or-file>/);
    t.regex(io.lines.join('\n'), /--app-version <version>[\s\S]*--sim <number>[\s\S]*--rentable/);
  }
  t.is(await deviceRunCommand(['--help'], captureIo(dir)), 0);
  t.is(await linkQrCommand(['--help'], captureIo(dir)), 0);
  t.is(http.requests.length, 0, 'help did not link');
  t.false(await exists(join(dir, 'var')));

  const io = { ...captureIo(dir, { SMX_DATA_DIR: 'data' }), invocation: 'npx smx' };
  t.is(await deviceLinkCommand([qr, '--sim', '+14155550100', '--sim', '+14155550101'], io), 0, io.errors.join('\n'));
  t.true(await exists(join(dir, 'data/device.json')));
  t.is(io.lines.at(-1), 'Run it: npx smx device run');
  t.like(http.requests[0]?.body, {
    sims: [
      { slot: 0, number: '+14155550100' },
      { slot: 1, number: '+14155550101' },
    ],
  });
  const global = { ...captureIo(dir), invocation: 'smx' };
  t.is(await deviceLinkCommand([qr, '--out', 'other.json'], global), 0);
  t.is(global.lines.at(-1), 'Run it: smx device run --credentials other.json');
});

test('device link: a refused token prints one error line with the API code and exits 1', async (t) => {
  const dir = await tempDir(t);
  const http = await startHttp(t, () => ({
    status: 401,
    body: {
      success: false,
      error: {
        code: 'UNAUTHORIZED',
        message: 'Missing, malformed, unknown or revoked credentials.',
        origin: 'auth',
        details: [],
      },
    },
  }));
  const io = captureIo(dir);
  t.is(await deviceLinkCommand([JSON.stringify({ v: 1, server: http.url, token: 'lt_used' })], io), 1);
  t.deepEqual(io.errors, ['error: UNAUTHORIZED: Missing, malformed, unknown or revoked credentials.']);
  t.false(await exists(join(dir, 'var/device.json')));

  const usage = captureIo(dir);
  t.is(await deviceLinkCommand([], usage), 2);
  t.regex(usage.errors[0] ?? '', /^error: missing required argument 'qr-json-or-file'/);
  t.regex(usage.errors[1] ?? '', /npx smx device link --help/);
  const bad = captureIo(dir);
  t.is(await deviceLinkCommand(['missing-file.json'], bad), 1);
  t.deepEqual(bad.errors, ['error: missing-file.json is neither the QR JSON nor a readable file']);
});

test('link: creates a link token with the admin token and prints the QR, payload and expiry', async (t) => {
  const dir = await tempDir(t);
  const payload = JSON.stringify({ v: 1, server: 'https://smx.example.com', token: 'lt_fresh' });
  const http = await startHttp(t, () => ({
    status: 201,
    body: {
      success: true,
      data: {
        token: 'lt_fresh',
        expiresAt: '2026-11-21T10:10:00.000Z',
        qr: { payload, svg: '<svg/>', pngDataUrl: 'data:image/png;base64,' },
      },
    },
  }));
  const io = captureIo(dir, { SMX_PUBLIC_URL: http.url, SMX_ADMIN_TOKEN: 'adm_env' });
  t.is(await linkQrCommand(['prj_DDDDDDDDDDDDDDDDDDDDDD', '--admin-token', 'adm_flag'], io), 0, io.errors.join('\n'));
  t.is(http.requests[0]?.method, 'POST');
  t.is(http.requests[0]?.url, '/admin/projects/prj_DDDDDDDDDDDDDDDDDDDDDD/link-tokens');
  t.is(http.requests[0]?.headers.authorization, 'Bearer adm_flag');
  t.true(io.lines.includes(payload));
  t.true(io.lines.some((l) => l.includes('2026-11-21T10:10:00.000Z')));
  t.true((io.lines[0] ?? '').includes('▄')); // the terminal QR

  // Token from ./var/admin-token when neither flag nor env is set.
  await mkdir(join(dir, 'var'));
  await writeFile(join(dir, 'var/admin-token'), 'adm_file\n');
  t.is(await linkQrCommand(['prj_x', '--server', http.url], captureIo(dir)), 0);
  t.is(http.requests[1]?.headers.authorization, 'Bearer adm_file');

  // The environment `smx start` ran with: SMX_DATA_DIR holds the token, SMX_HTTP_PORT finds the server.
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data/admin-token'), 'adm_datadir\n');
  const port = new URL(http.url).port;
  t.is(await linkQrCommand(['prj_y'], captureIo(dir, { SMX_DATA_DIR: join(dir, 'data'), SMX_HTTP_PORT: port })), 0);
  t.is(http.requests[2]?.headers.authorization, 'Bearer adm_datadir');
  t.is(http.requests[2]?.url, '/admin/projects/prj_y/link-tokens');
});

test('link: no admin token, or a refused one, is one error line and exit 1', async (t) => {
  const dir = await tempDir(t);
  const noToken = captureIo(dir);
  t.is(await linkQrCommand(['prj_x'], noToken), 2);
  t.is(noToken.errors.length, 1);
  t.regex(noToken.errors[0] ?? '', /^error: No admin token/);

  const http = await startHttp(t, () => ({
    status: 401,
    body: { success: false, error: { code: 'UNAUTHORIZED', message: 'Bad admin token.' } },
  }));
  const refused = captureIo(dir, { SMX_ADMIN_TOKEN: 'wrong' });
  t.is(await linkQrCommand(['prj_x', '--server', http.url], refused), 1);
  t.deepEqual(refused.errors, ['error: UNAUTHORIZED: Bad admin token.']);
});

async function runSetup(t: ExecutionContext, passwordOverride?: string) {
  const dir = await tempDir(t);
  const { credentials, secret } = makeCredentials('mqtt://placeholder');
  const broker = await startBroker(t, { [credentials.deviceId]: secret });
  credentials.mqtt.url = broker.url;
  if (passwordOverride !== undefined) credentials.mqtt.password = passwordOverride;
  await saveCredentials(credentials, join(dir, 'var/device.json'));
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  return { dir, credentials, broker, abort, io: captureIo(dir, {}, abort.signal) };
}

test('device run: prints each SMS it sends and each status it reports, and stops on signal', async (t) => {
  const s = await runSetup(t);
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status, s.credentials.topics.presence]);
  const running = deviceRunCommand(['--delivered-delay', '0'], s.io);
  await server.waitFor((r) => (r.json as { online?: boolean }).online === true);
  await server.publish(s.credentials.topics.outbox, {
    messages: [{ id: 'msg_cli000000001', to: '+4915112345678', body: 'Your code is 482913' }],
  });
  await eventually(() => s.io.lines.includes('← msg_cli000000001 delivered'), 3000, 'delivered line');
  s.abort.abort();
  t.is(await running, 0, s.io.errors.join('\n'));
  const sendIndex = s.io.lines.indexOf('→ +4915112345678 : Your code is 482913');
  t.true(sendIndex >= 0);
  t.true(s.io.lines.indexOf('← msg_cli000000001 sent') > sendIndex);
  t.is(s.io.lines.at(-1), `Device ${s.credentials.deviceId} stopped.`);
  t.true(await exists(join(s.dir, 'var/device.sent-ids.json')));
  await server.waitFor((r) => r.payload === '{"online":false}');
});

test('device run: rejected credentials are one error line and exit 1', async (t) => {
  const s = await runSetup(t, 'wrong-secret');
  t.is(await deviceRunCommand([], s.io), 1);
  const errorLines = s.io.errors.filter((l) => l.startsWith('error:'));
  t.is(errorLines.length, 1);
  t.regex(errorLines[0] ?? '', /^error: CREDENTIALS_REJECTED: /);
});

test('device run: an unlink from the server deletes the credentials and exits 0', async (t) => {
  const s = await runSetup(t);
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.presence]);
  const running = deviceRunCommand([], s.io);
  await server.waitFor((r) => (r.json as { online?: boolean }).online === true);
  await server.publish(s.credentials.topics.control, { type: 'unlink' });
  t.is(await running, 0, s.io.errors.join('\n'));
  t.regex(s.io.lines.at(-1) ?? '', /was unlinked by the server; credentials deleted/);
  t.false(await exists(join(s.dir, 'var/device.json')));
});

test('device run: missing credentials and bad options are clear errors', async (t) => {
  const dir = await tempDir(t);
  const missing = captureIo(dir);
  t.is(await deviceRunCommand([], missing), 1);
  t.regex(missing.errors[0] ?? '', /^error: No device credentials at .*device\.json \(link first/);
  const bad = captureIo(dir);
  t.is(await deviceRunCommand(['--fail', 'lowercase'], bad), 2);
  t.regex(
    bad.errors[0] ?? '',
    /^error: option '--fail <code>' argument 'lowercase' is invalid\. --fail takes an error code such as RADIO_OFF/,
  );
  const unknown = captureIo(dir);
  t.is(await deviceRunCommand(['--no-deliverd'], unknown), 2);
  t.deepEqual(unknown.errors.slice(0, 2), ["error: unknown option '--no-deliverd'", '(Did you mean --no-delivered?)']);
});
