import test from 'ava';
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { deviceTopics } from '../../protocol/topics.js';
import {
  ApiError,
  DEFAULT_CREDENTIALS_PATH,
  deleteCredentials,
  linkDevice,
  loadCredentials,
  parseLinkPayload,
  saveCredentials,
  sentIdsPathFor,
  type LinkResult,
} from '../../device/index.js';
import { startHttp, tempDir } from './_helpers.js';

const DEVICE_ID = 'dev_AAAAAAAAAAAAAAAAAAAAAA';

function linkData(): LinkResult {
  return {
    deviceId: DEVICE_ID,
    projectId: 'prj_BBBBBBBBBBBBBBBBBBBBBB',
    mqtt: {
      url: 'mqtt://smx.example.com:1883',
      wsUrl: 'ws://smx.example.com:8083/mqtt',
      clientId: DEVICE_ID,
      username: DEVICE_ID,
      password: 's3cret',
    },
    topics: deviceTopics(DEVICE_ID),
  };
}

test('parseLinkPayload reads the QR JSON and ignores unknown fields', (t) => {
  t.deepEqual(parseLinkPayload('{"v":1,"server":"https://smx.example.com/","token":"lt_abc","extra":true}'), {
    v: 1,
    server: 'https://smx.example.com',
    token: 'lt_abc',
  });
  t.deepEqual(parseLinkPayload('  {"v":1,"server":"http://localhost:8080","token":"lt_x"}\n'), {
    v: 1,
    server: 'http://localhost:8080',
    token: 'lt_x',
  });
});

test('parseLinkPayload refuses what is not a v1 payload', (t) => {
  t.throws(() => parseLinkPayload('lt_abc'), { message: /not JSON/ });
  t.throws(() => parseLinkPayload('[1]'), { message: /object/ });
  t.throws(() => parseLinkPayload('{"v":2,"server":"https://a.b","token":"lt_x"}'), { message: /version 2/ });
  t.throws(() => parseLinkPayload('{"v":1,"server":"ftp://a.b","token":"lt_x"}'), { message: /server/ });
  t.throws(() => parseLinkPayload('{"v":1,"server":"https://a.b","token":""}'), { message: /token/ });
});

test('linkDevice posts the link request without an API key and returns the 201 data', async (t) => {
  const http = await startHttp(t, () => ({
    status: 201,
    body: { success: true, data: { ...linkData(), future: 'ignored' } },
  }));
  const sims = [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }];
  const result = await linkDevice({
    server: `${http.url}/`,
    token: 'lt_token',
    name: 'Pixel 7',
    model: 'GP4BC',
    appVersion: '1.0.0',
    sims,
  });
  t.deepEqual(result, linkData());
  t.is(http.requests.length, 1);
  const [req] = http.requests;
  t.is(req?.method, 'POST');
  t.is(req?.url, '/v1/devices/link');
  t.is(req?.headers['content-type'], 'application/json');
  t.is(req?.headers['x-smx-api-key'], undefined);
  t.is(req?.headers.authorization, undefined);
  // The reference device sends binary SMS: it declares data-sms unless told otherwise.
  t.deepEqual(req?.body, {
    token: 'lt_token',
    name: 'Pixel 7',
    model: 'GP4BC',
    appVersion: '1.0.0',
    sims,
    capabilities: ['data-sms'],
  });
});

test('linkDevice surfaces the API error code of a refused token', async (t) => {
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
      requestId: 'req_123',
    },
  }));
  const error = await t.throwsAsync(linkDevice({ server: http.url, token: 'lt_used', name: 'x' }), {
    instanceOf: ApiError,
  });
  t.is(error?.code, 'UNAUTHORIZED');
  t.is(error?.status, 401);
  t.is(error?.requestId, 'req_123');
  t.is(error?.message, 'Missing, malformed, unknown or revoked credentials.');
});

test('linkDevice reports answers that are not the envelope, incomplete data and unreachable servers', async (t) => {
  const html = await startHttp(t, () => ({ status: 502, body: '<html>Bad gateway</html>' }));
  t.is(
    (await t.throwsAsync(linkDevice({ server: html.url, token: 'lt_x', name: 'x' }), { instanceOf: ApiError }))?.code,
    'BAD_RESPONSE',
  );

  const partial = await startHttp(t, () => ({ status: 201, body: { success: true, data: { deviceId: DEVICE_ID } } }));
  t.is(
    (await t.throwsAsync(linkDevice({ server: partial.url, token: 'lt_x', name: 'x' }), { instanceOf: ApiError }))
      ?.code,
    'BAD_RESPONSE',
  );

  const closedPort = await freePort();
  t.is(
    (
      await t.throwsAsync(linkDevice({ server: `http://127.0.0.1:${closedPort}`, token: 'lt_x', name: 'x' }), {
        instanceOf: ApiError,
      })
    )?.code,
    'NETWORK_ERROR',
  );
});

test('credentials are saved 0600 and read back; a missing or foreign file is a clear error', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'var', 'device.json');
  await saveCredentials({ ...linkData(), server: 'https://smx.example.com', name: 'ref' }, path);
  t.is((await stat(path)).mode & 0o777, 0o600);
  const loaded = await loadCredentials(path);
  t.deepEqual(loaded, { ...linkData(), server: 'https://smx.example.com', name: 'ref' });
  t.is(sentIdsPathFor(path), join(dir, 'var', 'device.sent-ids.json'));
  t.is(sentIdsPathFor(DEFAULT_CREDENTIALS_PATH), 'var/device.sent-ids.json');

  await deleteCredentials(path);
  await t.throwsAsync(loadCredentials(path), { message: /No device credentials/ });
  await writeFile(path, JSON.stringify({ deviceId: DEVICE_ID }));
  await t.throwsAsync(loadCredentials(path), { message: /not a device credentials file/ });
});

/** A port that was free a moment ago (listened on, then closed), so a connection to it is refused. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
