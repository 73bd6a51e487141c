/**
 * README.md "Five minutes", run as written: the section's shell block is taken from README.md and
 * run by bash, from the project folder, against a real `smx start` on the embedded defaults
 * (PGlite, a fresh data folder), with `npx smx` for the reference device. Only what the block
 * itself reads from the environment differs: API (free ports here) and SMX_DATA_DIR.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { exited, freePort, runSmx } from '../helpers/processes.js';

/** The first ```sh block under the "## Five minutes" heading. */
function fiveMinutesBlock(readme: string): string {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Five minutes'));
  const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error('README.md has no ```sh block under "## Five minutes"');
  return block;
}

test('README "Five minutes", pasted into bash, sends and verifies an OTP', async (t) => {
  const block = fiveMinutesBlock(await readFile('README.md', 'utf8'));
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-readme-'));
  const prefix = `smxt-readme-${(await freePort()).toString(36)}`;
  const httpPort = await freePort();
  const env = {
    SMX_DATA_DIR: dataDir,
    SMX_HTTP_PORT: String(httpPort),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_REDIS_PREFIX: prefix,
  };
  const server = runSmx(['start'], env);
  t.teardown(async () => {
    if (server.exitCode === null) server.kill('SIGTERM');
    await exited(server);
    await rm(dataDir, { recursive: true, force: true });
    const redis = new Redis('redis://127.0.0.1:6379');
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }))
      if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
    redis.disconnect();
  });
  const api = `http://localhost:${httpPort}`;
  for (let ready = false; !ready;) {
    if (server.exitCode !== null) return t.fail(`smx start exited:\n${server.output()}`);
    ready = await fetch(`${api}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }

  // As pasted into a fresh interactive shell: job control on (so `kill %1` stops the phone's whole
  // process group, npx and node), but stopping at the first failing step and, whatever happens,
  // stopping the background phone at the end.
  const script = `set -eo pipefail\nset -m\ntrap 'for job in $(jobs -p); do kill -- -$job 2>/dev/null; done' EXIT\n${block}`;
  const shell = spawn('bash', ['-c', script], {
    cwd: process.cwd(),
    // npm_config_offline: `npx smx` must find this project's own bin, never the registry.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dataDir,
      API: api,
      SMX_DATA_DIR: dataDir,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  shell.stdout.on('data', (d) => (out += d));
  shell.stderr.on('data', (d) => (out += d));
  // Out of time: SIGTERM first, so the shell's EXIT trap stops the background phone (a phone left
  // running would hold the output pipes open, and the test would wait for them forever).
  const timer = setTimeout(() => {
    shell.kill('SIGTERM');
    setTimeout(() => shell.kill('SIGKILL'), 5_000).unref();
  }, 90_000);
  const closed = new Promise((resolve) => shell.on('close', resolve));
  const code = await new Promise<number | null>((resolve) => shell.on('exit', resolve));
  clearTimeout(timer);
  // The rest of the output, unless something the shell started still holds the pipes.
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);

  t.is(code, 0, out);
  t.regex(out, /\{"success":true,"data":\{"verified":true,"status":"VERIFIED"/, out);
  t.regex(out, /"status":"VERIFIED"[^\n]*\}\n/, 'the verify answer ends with a newline');
  t.regex(out, /→ \+4915112345678 : .*\d{6}/, 'the phone printed the SMS it sent');
  t.notRegex(out, /ver_\.\.\.|"otp":"123456"/, 'nothing to fill in by hand');
});
