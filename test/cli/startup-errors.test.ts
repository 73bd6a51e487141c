import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';

const SMX = join(process.cwd(), 'dist/bin/smx.js');

/** Runs the real CLI with `env` on top of a minimal environment; resolves with its exit code and output. */
async function runSmx(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-cli-'));
  try {
    const child = spawn(process.execPath, [SMX, ...args], {
      env: { PATH: process.env.PATH ?? '', SMX_DATA_DIR: dataDir, SMX_HTTP_PORT: '0', SMX_MQTT_PORT: '0', SMX_MQTT_WS_PORT: '0', ...env },
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

const noStack = (text: string) => !/\n\s+at /.test(text);

for (const [variable, value, expected] of [
  ['SMX_HTTP_PORT', 'eighty', /SMX_HTTP_PORT: expected a port number from 0 to 65535, got "eighty"/],
  ['SMX_MQTT_PORT', '70000', /SMX_MQTT_PORT: expected a port number/],
  ['REDIS_URL', 'http://127.0.0.1:6379', /REDIS_URL: expected a URL \(redis:, rediss:\)/],
  ['DATABASE_URL', 'mysql://x', /DATABASE_URL: expected a URL \(postgres:, postgresql:\)/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/],
  ['SMX_WORKER_CONCURRENCY', '0', /SMX_WORKER_CONCURRENCY: expected a whole number from 1 to 1000/],
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
  t.regex(stderr, /^smx: REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  t.true(noStack(stderr), stderr);
});

test('split roles refuse to run on the embedded database', async (t) => {
  const { code, stderr } = await runSmx(['worker'], {});
  t.is(code, 1);
  t.regex(stderr, /DATABASE_URL: expected a PostgreSQL URL for "smx worker"/);
});

test('unknown commands print the usage and exit 2', async (t) => {
  const { code, stderr } = await runSmx(['frobnicate'], {});
  t.is(code, 2);
  t.regex(stderr, /unknown command "frobnicate"/);
  t.regex(stderr, /smx start/);
});
