/**
 * Starts a real SMX for a test file: real Redis under a prefix of its own, a real database
 * (PostgreSQL in a schema of its own, or PGlite in a temp dir), the embedded Aedes broker and
 * HTTP on port 0. Helpers create projects and keys through the admin API and link the reference
 * device as the phone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startSmx, type Roles, type Smx } from '../../bin/compose.js';
import { loadConfig } from '../../core/config.js';
import type { Queues } from '../../core/queues.js';
import { TOKENS } from '../../core/tokens.js';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice, type ReferenceDeviceOptions } from '../../device/reference-device.js';
import type { LinkResult } from '../../protocol/payloads.js';
import { eventually } from './eventually.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type DbKind = 'postgres' | 'pglite';

export interface TestSmx {
  smx: Smx;
  url: string;
  adminToken: string;
  redisPrefix: string;
  /** Everything SMX logged, as text (to prove secrets never reach logs). */
  logs(): string;
  admin<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  api<T = any>(
    key: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: {
    success: boolean;
    data: T;
    error: { code: string; message: string; origin: string; details: Array<{ field?: string; message: string }> };
    requestId?: string;
  };
}

/** A stable, short id for names: the same title gives the same prefix/schema, so a rerun cleans up. */
export function isolationId(title: string): string {
  return createHash('sha256').update(title).digest('hex').slice(0, 10);
}

async function resetSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface StartTestSmxOptions {
  db?: DbKind;
  roles?: Roles;
  env?: Record<string, string>;
  /**
   * Reuse this prefix/schema/data dir (a restart of the same instance). The server secret is
   * derived from `name`, so a restart under the same name opens what the first start sealed;
   * pass the first start's `adminToken` to keep admin calls working.
   */
  reuse?: { redisPrefix: string; schema?: string; dataDir?: string; adminToken?: string };
}

/**
 * Starts SMX for one test file (`name` makes its Redis prefix and schema). Registered for
 * teardown on `t` when given; otherwise the caller closes it.
 */
export async function startTestSmx(name: string, options: StartTestSmxOptions = {}): Promise<TestSmx> {
  const id = isolationId(name);
  const db = options.db ?? 'postgres';
  const redisPrefix = options.reuse?.redisPrefix ?? `smxt-${id}-${randomBytes(3).toString('hex')}`;
  const schema = options.reuse?.schema ?? `t_${id}_${randomBytes(3).toString('hex')}`;
  const dataDir = options.reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'smx-test-')));
  if (db === 'postgres' && !options.reuse) await resetSchema(schema);
  const adminToken = options.reuse?.adminToken ?? `adm_${randomBytes(24).toString('hex')}`;
  const env: Record<string, string> = {
    SMX_HTTP_PORT: '0',
    SMX_MQTT_PORT: '0',
    SMX_MQTT_WS_PORT: '0',
    SMX_HOST: '127.0.0.1',
    REDIS_URL,
    SMX_REDIS_PREFIX: redisPrefix,
    SMX_DATA_DIR: dataDir,
    SMX_ADMIN_TOKEN: adminToken,
    SMX_SECRET: `test-secret-${id}-0123456789abcdef`,
    SMX_WORKER_CONCURRENCY: '8',
    // Test files close their server at once; the shutdown grace is tested with a real process.
    SMX_SHUTDOWN_GRACE_MS: '0',
    LOG_LEVEL: 'debug',
    ...(db === 'postgres' ? { DATABASE_URL: PG_URL, SMX_DATABASE_SCHEMA: schema } : {}),
    ...options.env,
  };
  const logStream = new PassThrough();
  const chunks: Buffer[] = [];
  logStream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const smx = await startSmx({
    config: loadConfig(env),
    roles: options.roles ?? { api: true, worker: true, broker: true },
    logDestination: logStream,
  });
  const url = smx.endpoints.publicUrl;

  const call = async (
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<ApiResponse> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    } as ApiResponse;
  };

  let closed = false;
  return {
    smx,
    url,
    adminToken,
    redisPrefix,
    logs: () => Buffer.concat(chunks).toString('utf8'),
    admin: (method, path, body) => call(method, path, body, { authorization: `Bearer ${adminToken}` }),
    api: (key, method, path, body, headers = {}) => call(method, path, body, { 'x-smx-api-key': key, ...headers }),
    close: async () => {
      if (closed) return;
      closed = true;
      await smx.close();
    },
  };
}

/** Deletes what a test SMX left in Redis and PostgreSQL (after close). */
export async function cleanupTestSmx(instance: Pick<TestSmx, 'redisPrefix' | 'smx'>): Promise<void> {
  await deleteRedisPrefix(instance.redisPrefix);
  if (instance.smx.config.databaseUrl) await resetSchema(instance.smx.config.databaseSchema);
  // The data dir is a temp dir of its own in every mode (PGlite's files, or just generated secrets).
  await rm(instance.smx.config.dataDir, { recursive: true, force: true });
}

/**
 * Starts SMX expecting start to fail (a bad plugin, a bad config) and returns the error. Start
 * closes what it opened on failure; this removes the Redis keys, schema and data dir it left.
 */
export async function startTestSmxExpectingFailure(name: string, options: StartTestSmxOptions = {}): Promise<Error> {
  const id = isolationId(name);
  const redisPrefix = `smxt-${id}-${randomBytes(3).toString('hex')}`;
  const schema = `t_${id}_${randomBytes(3).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-test-'));
  let started: TestSmx | undefined;
  try {
    started = await startTestSmx(name, { ...options, reuse: { redisPrefix, schema, dataDir } });
  } catch (error) {
    return error as Error;
  } finally {
    await started?.close();
    await deleteRedisPrefix(redisPrefix);
    if ((options.db ?? 'postgres') === 'postgres') await resetSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  }
  throw new Error(`${name}: SMX started although it should not have`);
}

interface HookHost {
  before: (fn: () => Promise<void>) => void;
  after: { always: (fn: () => Promise<void>) => void };
}

/**
 * Starts SMX before the file's tests and closes + cleans it after them (hooks are registered
 * synchronously, as ava requires). Returns a getter for the running instance.
 */
export function useSmx(test: HookHost, name: string, options?: StartTestSmxOptions): () => TestSmx {
  let instance: TestSmx | undefined;
  test.before(async () => {
    instance = await startTestSmx(name, options);
  });
  test.after.always(async () => {
    if (!instance) return;
    await instance.close();
    await cleanupTestSmx(instance);
  });
  return () => {
    if (!instance) throw new Error('SMX is not started (use it inside tests)');
    return instance;
  };
}

/** A project with an API key. */
export async function createProject(smx: TestSmx, name = 'Test project'): Promise<{ projectId: string; key: string }> {
  const project = await smx.admin('POST', '/admin/projects', { name });
  if (project.status !== 201) throw new Error(`create project: ${project.status} ${JSON.stringify(project.body)}`);
  const key = await smx.admin('POST', `/admin/projects/${project.body.data.id}/api-keys`, { name: 'test key' });
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${JSON.stringify(key.body)}`);
  return { projectId: project.body.data.id, key: key.body.data.key };
}

/** Links a new device to the project with a fresh link token (as the phone scanning the QR would). */
export async function linkNewDevice(smx: TestSmx, projectId: string, name = 'Test phone'): Promise<LinkResult> {
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  if (token.status !== 201) throw new Error(`link token: ${token.status} ${JSON.stringify(token.body)}`);
  const qr = JSON.parse(token.body.data.qr.payload) as { server: string; token: string };
  return linkDevice({ server: qr.server, token: qr.token, name });
}

/** Starts the reference device (the phone) and stops it at teardown. */
export async function startPhone(
  t: ExecutionContext,
  credentials: LinkResult,
  options: Partial<ReferenceDeviceOptions> = {},
): Promise<ReferenceDevice> {
  const device = new ReferenceDevice({
    credentials,
    report: { sent: true, delivered: true },
    ...options,
  } as ReferenceDeviceOptions);
  t.teardown(() => device.stop());
  await device.start();
  return device;
}

/**
 * Sends an SMS through the project's phone (its routing must pick the phone the test watches) and
 * waits until `arrived(messageId)` says the phone has it. A phone gets its messages in the order
 * they were handed to it, so whatever was handed to it before has arrived too: a test proving that
 * no (second) message reached the phone checks after this marker, not after a sleep.
 * Returns the marker's message id (to leave it out of what the test counts).
 */
export async function phoneMarker(
  smx: TestSmx,
  key: string,
  arrived: (messageId: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915199999990', message: 'marker' });
  if (sent.status !== 201) throw new Error(`marker SMS: ${sent.status} ${JSON.stringify(sent.body)}`);
  const messageId = sent.body.data.messageId as string;
  await eventually(() => arrived(messageId), timeoutMs, 'the marker SMS at the phone');
  return messageId;
}

/**
 * Waits until the named queues of the instance have no job waiting, running or due later: every
 * phone report, dispatch or webhook accepted so far has been handled. A test proving that a late
 * report changed nothing, or that no second webhook came, checks after this, not after a sleep.
 */
export async function queuesIdle(
  smx: TestSmx,
  names: ReadonlyArray<'dispatch' | 'deviceEvents' | 'webhooks'>,
  timeoutMs = 10_000,
): Promise<void> {
  const queues = smx.smx.container.resolve<Queues>(TOKENS.Queues);
  await eventually(
    async () => {
      for (const name of names) {
        const counts = await queues[name].getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'waiting-children',
        );
        if (Object.values(counts).some((n) => n > 0)) return false;
      }
      return true;
    },
    timeoutMs,
    `the ${names.join(', ')} queue(s) to be idle`,
  );
}
