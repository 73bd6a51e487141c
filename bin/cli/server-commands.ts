/**
 * `smx start`, `smx api`, `smx worker`, `smx broker` and `smx migrate`. The server's modules are
 * imported only when one of these runs, so `--help` and the admin commands start fast and never
 * touch the database, Redis or a port.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { cliName, type CliIo } from './conventions.js';
import type { PortMove } from './start-summary.js';

type RoleName = 'start' | 'api' | 'worker' | 'broker';

const ROLES: Record<RoleName, { api: boolean; worker: boolean; broker: boolean }> = {
  start: { api: true, worker: true, broker: true },
  api: { api: true, worker: false, broker: false },
  worker: { api: false, worker: true, broker: false },
  broker: { api: false, worker: false, broker: true },
};

const ENVIRONMENT = `
Configuration comes from the environment (README.md "Configuration" lists every variable), e.g.:
  SMX_HTTP_PORT (8080)   SMX_MQTT_PORT (1883)   SMX_MQTT_WS_PORT (8083)   SMX_DATA_DIR (./var)
  DATABASE_URL (unset: embedded PGlite under SMX_DATA_DIR)   REDIS_URL (redis://127.0.0.1:6379)
  SMX_ADMIN_TOKEN (generated on first start)   SMX_PUBLIC_URL   LOG_LEVEL (info)
  LOG_FORMAT (pretty on a terminal, else json)`;

export function serverCommands(io: CliIo): Command[] {
  const role = (name: RoleName, description: string) =>
    new Command(name)
      .description(description)
      .addHelpText('after', ENVIRONMENT)
      .action(() => runRole(name, io));
  return [
    role(
      'start',
      'run API, MQTT broker and workers in one process (without DATABASE_URL its data lives in an embedded PGlite database)',
    ),
    role('api', 'run the HTTP API only (split roles: needs DATABASE_URL, a PostgreSQL shared by every process)'),
    role('worker', 'run the queue workers only (split roles: needs DATABASE_URL)'),
    role('broker', 'run the embedded MQTT broker only (split roles: needs DATABASE_URL)'),
    new Command('migrate')
      .description('bring the database schema up to date and exit')
      .addHelpText('after', ENVIRONMENT)
      .action(() => migrate(io)),
  ];
}

/**
 * `smx start` on a machine that already runs an MQTT broker (Mosquitto on 1883 is common): when
 * the MQTT ports are not configured and the defaults are taken, serve on the next free ones
 * instead of failing. Phones learn the real port from the link response, so nothing else changes.
 */
async function pickFreeDefaultPorts(env: NodeJS.ProcessEnv): Promise<PortMove[]> {
  const { isListening } = await import('../local-redis.js');
  const moves: PortMove[] = [];
  for (const [variable, port] of [
    ['SMX_MQTT_PORT', 1883],
    ['SMX_MQTT_WS_PORT', 8083],
  ] as const) {
    if (env[variable] || env.SMX_MQTT_URL || !(await isListening('127.0.0.1', port))) continue;
    for (let candidate = port + 1; candidate < port + 50; candidate++) {
      if (!(await isListening('127.0.0.1', candidate))) {
        env[variable] = String(candidate);
        moves.push({ variable, taken: port, used: candidate });
        break;
      }
    }
  }
  return moves;
}

async function runRole(command: RoleName, io: CliIo): Promise<void> {
  const env = io.env as NodeJS.ProcessEnv;
  try {
    await import('reflect-metadata');
    const { ConfigError, loadConfig } = await import('../../core/config.js');
    const portMoves = command === 'start' || command === 'broker' ? await pickFreeDefaultPorts(env) : [];
    const config = loadConfig(env);
    if (command !== 'start' && !config.databaseUrl) {
      throw new ConfigError(
        'DATABASE_URL',
        `a PostgreSQL URL for "smx ${command}" (the embedded database serves one process; use "smx start")`,
        '',
      );
    }
    const { logFormat, prettyDestination } = await import('./log-format.js');
    const pretty = logFormat(env, io.isTTY === true) === 'pretty';
    // On the embedded database, while this process loads its modules: a fresh data folder is made
    // in a child process, and PGlite's WebAssembly compiles on another thread.
    const embedded = command === 'start' && !config.databaseUrl;
    const prepared = embedded
      ? (await import('./embedded-database.js')).prepareEmbeddedDatabase(config.dataDir, env)
      : Promise.resolve();
    prepared.catch(() => undefined);
    const preloaded = embedded ? (await import('../../core/db.js')).preloadPglite().catch(() => undefined) : undefined;
    const [{ startSmx }, prettyLogs] = await Promise.all([
      import('../compose.js'),
      pretty ? prettyDestination(config.logLevel === 'info') : undefined,
    ]);
    await Promise.all([prepared, preloaded]);
    const smx = await startSmx({
      config,
      roles: ROLES[command],
      migrate: command === 'start',
      startRedisIfMissing: command === 'start',
      logDestination: prettyLogs?.stream,
    });

    // Before anything says "serving": a signal from then on drains gracefully.
    handleSignals(smx);
    const generated = smx.generatedSecrets.find((s) => s.name === 'admin-token');
    const { startSummary } = await import('./start-summary.js');
    const summary = startSummary({
      version: version(),
      roles: ROLES[command],
      httpUrl: smx.http ? smx.endpoints.publicUrl : '',
      mqttUrl: smx.broker ? smx.endpoints.mqttUrl : '',
      mqttWsUrl: smx.broker ? smx.endpoints.mqttWsUrl : '',
      portMoves,
      databaseUrl: config.databaseUrl,
      databaseSchema: config.databaseSchema,
      dataDir: config.dataDir,
      redisUrl: config.redisUrl,
      adminToken: {
        generated: generated?.value,
        file: generated?.path ?? join(resolve(config.dataDir), 'admin-token'),
        fromEnv: config.adminToken !== undefined,
      },
      invocation: cliName(io),
      cwd: io.cwd ?? process.cwd(),
    });
    if (prettyLogs) {
      for (const line of summary) io.out(line);
      prettyLogs.started();
    } else {
      // JSON logs: the same facts as one entry; the generated admin token is still printed once.
      for (const move of portMoves)
        smx.logger.warn(`${move.variable} is unset and port ${move.taken} is in use: serving on ${move.used} instead`);
      smx.logger.info(
        {
          http: smx.http ? smx.endpoints.publicUrl : null,
          console: smx.http ? `${smx.endpoints.publicUrl}/console` : null,
          mqtt: smx.broker ? smx.endpoints.mqttUrl : null,
          mqttWs: smx.broker ? smx.endpoints.mqttWsUrl || null : null,
          data: config.databaseUrl ? 'postgresql' : resolve(config.dataDir, 'pglite'),
        },
        'SMX serving',
      );
      if (generated) io.out(`\nAdmin token (shown once, stored in ${generated.path}):\n  ${generated.value}\n`);
    }
  } catch (error) {
    throw startFailure(error, env);
  }
}

function handleSignals(smx: {
  logger: {
    warn: (o: object, m: string) => void;
    info: (o: object, m: string) => void;
    error: (o: object, m: string) => void;
  };
  close: () => Promise<void>;
}): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      smx.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    smx.logger.info({ signal }, 'shutting down: draining in-flight jobs');
    smx.close().then(
      () => process.exit(0),
      (error) => {
        smx.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal must reach the handler above. With `once` the handler is
  // gone after the first, Node restores the default action, and a second SIGTERM during the
  // drain killed the process without a word.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrate(io: CliIo): Promise<void> {
  try {
    const { loadConfig } = await import('../../core/config.js');
    const { createDatabase, migrateLatest } = await import('../../core/db.js');
    const config = loadConfig(io.env);
    const db = createDatabase({ url: config.databaseUrl, schema: config.databaseSchema, dataDir: config.dataDir });
    try {
      const applied = await migrateLatest(db, config.databaseSchema);
      io.out(applied.length ? `applied: ${applied.join(', ')}` : 'the schema is up to date');
    } finally {
      await db.destroy();
    }
  } catch (error) {
    throw startFailure(error);
  }
}

/**
 * Start-up failures a user can fix (a bad setting, Redis unreachable, a plugin) are one line
 * with their causes; anything else keeps its stack for the bug report.
 */
function startFailure(error: unknown, env: Record<string, string | undefined> = {}): Error {
  const e = error as Error & { code?: string; port?: number };
  if (e?.code === 'EADDRINUSE') {
    const ports: Record<string, string> = { SMX_HTTP_PORT: '8080', SMX_MQTT_PORT: '1883', SMX_MQTT_WS_PORT: '8083' };
    const variable =
      Object.keys(ports).find((v) => (env[v] || ports[v]) === String(e.port)) ??
      'SMX_HTTP_PORT, SMX_MQTT_PORT or SMX_MQTT_WS_PORT';
    return new Error(`port ${e.port} is in use by another program: set ${variable} to a free port (0 picks one)`);
  }
  const known =
    ['ConfigError', 'RedisUnreachableError', 'PluginError'].includes(e?.name) || /^[A-Z_]+: /.test(e?.message ?? '');
  let message = known ? e.message : `unexpected error: ${e?.stack ?? String(error)}`;
  // A plugin's own error is the useful part of "plugin x failed to set up".
  for (let cause = e?.cause; known && cause; cause = (cause as Error).cause)
    message += `: ${(cause as Error).message ?? String(cause)}`;
  return new Error(message);
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
