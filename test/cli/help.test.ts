/**
 * `--help` and `-h` on every command and subcommand of the real CLI: the command's own usage on
 * stdout, exit 0, and nothing done (no data folder, no request to a server, no port). The main
 * usage lists every command with every option it takes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Command } from 'commander';
import { commandPath, synopsis, type CliIo } from '../../bin/cli/conventions.js';
import { buildProgram, leafCommands } from '../../bin/cli/program.js';
import { SMX_BIN } from '../helpers/processes.js';

const QUIET: CliIo = { out: () => undefined, err: () => undefined, env: {} };

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let dataDir: string;
let trap: Server;
let trapUrl: string;
const requests: string[] = [];

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'smx-help-'));
  // Any command that did its work would call this server (admin and send commands) or fill the data folder (server commands).
  trap = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
  trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  await new Promise((resolve) => trap.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

/** At most 4 CLI processes at once (the machine has 2 cores and other test files run too). */
let running = 0;
const waiting: Array<() => void> = [];
async function smx(args: string[]): Promise<Run> {
  if (running >= 4) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await spawnSmx(args);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function spawnSmx(args: string[]): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [SMX_BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      SMX_DATA_DIR: join(dataDir, 'var'),
      SMX_PUBLIC_URL: trapUrl,
      SMX_ADMIN_TOKEN: 'help-test-admin-token',
      SMX_API_KEY: 'smx_help',
      SMX_HTTP_PORT: '0',
      SMX_MQTT_PORT: '0',
      SMX_MQTT_WS_PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })),
  );
}

const program = buildProgram(QUIET);
const commands = allCommands(program).filter((c) => c !== program && c.name() !== 'help');

test('every command is covered', (t) => {
  const paths = commands.map(commandPath);
  for (const expected of [
    'start',
    'api',
    'worker',
    'broker',
    'migrate',
    'link',
    'device',
    'device link',
    'device run',
    'projects create',
    'projects list',
    'keys create',
    'keys revoke',
    'devices list',
    'devices unlink',
    'send-otp',
    'verify',
    'send',
  ]) {
    t.true(paths.includes(expected), expected);
  }
});

for (const command of commands) {
  const path = commandPath(command);
  test(`smx ${path} --help / -h: its own usage, exit 0, nothing done`, async (t) => {
    for (const flag of ['--help', '-h']) {
      // Arguments before the flag must not make a command run either.
      const args = [...path.split(' '), ...command.registeredArguments.filter((a) => a.required).map(() => 'x'), flag];
      const run = await smx(args);
      t.is(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      t.is(run.stderr, '', args.join(' '));
      t.true(run.stdout.startsWith(`Usage: smx ${path} `), run.stdout);
      t.regex(run.stdout, /-h, --help +show this usage and exit \(runs nothing\)/);
      for (const option of command.options)
        t.true(run.stdout.includes(option.long!), `${path}: ${option.long} in its help`);
    }
    t.deepEqual(requests, [], 'no request reached a server');
    t.deepEqual(await readdir(dataDir), [], 'no data folder was made');
  });
}

test('the main usage (smx, smx --help, smx help) lists every command with every option it takes', async (t) => {
  const runs = await Promise.all([smx([]), smx(['--help']), smx(['-h']), smx(['help'])]);
  for (const run of runs) {
    t.is(run.code, 0);
    t.is(run.stdout, runs[0]!.stdout);
  }
  const usage = runs[0]!.stdout.replace(/\s+/g, ' ');
  for (const leaf of leafCommands(program)) {
    const line = synopsis(leaf);
    t.true(usage.includes(line), `main usage has: ${line}`);
    for (const option of leaf.options)
      t.true(line.includes(option.long!) || option.long === '--help', `${line} has ${option.long}`);
  }
  // The ones the old usage left out (issue 15).
  for (const words of [
    'smx link <projectId> [--server <url>] [--admin-token <token>]',
    '[--model <model>] [--app-version <version>] [--sim <number>]... [--rentable]',
    '[--url <url>] [--no-sent] [--no-delivered] [--delivered-delay <ms>]',
  ]) {
    t.true(usage.includes(words), words);
  }
  t.regex(runs[0]!.stdout, /^smx \d+\.\d+\.\d+: /);
  t.deepEqual(requests, []);
});

test("smx help <command> is that command's --help; --version prints the version", async (t) => {
  const [help, flag, version] = await Promise.all([smx(['help', 'send']), smx(['send', '--help']), smx(['--version'])]);
  t.is(help.code, 0);
  t.is(help.stdout, flag.stdout);
  t.regex(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('a group without its subcommand shows its usage and exits 2', async (t) => {
  const run = await smx(['device']);
  t.is(run.code, 2);
  t.regex(run.stderr, /^Usage: smx device \[options\] \[command\]/);
  t.regex(run.stderr, /link \[options\] <qr-json-or-file>/);
});
