import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';

const SMX = join(process.cwd(), 'dist/bin/smx.js');

/** Runs the real CLI with `env` on top of a minimal environment; resolves with its exit code and output. */
async function runSmx(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-cli-'));
  try {
    const child = spawn(process.execPath, [SMX, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        SMX_DATA_DIR: dataDir,
        SMX_HTTP_PORT: '0',
        SMX_MQTT_PORT: '0',
        SMX_MQTT_WS_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout, stderr };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Removes the Redis keys a start that got that far left under `prefix`. */
async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis('redis://127.0.0.1:6379');
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }))
      if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
  } finally {
    redis.disconnect();
  }
}

const noStack = (text: string) => !/\n\s+at /.test(text);

for (const [variable, value, expected] of [
  ['SMX_HTTP_PORT', 'eighty', /SMX_HTTP_PORT: expected a port number from 0 to 65535, got "eighty"/],
  ['SMX_MQTT_PORT', '70000', /SMX_MQTT_PORT: expected a port number/],
  ['REDIS_URL', 'http://127.0.0.1:6379', /REDIS_URL: expected a URL \(redis:, rediss:\)/],
  ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a URL \(postgres:, postgresql:\)/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/],
  ['SMX_WORKER_CONCURRENCY', '0', /SMX_WORKER_CONCURRENCY: expected a whole number from 1 to 1000/],
  ['SMX_DATABASE_POOL_MAX', '0', /SMX_DATABASE_POOL_MAX: expected a whole number from 1 to 1000/],
  ['SMX_DISPATCH_CONCURRENCY', '-1', /SMX_DISPATCH_CONCURRENCY: expected a whole number from 1 to 100000/],
  ['SMX_ADMIN_TOKEN', 'short', /SMX_ADMIN_TOKEN: expected at least 16 characters/],
] as const) {
  test(`a bad ${variable} stops start with the variable's name and what was expected`, async (t) => {
    const { code, stderr } = await runSmx(['start'], { [variable]: value });
    t.is(code, 1);
    t.regex(stderr, expected);
    t.true(noStack(stderr), stderr);
  });
}

test('an unreachable Redis stops start with a clear message naming REDIS_URL', async (t) => {
  const { code, stderr } = await runSmx(['start'], { REDIS_URL: 'redis://127.0.0.1:1' });
  t.is(code, 1);
  t.regex(stderr, /^error: REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  t.true(noStack(stderr), stderr);
});

test('split roles refuse to run on the embedded database', async (t) => {
  const { code, stderr } = await runSmx(['worker'], {});
  t.is(code, 1);
  t.regex(stderr, /DATABASE_URL: expected a PostgreSQL URL for "smx worker"/);
});

test('unknown commands and options are usage errors (exit 2) that suggest the closest one', async (t) => {
  const unknown = await runSmx(['frobnicate'], {});
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^error: unknown command 'frobnicate'\n\(npx smx --help shows how to use it\)/);
  const typo = await runSmx(['statr'], {});
  t.is(typo.code, 2);
  t.regex(typo.stderr, /\(Did you mean start\?\)/);
  const option = await runSmx(['start', '--prot', '9000'], {});
  t.is(option.code, 2);
  t.regex(option.stderr, /^error: unknown option '--prot'/);
});

test('a taken port names the variable that moves it', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = String((blocker.address() as AddressInfo).port);
  const prefix = `smxt-port-${port}`;
  t.teardown(() => deleteKeys(prefix));
  const { code, stderr } = await runSmx(['start'], { SMX_HTTP_PORT: port, SMX_REDIS_PREFIX: prefix });
  t.is(code, 1);
  t.regex(stderr, new RegExp(`^error: port ${port} is in use by another program: set SMX_HTTP_PORT to a free port`));
  t.true(noStack(stderr), stderr);
});
