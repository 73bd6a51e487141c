/**
 * What `smx start` prints: on a terminal (or LOG_FORMAT=pretty) a plain summary once, with every
 * URL, where the data lives and the admin token on the first start; elsewhere JSON log lines.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import pg from 'pg';
import { logFormat } from '../../bin/cli/log-format.js';
import { startSummary, type SummaryInput } from '../../bin/cli/start-summary.js';
import { smxInvocation } from '../../bin/cli/conventions.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { PG_URL, REDIS_URL } from '../helpers/smx.js';

const base: SummaryInput = {
  version: '0.1.0',
  roles: { api: true, worker: true, broker: true },
  httpUrl: 'http://localhost:8080',
  mqttUrl: 'mqtt://localhost:1884',
  mqttWsUrl: 'ws://localhost:8083/mqtt',
  portMoves: [{ variable: 'SMX_MQTT_PORT', taken: 1883, used: 1884 }],
  databaseUrl: undefined,
  databaseSchema: 'public',
  dataDir: './var',
  redisUrl: 'redis://:secret@127.0.0.1:6379',
  adminToken: { generated: 'smxadm_first', file: '/app/var/admin-token', fromEnv: false },
  invocation: 'npx smx',
  cwd: '/app',
};

test('the summary names every URL, a moved port, where the data lives and the admin token', (t) => {
  const text = startSummary(base).join('\n');
  t.regex(text, /SMX 0\.1\.0 is running: API, MQTT broker and workers in one process\./);
  for (const line of [
    '  HTTP API        http://localhost:8080',
    '  Console         http://localhost:8080/console',
    '  API docs        http://localhost:8080/docs',
    '  Queues          http://localhost:8080/admin/queues  (Bull Board; the admin token is the password)',
    '  MQTT            mqtt://localhost:1884  (port 1883 is taken: moved to 1884; set SMX_MQTT_PORT to choose)',
    '  MQTT WebSocket  ws://localhost:8083/mqtt',
    '  Data            embedded PGlite in var/pglite',
    '  Redis           redis://:***@127.0.0.1:6379',
    '  Admin token     smxadm_first',
    '                  shown this once; stored in var/admin-token',
    'Next: npx smx projects create "My app"   (README.md "Five minutes" sends and verifies an OTP)',
  ]) {
    t.true(text.includes(line), line);
  }
  const later = startSummary({
    ...base,
    portMoves: [],
    adminToken: { file: '/app/var/admin-token', fromEnv: false },
    databaseUrl: 'postgres://smx:pw@db.internal:6432/smx',
    databaseSchema: 'tenant',
  }).join('\n');
  t.true(later.includes('  Admin token     in var/admin-token  (cat var/admin-token)'));
  t.true(later.includes('  MQTT            mqtt://localhost:1884\n'));
  t.true(later.includes('  Data            PostgreSQL db.internal:6432/smx, schema tenant'));
  t.false(later.includes('pw'));
  t.true(
    startSummary({ ...base, adminToken: { file: '', fromEnv: true } }).includes(
      '  Admin token     from SMX_ADMIN_TOKEN',
    ),
  );
  const worker = startSummary({
    ...base,
    roles: { api: false, worker: true, broker: false },
    httpUrl: '',
    mqttUrl: '',
    mqttWsUrl: '',
  }).join('\n');
  t.regex(worker, /is running: worker\./);
  t.false(worker.includes('HTTP API'));
});

test('logs are readable on a terminal, JSON elsewhere; LOG_FORMAT decides when set', (t) => {
  t.is(logFormat({}, true), 'pretty');
  t.is(logFormat({}, false), 'json');
  t.is(logFormat({ LOG_FORMAT: 'json' }, true), 'json');
  t.is(logFormat({ LOG_FORMAT: 'pretty' }, false), 'pretty');
  t.throws(() => logFormat({ LOG_FORMAT: 'yaml' }, true), {
    message: 'LOG_FORMAT: expected json or pretty, got "yaml"',
  });
});

test('the next command suggested is `smx` from a global install, else `npx smx`', async (t) => {
  t.is(smxInvocation(join(process.cwd(), 'dist/bin/smx.js'), '/opt/node/bin/node'), 'npx smx');
  t.is(smxInvocation(undefined), 'npx smx');
  // npm's global layout: <prefix>/bin/node, <prefix>/lib/node_modules/smx, and <prefix>/bin/smx a link to its bin.
  const prefix = await mkdtemp(join(tmpdir(), 'smx-prefix-'));
  t.teardown(() => rm(prefix, { recursive: true, force: true }));
  await mkdir(join(prefix, 'lib/node_modules/smx/dist/bin'), { recursive: true });
  await mkdir(join(prefix, 'bin'));
  await writeFile(join(prefix, 'lib/node_modules/smx/dist/bin/smx.js'), '');
  await symlink(join(prefix, 'lib/node_modules/smx/dist/bin/smx.js'), join(prefix, 'bin/smx'));
  t.is(smxInvocation(join(prefix, 'bin/smx'), join(prefix, 'bin/node')), 'smx');
});

/** How a server ended, with its last output, for a failed exit-code assertion. */
function stopped(server: SmxProcess): string {
  return `exit ${server.exitCode}, signal ${server.signalCode}:\n${server.output().slice(-3000)}`;
}

async function startAndCollect(env: Record<string, string>): Promise<{ server: SmxProcess; url: string }> {
  const httpPort = await freePort();
  const server = runSmx(['start'], {
    ...env,
    SMX_HTTP_PORT: String(httpPort),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
  });
  const url = `http://localhost:${httpPort}`;
  // Ready, and the start's own output written (the summary follows readiness by a few ms).
  for (;;) {
    if (server.exitCode !== null) throw new Error(`smx start exited:\n${server.output()}`);
    if (/Ctrl-C stops it\.|"msg":"SMX serving"/.test(server.output())) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { server, url };
}

test('smx start: the summary once (LOG_FORMAT=pretty, as on a terminal), JSON lines otherwise', async (t) => {
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-start-output-'));
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_startout_${id}`,
    SMX_REDIS_PREFIX: `smxt-startout-${id}`,
    SMX_DATA_DIR: dataDir,
  };
  t.teardown(async () => {
    await rm(dataDir, { recursive: true, force: true });
    const client = new pg.Client(PG_URL);
    await client.connect();
    await client.query(`drop schema if exists t_startout_${id} cascade`);
    await client.end();
    const redis = new Redis(REDIS_URL);
    for await (const keys of redis.scanStream({ match: `smxt-startout-${id}:*`, count: 500 }))
      if ((keys as string[]).length) await redis.unlink(...(keys as string[]));
    redis.disconnect();
  });

  const first = await startAndCollect({ ...env, LOG_FORMAT: 'pretty' });
  first.server.kill('SIGTERM');
  t.is(await exited(first.server), 0, stopped(first.server));
  const out = first.server.output();
  t.is(out.split('is running: API, MQTT broker and workers in one process.').length, 2, 'printed once');
  for (const label of [
    'HTTP API        ' + first.url,
    'Console         ' + first.url + '/console',
    'API docs        ' + first.url + '/docs',
    'Queues          ' + first.url + '/admin/queues',
    'MQTT            mqtt://localhost:',
    'MQTT WebSocket  ws://localhost:',
    `Data            PostgreSQL 127.0.0.1:5432/test, schema t_startout_${id}`,
  ]) {
    t.true(out.includes(label), `${label}\n${out}`);
  }
  t.regex(out, /Admin token {5}smxadm_\S+\n {18}shown this once; stored in /);
  t.false(out.includes('{"level":'), 'no JSON lines');
  t.false(out.includes('plugin loaded'), 'start-up info lines are in the summary instead');
  t.regex(out, /shutting down: draining in-flight jobs/, 'after the summary, info lines show, readable');

  const second = await startAndCollect(env);
  second.server.kill('SIGTERM');
  t.is(await exited(second.server), 0, stopped(second.server));
  const json = second.server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  t.true(json.length > 3);
  t.false(second.server.output().includes('is running'), 'no summary for a non-terminal');
  const serving = json.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.msg === 'SMX serving');
  t.like(serving, { http: second.url, console: `${second.url}/console` });
  t.false(second.server.output().includes('Admin token'), 'the token is shown on the first start only');
});
