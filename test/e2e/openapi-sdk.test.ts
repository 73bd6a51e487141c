/**
 * The TypeScript SDK (sdk/typescript, its own package): an OTP sent and verified through it
 * against a real SMX with the reference device as the phone, its errors as SmxApiError; and the
 * drift check — the committed client (src/schema.d.ts, generated from the committed
 * openapi.json) is exactly what openapi-typescript makes of the document this SMX serves.
 *
 * The SDK is loaded from its build (`npm ci --prefix sdk/typescript` builds it), by a path known
 * only at run time, so the root build never depends on the SDK's own dependencies.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'openapi-sdk');

const SDK_DIR = fileURLToPath(new URL('../../../sdk/typescript/', import.meta.url));
const SETUP = 'run `npm ci --prefix sdk/typescript` (installs and builds the SDK)';

type Answer = { data?: any; error?: any; response: Response };
type Call = (path: string, init?: Record<string, unknown>) => Promise<Answer>;
interface Sdk {
  createSmxClient(options: { baseUrl: string; apiKey?: string; adminToken?: string }): {
    GET: Call;
    POST: Call;
    PATCH: Call;
    DELETE: Call;
  };
  unwrap<T = any>(call: Promise<Answer>): Promise<T>;
  SmxApiError: new (...args: never[]) => Error & { code: string; status: number; origin?: string; requestId?: string };
}

async function loadSdk(): Promise<Sdk> {
  const entry = join(SDK_DIR, 'dist/index.js');
  if (!existsSync(entry)) throw new Error(`the SDK is not built: ${SETUP}`);
  return (await import(pathToFileURL(entry).href)) as Sdk;
}

test('send and verify an OTP through the SDK against a real server; errors are SmxApiError with the catalogue code', async (t) => {
  const { createSmxClient, unwrap, SmxApiError } = await loadSdk();
  const smx = current();
  const { projectId, key } = await createProject(smx, 'sdk');
  const sent: OutboxMessage[] = [];
  await startPhone(t, await linkNewDevice(smx, projectId), { onSend: (message) => void sent.push(message) });

  const client = createSmxClient({ baseUrl: `${smx.url}/`, apiKey: key });
  const to = '+4915112345678';
  const otp = await unwrap(
    client.POST('/v1/send-otp', {
      body: { to, template: 'Code: {{code}}.', metadata: { orderId: 'A-1042' } },
      params: { header: { 'idempotency-key': 'sdk-1' } },
    }),
  );
  t.regex(otp.verificationId, /^ver_/);
  t.is(otp.status, 'PENDING');
  t.deepEqual(otp.metadata, { orderId: 'A-1042' });

  const sms = await eventually(async () => sent.find((m) => m.to === to), 15_000, 'the SMS at the phone');
  const code = /Code: (\w+)\./.exec(sms.body)![1]!;
  const wrong = await unwrap(
    client.POST('/v1/verify-otp', {
      body: { verificationId: otp.verificationId, otp: code === '000000' ? '111111' : '000000' },
    }),
  );
  t.false(wrong.verified);
  t.is(wrong.attemptsRemaining, otp.maxAttempts - 1);
  const right = await unwrap(
    client.POST('/v1/verify-otp', { body: { verificationId: otp.verificationId, otp: code } }),
  );
  t.true(right.verified);
  t.is(right.status, 'VERIFIED');

  const again = await t.throwsAsync(
    unwrap(client.POST('/v1/verify-otp', { body: { verificationId: otp.verificationId, otp: code } })),
    { instanceOf: SmxApiError },
  );
  t.is(again?.code, 'VERIFICATION_ALREADY_VERIFIED');
  t.is(again?.status, 409);
  t.regex(again?.requestId ?? '', /\S/);

  const read = await unwrap(client.GET('/v1/verifications/{id}', { params: { path: { id: otp.verificationId } } }));
  t.is(read.status, 'VERIFIED');

  // The admin token through the same client type; a project key there is FORBIDDEN.
  const admin = createSmxClient({ baseUrl: smx.url, adminToken: smx.adminToken });
  t.is((await unwrap(admin.GET('/admin/projects/{id}', { params: { path: { id: projectId } } }))).name, 'sdk');
  const forbidden = await t.throwsAsync(unwrap(client.GET('/admin/projects')), { instanceOf: SmxApiError });
  t.is(forbidden?.code, 'FORBIDDEN');
});

/** Runs the SDK's generator; resolves with its exit code and output. */
function generate(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(SDK_DIR, 'scripts/generate.mjs'), ...args],
      { cwd: SDK_DIR },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

test('the committed client matches the served document (openapi.json and src/schema.d.ts)', async (t) => {
  t.true(existsSync(join(SDK_DIR, 'node_modules/openapi-typescript')), `openapi-typescript is not installed: ${SETUP}`);
  const served = (await (await fetch(`${current().url}/openapi.json`)).json()) as object;
  const committed = JSON.parse(readFileSync(join(SDK_DIR, 'openapi.json'), 'utf8')) as object;
  t.deepEqual(committed, served, 'sdk/typescript/openapi.json is the served document: run npm run sdk:generate');

  const dir = await mkdtemp(join(tmpdir(), 'smx-sdk-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(served));
    const { code, output } = await generate(['--check', '--from', file]);
    t.is(code, 0, output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
