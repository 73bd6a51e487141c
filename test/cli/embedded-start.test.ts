/**
 * `smx start` on the embedded database (PGlite), as a new user runs it: a fresh data folder, then
 * a second start on it. PGlite's initdb used to stay in the process (~800 MB RSS idle after a
 * first start); it now runs in a child process, and PGlite runs with small buffers.
 * Times are logged, not asserted (the machine is shared); memory bounds have wide headroom.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { readRssMiB } from '../bench/rss.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';

async function startOn(dataDir: string, prefix: string): Promise<{ server: SmxProcess; readyMs: number; url: string }> {
  const httpPort = await freePort();
  const began = Date.now();
  const server = runSmx(['start'], {
    SMX_DATA_DIR: dataDir,
    SMX_HTTP_PORT: String(httpPort),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
  });
  const url = `http://127.0.0.1:${httpPort}`;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`smx start exited ${server.exitCode}:\n${server.output()}`);
    if (
      await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { server, readyMs: Date.now() - began, url };
}

async function stop(server: SmxProcess): Promise<number | null> {
  server.kill('SIGTERM');
  return exited(server);
}

test('a first and a second start on the embedded database stay small and keep the data', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-embedded-'));
  const prefix = `smxt-embedded-${(await freePort()).toString(36)}`;
  t.teardown(async () => {
    await rm(dataDir, { recursive: true, force: true });
    const redis = new Redis('redis://127.0.0.1:6379');
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }))
      if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
    redis.disconnect();
  });

  const first = await startOn(dataDir, prefix);
  const admin = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  const created = await fetch(`${first.url}/admin/projects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{"name":"kept"}',
  });
  t.is(created.status, 201);
  await new Promise((r) => setTimeout(r, 3000));
  const firstRss = readRssMiB(first.server.pid!)!;
  t.is(await stop(first.server), 0, first.server.output());

  const second = await startOn(dataDir, prefix);
  await new Promise((r) => setTimeout(r, 3000));
  const secondRss = readRssMiB(second.server.pid!)!;
  const list = (await (
    await fetch(`${second.url}/admin/projects`, { headers: { authorization: `Bearer ${admin}` } })
  ).json()) as { data: { projects: Array<{ name: string }> } };
  t.is(await stop(second.server), 0, second.server.output());

  t.log(
    `first start: ready in ${first.readyMs} ms, ${Math.round(firstRss)} MiB RSS; second start: ready in ${second.readyMs} ms, ${Math.round(secondRss)} MiB RSS`,
  );
  // Before: ~800 MiB after a first start (initdb in the process), ~400 MiB after a second one.
  t.true(firstRss < 400, `first start: ${firstRss} MiB`);
  t.true(secondRss < 380, `second start: ${secondRss} MiB`);
  t.deepEqual(
    list.data.projects.map((p) => p.name),
    ['kept'],
  );
  t.regex(await readFile(join(dataDir, 'pglite', 'postgresql.conf'), 'utf8'), /shared_buffers=16MB\nmax_connections=5/);
});
