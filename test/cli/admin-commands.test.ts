/**
 * The admin and send commands of the CLI (issue 16), run in-process against a real SMX: projects,
 * keys, devices, send-otp, verify and send (one number, and bulk from a CSV file).
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { runCli, type CliIo } from '../../bin/cli/conventions.js';
import { buildProgram } from '../../bin/cli/program.js';
import { sendCsv } from '../../bin/cli/bulk-send.js';
import { startHttp } from '../device/_helpers.js';
import { freePort } from '../helpers/processes.js';
import { createProject, linkNewDevice, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const getSmx = useSmx(test, 'cli-admin-commands');

interface Run {
  code: number;
  out: string[];
  err: string[];
  json: () => any;
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'smx-cli-admin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `smx <argv>` in-process against the test's server, its admin token in SMX_DATA_DIR like `smx start` leaves it. */
async function smx(dir: string, argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    env: { SMX_PUBLIC_URL: getSmx().url, SMX_DATA_DIR: join(dir, 'var'), ...env },
    cwd: dir,
    invocation: 'npx smx',
  };
  const code = await runCli(buildProgram(io), argv, io);
  return { code, out, err, json: () => JSON.parse(out.join('\n')) };
}

async function withAdminTokenFile(t: ExecutionContext, instance: TestSmx): Promise<string> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'var'));
  await writeFile(join(dir, 'var', 'admin-token'), `${instance.adminToken}\n`);
  return dir;
}

test('projects, keys and devices: create, list, revoke, unlink; --json for scripts', async (t) => {
  const dir = await withAdminTokenFile(t, getSmx());
  const created = await smx(dir, ['projects', 'create', 'CLI shop']);
  t.is(created.code, 0, created.err.join('\n'));
  const projectId = /Created project (prj_\S+) "CLI shop"/.exec(created.out[0] ?? '')?.[1];
  t.truthy(projectId, created.out.join('\n'));
  t.is(created.out[1], `Next: npx smx keys create ${projectId}    (an API key for your backend)`);

  const listed = await smx(dir, ['projects', 'list', '--json']);
  t.true((listed.json() as Array<{ id: string }>).some((p) => p.id === projectId));
  const table = await smx(dir, ['projects', 'list']);
  t.regex(table.out[0] ?? '', /^ID\s+NAME\s+CREATED$/);
  t.true(table.out.some((l) => l.startsWith(`${projectId}  CLI shop`)));

  const key = (await smx(dir, ['keys', 'create', projectId!, '--name', 'backend', '--json'])).json() as {
    id: string;
    key: string;
  };
  t.regex(key.key, /^smx_/);
  const keys = await smx(dir, ['keys', 'list', projectId!]);
  t.true(keys.out.some((l) => l.startsWith(key.id)));
  t.false(keys.out.join('\n').includes(key.key), 'a listed key never shows the secret');
  t.is((await getSmx().api(key.key, 'GET', '/v1/status')).status, 200);
  const revoked = await smx(dir, ['keys', 'revoke', projectId!, key.id]);
  t.is(revoked.code, 0);
  t.is((await getSmx().api(key.key, 'GET', '/v1/status')).status, 401);

  t.deepEqual((await smx(dir, ['devices', 'list', projectId!])).out, [
    `No phones linked. Link one: npx smx link ${projectId}`,
  ]);
  const device = await linkNewDevice(getSmx(), projectId!, 'CLI phone');
  const devices = (await smx(dir, ['devices', 'list', projectId!, '--json'])).json() as Array<{
    id: string;
    name: string;
  }>;
  t.deepEqual(
    devices.map((d) => [d.id, d.name]),
    [[device.deviceId, 'CLI phone']],
  );
  const unlinked = await smx(dir, ['devices', 'unlink', device.deviceId]);
  t.deepEqual(unlinked.out, [`Unlinked ${device.deviceId}.`]);

  // Errors: the API's code on one line (exit 1); no admin token is a usage error (exit 2).
  const missing = await smx(dir, ['keys', 'list', 'prj_nope']);
  t.is(missing.code, 1);
  t.deepEqual(missing.err, ['error: NOT_FOUND: No project with this id.']);
  const noToken = await smx(await tempDir(t), ['projects', 'list']);
  t.is(noToken.code, 2);
  t.regex(
    noToken.err[0] ?? '',
    /^error: No admin token: pass --admin-token, set SMX_ADMIN_TOKEN or run where .*admin-token exists/,
  );
  const closed = await freePort();
  const down = await smx(dir, ['projects', 'list', '--server', `http://127.0.0.1:${closed}`]);
  t.is(down.code, 1);
  t.is(
    down.err[0],
    `error: NETWORK_ERROR: Cannot reach http://127.0.0.1:${closed}: ECONNREFUSED (is smx start running? --server or SMX_PUBLIC_URL / SMX_HTTP_PORT say where)`,
  );
});

test('send-otp and verify: with --api-key, or with --project and a key the CLI keeps for itself', async (t) => {
  const dir = await withAdminTokenFile(t, getSmx());
  const { projectId, key } = await createProject(getSmx(), 'CLI OTP');
  const codes: string[] = [];
  await startPhone(t, await linkNewDevice(getSmx(), projectId), {
    onSend: (m) => void codes.push(/(\d{6})/.exec(m.body)?.[1] ?? ''),
  });

  const sent = await smx(dir, ['send-otp', '+4915112345678', '--api-key', key]);
  t.is(sent.code, 0, sent.err.join('\n'));
  const verificationId = /verification (ver_\S+),/.exec(sent.out[0] ?? '')?.[1];
  t.truthy(verificationId, sent.out.join('\n'));
  t.is(sent.out[1], `Check the code the user typed: npx smx verify ${verificationId} <code>`);
  const code = await eventually(async () => codes[0], 10_000, 'the SMS at the phone');

  const wrong = await smx(dir, ['verify', verificationId!, code === '000000' ? '111111' : '000000'], {
    SMX_API_KEY: key,
  });
  t.is(wrong.code, 1);
  t.deepEqual(wrong.err, ['error: wrong code; 4 attempt(s) left']);
  const right = await smx(dir, ['verify', verificationId!, code], { SMX_API_KEY: key });
  t.is(right.code, 0, right.err.join('\n'));
  t.deepEqual(right.out, [`Verified: ${verificationId} is VERIFIED.`]);
  const again = await smx(dir, ['verify', verificationId!, code, '--json'], { SMX_API_KEY: key });
  t.is(again.code, 1);
  t.regex(again.err[0] ?? '', /^error: VERIFICATION_ALREADY_VERIFIED: /);

  // --project: the CLI makes a key once, keeps it (0600) and makes a new one when it was revoked.
  const first = await smx(dir, ['send-otp', '+4915112345679', '--project', projectId, '--json']);
  t.is(first.code, 0, first.err.join('\n'));
  t.is(first.json().status, 'PENDING');
  const keyFile = join(dir, 'var', 'cli-keys', projectId);
  t.is((await stat(keyFile)).mode & 0o777, 0o600);
  const kept = (await readFile(keyFile, 'utf8')).trim();
  t.is((await smx(dir, ['send-otp', '+4915112345670', '--project', projectId])).code, 0);
  t.is((await readFile(keyFile, 'utf8')).trim(), kept, 'the kept key is reused');
  const cliKey = (await getSmx().admin('GET', `/admin/projects/${projectId}/api-keys`)).body.data.apiKeys.find(
    (k: { name: string }) => k.name === 'smx cli',
  );
  await getSmx().admin('DELETE', `/admin/projects/${projectId}/api-keys/${cliKey.id}`);
  t.is((await smx(dir, ['send-otp', '+4915112345671', '--project', projectId])).code, 0);
  t.not((await readFile(keyFile, 'utf8')).trim(), kept, 'a revoked kept key is replaced');

  const noKey = await smx(dir, ['send-otp', '+4915112345678']);
  t.is(noKey.code, 2);
  t.regex(noKey.err[0] ?? '', /^error: No API key: pass --api-key, set SMX_API_KEY, or pass --project/);
});

test('send --csv: variables, rejected rows to a file, batches, and a re-run sends nothing twice', async (t) => {
  const dir = await withAdminTokenFile(t, getSmx());
  const { projectId, key } = await createProject(getSmx(), 'CLI bulk');
  await linkNewDevice(getSmx(), projectId);
  const rows = ['to,name,message'];
  for (let i = 0; i < 7; i++) rows.push(`+1415300000${i},Person ${i},`);
  rows.push(',Nobody,', '+12,Short,', '+14153000099,Own,"Hello {{name}}, yours"', '+14153000098,x,y,z');
  await writeFile(join(dir, 'list.csv'), `${rows.join('\n')}\n`);
  const args = ['send', '--csv', 'list.csv', '-m', 'Hi {{name}}', '--batch-size', '3', '--api-key', key];

  const run = await smx(dir, args);
  t.is(run.code, 0, run.err.join('\n'));
  t.regex(run.out[0] ?? '', /^8 of 11 rows accepted in 3 batches \(bat_\S+, bat_\S+, bat_\S+\)\.$/);
  const rejected = await readFile(join(dir, 'list.rejected.csv'), 'utf8');
  t.deepEqual(
    rejected
      .trim()
      .split('\n')
      .map((l) => l.split(',').slice(0, 3).join(',')),
    ['line,to,code', '9,,MISSING_TO', '10,+12,INVALID_PHONE_NUMBER', '12,,CSV_RECORD_INCONSISTENT_COLUMNS'],
  );
  const messages = (await getSmx().api(key, 'GET', '/v1/messages?limit=50')).body.data.messages as Array<{
    to: string;
  }>;
  t.is(messages.length, 8);

  // The same command again: every batch is a replay; nothing new is sent.
  const again = await smx(dir, [...args, '--json']);
  t.is(again.code, 0);
  const summary = again.json() as { accepted: number; rejected: number; batches: Array<{ replayed: boolean }> };
  t.deepEqual(
    summary.batches.map((b) => b.replayed),
    [true, true, true],
  );
  t.is(summary.accepted, 8);
  t.is((await getSmx().api(key, 'GET', '/v1/messages?limit=50')).body.data.messages.length, 8);

  const unknownVariable = await smx(dir, ['send', '--csv', 'list.csv', '-m', 'Hi {{nam}}', '--api-key', key]);
  t.is(unknownVariable.code, 2);
  t.deepEqual(unknownVariable.err, [
    'error: --message uses {{nam}} but the CSV has no such column (columns: to, name, message)',
  ]);
  t.is((await smx(dir, ['send', '--csv', 'list.csv', '--batch-size', '10001', '--api-key', key])).code, 2);
  t.is((await smx(dir, ['send', '+14153000001', '--csv', 'list.csv', '--api-key', key])).code, 2);
});

test('send --csv retries a 503 with the same Idempotency-Key, and a refused key stops the run', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'few.csv'), 'to\n+14153000001\n+14153000002\n+14153000003\n');
  let answers = 0;
  const http = await startHttp(t, () => {
    answers++;
    if (answers === 1)
      return { status: 503, body: { success: false, error: { code: 'UNAVAILABLE', message: 'down' } } };
    return { status: 202, body: { success: true, data: { batchId: `bat_${answers}`, accepted: 2, rejected: [] } } };
  });
  const waits: number[] = [];
  const io: CliIo = { out: () => undefined, err: () => undefined, env: {}, cwd: dir };
  const summary = await sendCsv(io, {
    server: http.url,
    apiKey: 'smx_k',
    file: 'few.csv',
    message: 'hello',
    batchSize: 2,
    json: false,
    sleep: async (ms) => void waits.push(ms),
  });
  t.is(summary.accepted, 4);
  t.deepEqual(waits, [1000]);
  const keys = http.requests.map((r) => r.headers['idempotency-key']);
  t.is(keys[0], keys[1], 'the retry carries the same key');
  t.not(keys[1], keys[2], 'each batch has its own');
  t.regex(String(keys[0]), /^smx-csv-[0-9a-f]{32}-1$/);
  t.deepEqual(http.requests[0]?.body, {
    messages: [
      { to: '+14153000001', message: 'hello' },
      { to: '+14153000002', message: 'hello' },
    ],
  });

  const refused = await startHttp(t, () => ({
    status: 401,
    body: { success: false, error: { code: 'UNAUTHORIZED', message: 'Bad key.' } },
  }));
  const error = await t.throwsAsync(
    sendCsv(io, {
      server: refused.url,
      apiKey: 'smx_bad',
      file: 'few.csv',
      message: 'hello',
      batchSize: 1,
      json: false,
    }),
  );
  t.regex(error.message, /3 of 3 batches failed/);
  t.is(refused.requests.length, 1, 'the first refusal stops the run');
  const file = await readFile(join(dir, 'few.rejected.csv'), 'utf8');
  t.deepEqual(
    file
      .trim()
      .split('\n')
      .map((l) => l.split(',')[2]),
    ['code', 'UNAUTHORIZED', 'NOT_SENT', 'NOT_SENT'],
  );
});
