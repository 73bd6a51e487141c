#!/usr/bin/env node
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../core/config.js';
import { createDatabase, migrateLatest } from '../core/db.js';
import { RedisUnreachableError } from '../core/redis.js';
import { deviceLinkCommand, deviceRunCommand, linkQrCommand } from '../device/cli.js';
import { startSmx, type Roles, type Smx } from './compose.js';
import { isListening } from './local-redis.js';

const USAGE = `smx — self-hosted OTP and SMS over your Android phones

usage:
  smx start                    API, broker and workers in one process (embedded defaults)
  smx api | worker | broker    one role per process (needs DATABASE_URL: a shared PostgreSQL)
  smx migrate                  bring the database schema up to date and exit
  smx link <projectId>         print a link QR code for a project in the terminal
  smx device link <qr-json-or-file> [--name N] [--out path]
  smx device run [--credentials path] [--ws] [--no-delivered] [--fail CODE]
  smx --version | --help

Configuration is read from the environment; see README.md ("Configuration").`;

const ROLES: Record<string, Roles> = {
  start: { api: true, worker: true, broker: true },
  api: { api: true, worker: false, broker: false },
  worker: { api: false, worker: true, broker: false },
  broker: { api: false, worker: false, broker: true },
};

/** Start-up failures a user can fix print as one line, without a stack trace. */
function fail(error: unknown): never {
  const known = error instanceof ConfigError || error instanceof RedisUnreachableError || (error as Error)?.name === 'PluginError' || /^[A-Z_]+: /.test((error as Error)?.message ?? '');
  let message = known ? (error as Error).message : `unexpected error: ${(error as Error)?.stack ?? String(error)}`;
  // A plugin's own error is the useful part of "plugin x failed to set up".
  for (let cause = (error as Error)?.cause; known && cause; cause = (cause as Error).cause) message += `: ${(cause as Error).message ?? String(cause)}`;
  process.stderr.write(`smx: ${message}\n`);
  process.exit(1);
}

/**
 * `smx start` on a machine that already runs an MQTT broker (Mosquitto on 1883 is common): when
 * the MQTT ports are not configured and the defaults are taken, serve on the next free ones
 * instead of failing. Phones learn the real port from the link response, so nothing else changes.
 */
async function pickFreeDefaultPorts(env: NodeJS.ProcessEnv): Promise<string[]> {
  const notes: string[] = [];
  for (const [name, port] of [['SMX_MQTT_PORT', 1883], ['SMX_MQTT_WS_PORT', 8083]] as const) {
    if (env[name] || env.SMX_MQTT_URL || !(await isListening('127.0.0.1', port))) continue;
    for (let candidate = port + 1; candidate < port + 50; candidate++) {
      if (!(await isListening('127.0.0.1', candidate))) {
        env[name] = String(candidate);
        notes.push(`${name} is unset and port ${port} is in use: serving on ${candidate} instead`);
        break;
      }
    }
  }
  return notes;
}

async function runRole(command: string): Promise<void> {
  const portNotes = command === 'start' || command === 'broker' ? await pickFreeDefaultPorts(process.env) : [];
  const config = loadConfig();
  if (command !== 'start' && !config.databaseUrl) {
    throw new ConfigError('DATABASE_URL', `a PostgreSQL URL for "smx ${command}" (the embedded database serves one process; use "smx start")`, '');
  }
  const smx: Smx = await startSmx({ config, roles: ROLES[command]!, migrate: command === 'start', startRedisIfMissing: command === 'start' });
  for (const note of portNotes) smx.logger.warn(note);
  for (const secret of smx.generatedSecrets) {
    if (secret.name === 'admin-token') {
      process.stdout.write(`\nAdmin token (shown once, stored in ${secret.path}):\n  ${secret.value}\n\n`);
    }
  }
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
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  const db = createDatabase({ url: config.databaseUrl, schema: config.databaseSchema, dataDir: config.dataDir });
  try {
    const applied = await migrateLatest(db, config.databaseSchema);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'the schema is up to date\n');
  } finally {
    await db.destroy();
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
    case 'api':
    case 'worker':
    case 'broker':
      return runRole(command);
    case 'migrate':
      return migrate();
    case 'link':
      await linkQrCommand(rest);
      return;
    case 'device':
      if (rest[0] === 'link') return void (await deviceLinkCommand(rest.slice(1)));
      if (rest[0] === 'run') return void (await deviceRunCommand(rest.slice(1)));
      process.stderr.write(`${USAGE}\n`);
      process.exit(2);
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`smx: unknown command "${command}"\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch(fail);
