/**
 * The `smx` commands about devices (`smx link`, `smx device link`, `smx device run`), and the
 * command-line conventions every `smx` command shares (bin/smx.ts builds the whole program from
 * them): commander parses, so `--help`/`-h` prints the command's usage and does nothing else,
 * unknown options and commands suggest the closest one, and a bad value is a usage error.
 *
 * Exit codes: 0 done (or help shown), 1 the command failed (one line `error: ...`, never a stack
 * trace), 2 the command line is wrong. With the default `io` the code is also set on `process.exitCode`.
 */
import { realpathSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, type Option } from 'commander';
import { ApiError, apiUrl, callApi, isRecord } from './api-client.js';
import { deleteCredentials, loadCredentials, saveCredentials, sentIdsPathFor } from './credentials-file.js';
import { linkDevice, parseLinkPayload } from './link.js';
import type { ReferenceDevice } from './reference-device.js';
import { ReferenceDeviceError } from './reference-device-options.js';
import { SentIdStore } from './sent-ids.js';
import type { Sim } from './types.js';

const DEFAULT_SERVER = 'http://localhost:8080';
/** Where `smx start` keeps its data (and the generated admin token) unless SMX_DATA_DIR says otherwise. */
const DEFAULT_DATA_DIR = './var';
const APP_VERSION = '0.1.0';

/** Where a command writes, and what it reads from its environment; tests pass their own. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Folder that relative paths (`./var/...`) are resolved against. @defaultValue process.cwd() */
  cwd?: string;
  /** Ends `device run`; without it the command waits for SIGINT or SIGTERM. */
  signal?: AbortSignal;
  /** Receives the exit code; the default sets `process.exitCode`. */
  exit?: (code: number) => void;
  /** How the user runs smx, for the next commands the CLI suggests. @defaultValue 'npx smx' */
  invocation?: string;
  /** stdout is a terminal (progress bars, colours). @defaultValue false */
  isTTY?: boolean;
}

/** The process's own stdout, stderr and environment. */
export function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    exit: (code) => {
      if (code !== 0) process.exitCode = code;
    },
    invocation: smxInvocation(),
    isTTY: process.stdout.isTTY === true,
  };
}

/**
 * How to run smx again, as the commands it suggests print it: `smx` when this is a global
 * install (on PATH), else `npx smx`, which works from the project folder without installing.
 */
export function smxInvocation(script: string | undefined = process.argv[1], execPath = process.execPath): string {
  // npm's global prefix is the Node installation's own unless npm_config_prefix moves it.
  const prefixes = [dirname(dirname(execPath)), process.env.npm_config_prefix].filter((p): p is string => Boolean(p));
  try {
    const real = script === undefined ? '' : realpathSync(script);
    return prefixes.some((p) => real.startsWith(resolve(p, 'lib', 'node_modules') + sep)) ? 'smx' : 'npx smx';
  } catch {
    return 'npx smx';
  }
}

/** A wrong command line found after parsing (a conflict, a missing credential): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * The command ran and its answer is "no" (a wrong code, a batch that failed): exit 1. The message,
 * when there is one, is printed as the error line; an empty one prints nothing more.
 */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
}

/** The command's words after `smx` (`device link`). */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  if (names[0] === 'smx') names.shift();
  return names.join(' ');
}

/**
 * Gives `command` and all its subcommands the shared behaviour: output through `io`, errors
 * thrown instead of exiting (so {@link runCli} picks the exit code), suggestions for typos, and a
 * pointer to the command's own `--help` after a usage error.
 */
export function configureCli(command: Command, io: CliIo): Command {
  const lines = (text: string) => text.replace(/\n$/, '').split('\n');
  command
    .exitOverride()
    .configureOutput({ writeOut: (s) => lines(s).forEach((l) => io.out(l)), writeErr: (s) => lines(s).forEach((l) => io.err(l)), getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 })
    .helpOption('-h, --help', 'show this usage and exit (runs nothing)')
    .showSuggestionAfterError(true)
    .showHelpAfterError(`(${cliName(io)} ${commandPath(command)} --help shows how to use it)`.replace('  ', ' '));
  for (const sub of command.commands) configureCli(sub, io);
  return command;
}

/** Parses `argv` (the words after the program name) and runs the command; resolves with the exit code. */
export async function runCli(command: Command, argv: string[], io: CliIo): Promise<number> {
  let code = 0;
  try {
    await command.parseAsync(argv, { from: 'user' });
  } catch (err) {
    code = exitCodeOf(err, io);
  }
  io.exit?.(code);
  return code;
}

function exitCodeOf(err: unknown, io: CliIo): number {
  // Commander has printed its message already; help and --version end with 0.
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (!(err instanceof CommandFailure && err.message === '')) io.err(describe(err));
  return err instanceof UsageError ? 2 : 1;
}

/** The one line printed for a failed command: `error: [CODE: ]message`. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    // SMX codes (API and device) help; Node's own (ENOENT, ...) are noise here.
    const coded = err instanceof ApiError || err instanceof ReferenceDeviceError;
    return `error: ${coded ? `${err.code}: ` : ''}${err.message}`;
  }
  return `error: ${String(err)}`;
}

/** The prefix of a suggested command. */
export function cliName(io: CliIo): string {
  return io.invocation ?? 'npx smx';
}

/**
 * One line naming the command with its arguments and every option it takes (the main usage
 * lists these): `smx device link <qr-json-or-file> [--name <name>] [--sim <number>...]`.
 */
export function synopsis(command: Command): string {
  const args = command.registeredArguments.map((a) => {
    const name = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? `<${name}>` : `[${name}]`;
  });
  const options = command.options.filter((o) => !o.hidden && o.long !== '--help').map(optionWords);
  return ['smx', commandPath(command), ...args, ...options].filter(Boolean).join(' ');
}

function optionWords(option: Option): string {
  const value = option.flags.match(/[<[][^>\]]+[>\]]/)?.[0] ?? '';
  // An option that collects into an array may be given again.
  const repeats = option.variadic || option.parseArg === collect;
  return `[${option.long ?? option.short}${value ? ` ${value}` : ''}]${repeats ? '...' : ''}`;
}

/** The server the admin commands talk to: `--server`, else the environment `smx start` ran with. */
export function resolveServer(io: CliIo, flag: string | undefined): string {
  return flag ?? io.env.SMX_PUBLIC_URL ?? (io.env.SMX_HTTP_PORT ? `http://localhost:${io.env.SMX_HTTP_PORT}` : DEFAULT_SERVER);
}

/** The data folder of the local `smx start` (SMX_DATA_DIR, default ./var), resolved against `io.cwd`. */
export function dataDir(io: CliIo): string {
  return resolve(io.cwd ?? process.cwd(), io.env.SMX_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/** `--admin-token`, else SMX_ADMIN_TOKEN, else the token `smx start` generated under SMX_DATA_DIR. */
export async function resolveAdminToken(io: CliIo, flag: string | undefined): Promise<string> {
  const file = join(io.env.SMX_DATA_DIR ?? DEFAULT_DATA_DIR, 'admin-token');
  const token = flag ?? io.env.SMX_ADMIN_TOKEN ?? (await readTrimmed(resolve(io.cwd ?? process.cwd(), file)));
  if (token === undefined || token.length === 0) {
    throw new UsageError(`No admin token: pass --admin-token, set SMX_ADMIN_TOKEN or run where ${file} exists (SMX_DATA_DIR)`);
  }
  return token;
}

const SERVER_HELP = 'SMX base URL (default: SMX_PUBLIC_URL, else http://localhost:$SMX_HTTP_PORT, else http://localhost:8080)';
const ADMIN_TOKEN_HELP = 'admin token (default: SMX_ADMIN_TOKEN, else the file admin-token in SMX_DATA_DIR, default ./var)';

/** Adds `--server` and `--admin-token`, the options of every command that calls the admin API. */
export function withServerOptions(command: Command): Command {
  return command.option('--server <url>', SERVER_HELP).option('--admin-token <token>', ADMIN_TOKEN_HELP);
}

/** `smx link <projectId>`: creates a link token and shows its QR code in the terminal. */
export function linkCommand(io: CliIo): Command {
  return withServerOptions(
    new Command('link')
      .description('create a link token for a project and print its QR code in the terminal, for a phone to scan')
      .argument('<projectId>', 'the project to link a phone to (prj_...)'),
  ).action(async (projectId: string, options: { server?: string; adminToken?: string }) => {
    const server = resolveServer(io, options.server);
    const token = await resolveAdminToken(io, options.adminToken);
    const data = await callApi<unknown>(apiUrl(server, `/admin/projects/${encodeURIComponent(projectId)}/link-tokens`), {
      method: 'POST',
      body: {},
      headers: { authorization: `Bearer ${token}` },
    });
    const qr = isRecord(data) && isRecord(data.qr) ? data.qr : undefined;
    if (qr === undefined || typeof qr.payload !== 'string') throw new ApiError('BAD_RESPONSE', 'The server answered without qr.payload');
    const expiresAt = isRecord(data) && typeof data.expiresAt === 'string' ? data.expiresAt : 'in 10 minutes';
    // The MQTT client and the QR encoder load only for the commands that use them: help stays fast.
    const { renderTerminalQr } = await import('./terminal-qr.js');
    io.out(await renderTerminalQr(qr.payload));
    io.out(qr.payload);
    io.out(`Single use, expires ${expiresAt}. Scan it with the phone, or: ${cliName(io)} device link '${qr.payload}'`);
  });
}

/** `smx device`: `link` and `run`, the reference device (a real MQTT client speaking the device protocol). */
export function deviceCommand(io: CliIo): Command {
  const device = new Command('device').description('the reference device: link this machine as a project\'s phone, then run it');
  device.addCommand(deviceLink(io));
  device.addCommand(deviceRun(io));
  return device;
}

/** Value parser of an option that may be given again (`--sim A --sim B`). */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function deviceLink(io: CliIo): Command {
  return new Command('link')
    .description('link this machine as a device with the QR code\'s payload, and save its credentials (the secret is never printed)')
    .argument('<qr-json-or-file>', 'the QR code\'s JSON payload ({"v":1,"server":...,"token":...}), or a file holding it')
    .option('--name <name>', 'the device\'s name (default: "SMX reference device (<hostname>)")')
    .option('--out <path>', 'where to save the credentials (default: $SMX_DATA_DIR/device.json, SMX_DATA_DIR default ./var)')
    .option('--model <model>', 'model reported to the server', 'smx-reference')
    .option('--app-version <version>', 'app version reported to the server', APP_VERSION)
    .option('--sim <number>', 'a SIM\'s number in E.164, once per SIM (slot 0, 1, ...)', collect)
    .option('--rentable', 'mark the SIMs rentable (the project\'s number pool)')
    .action(async (input: string, options: { name?: string; out?: string; model: string; appVersion: string; sim?: string[]; rentable?: boolean }) => {
      const payload = parseLinkPayload(await readLinkInput(input, io));
      const out = options.out ?? defaultCredentialsPath(io);
      const outPath = resolve(io.cwd ?? process.cwd(), out);
      const name = options.name ?? `SMX reference device (${hostname()})`;
      const sims: Sim[] = (options.sim ?? []).map((number, slot) => ({ slot, number, carrier: null, rentable: options.rentable ?? false }));

      const result = await linkDevice({ server: payload.server, token: payload.token, name, model: options.model, appVersion: options.appVersion, sims });
      await saveCredentials({ ...result, server: payload.server, name, appVersion: options.appVersion, sims, linkedAt: new Date().toISOString() }, outPath);
      // A fresh link is a fresh device: ids remembered for a previous one no longer apply.
      await rm(sentIdsPathFor(outPath), { force: true });

      io.out(`Linked device ${result.deviceId} to project ${result.projectId}.`);
      io.out(`Credentials saved to ${out} (mode 0600: it holds the device secret).`);
      io.out(`MQTT ${result.mqtt.url} (WebSocket ${result.mqtt.wsUrl}), user ${result.mqtt.username}`);
      io.out('Topics:');
      for (const [channel, topic] of Object.entries(result.topics)) io.out(`  ${channel.padEnd(9)}${topic}`);
      io.out(`Run it: ${cliName(io)} device run${options.out === undefined ? '' : ` --credentials ${out}`}`);
    });
}

function deviceRun(io: CliIo): Command {
  return new Command('run')
    .description('run the linked device until Ctrl-C: print each SMS it "sends" and each status it reports')
    .option('--credentials <path>', 'the credentials `device link` saved (default: $SMX_DATA_DIR/device.json, SMX_DATA_DIR default ./var)')
    .option('--ws', 'connect over MQTT-over-WebSocket instead of TCP')
    .option('--url <url>', 'broker URL to use instead of the one the link answer gave')
    .option('--no-sent', 'do not report "sent"')
    .option('--no-delivered', 'do not report "delivered"')
    .option('--delivered-delay <ms>', 'wait this long between "sent" and "delivered"', wholeNumber('--delivered-delay takes a whole number of milliseconds'), 1000)
    .option('--fail <code>', 'report every message failed with this error code (e.g. RADIO_OFF)', errorCode)
    .action(async (options: { credentials?: string; ws?: boolean; url?: string; sent: boolean; delivered: boolean; deliveredDelay: number; fail?: string }) => {
      const path = resolve(io.cwd ?? process.cwd(), options.credentials ?? defaultCredentialsPath(io));
      const credentials = await loadCredentials(path);
      const sentIds = await SentIdStore.open({ file: sentIdsPathFor(path) });
      const { ReferenceDevice } = await import('./reference-device.js');
      const device = new ReferenceDevice({
        credentials,
        transport: options.ws ? 'ws' : 'tcp',
        url: options.url,
        report: { sent: options.sent, delivered: options.delivered, deliveredDelayMs: options.deliveredDelay, failWith: options.fail },
        sentIds,
        appVersion: credentials.appVersion,
        sims: credentials.sims,
        // This is the phone's own screen: showing the SMS body is its job.
        onSend: (message) => io.out(`→ ${message.to} : ${message.body}`),
        onUnlinked: async () => {
          await deleteCredentials(path);
          await rm(sentIdsPathFor(path), { force: true });
        },
        log: (line) => io.err(`[device] ${line}`),
      });
      device.on('status', (updates) => {
        for (const u of updates) io.out(`← ${u.id} ${u.state}${u.error === undefined ? '' : ` ${u.error}`}`);
      });
      await runUntilStopped(device, io);
    });
}

async function runUntilStopped(device: ReferenceDevice, io: CliIo): Promise<void> {
  const stopRequested = untilStopSignal(io.signal);
  const ended = new Promise<'signal' | 'unlinked' | Error>((resolve) => {
    device.once('unlinked', () => resolve('unlinked'));
    device.once('error', (err) => resolve(err));
    void stopRequested.promise.then(() => resolve('signal'));
  });
  try {
    io.out(`Device ${device.deviceId} starting (Ctrl-C to stop).`);
    // Ctrl-C while the broker is still unreachable must end the command too.
    await Promise.race([device.start(), ended]);
    const reason = await ended;
    await device.stop();
    if (reason instanceof Error) throw reason;
    if (reason === 'unlinked') io.out(`Device ${device.deviceId} was unlinked by the server; credentials deleted.`);
    else io.out(`Device ${device.deviceId} stopped.`);
  } finally {
    stopRequested.dispose();
    await device.stop();
  }
}

/** `smx link` on its own (tests, embedding): `argv` is what follows `link`. */
export function linkQrCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCli(configureCli(linkCommand(io), io), argv, io);
}

/** `smx device link` on its own: `argv` is what follows `device link`. */
export function deviceLinkCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCli(configureCli(deviceCommand(io), io), ['link', ...argv], io);
}

/** `smx device run` on its own; ends on SIGINT/SIGTERM or `io.signal`. */
export function deviceRunCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCli(configureCli(deviceCommand(io), io), ['run', ...argv], io);
}

const QUIET: CliIo = { out: () => undefined, err: () => undefined, env: {} };
export const DEVICE_LINK_USAGE = synopsis(deviceCommand(QUIET).commands[0]!);
export const DEVICE_RUN_USAGE = synopsis(deviceCommand(QUIET).commands[1]!);
export const LINK_QR_USAGE = synopsis(linkCommand(QUIET));

/** A commander value parser: a whole number from 0 up. */
export function wholeNumber(message: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(message);
    return Number(value);
  };
}

function errorCode(value: string): string {
  if (!/^[A-Z][A-Z0-9_]*$/.test(value)) throw new InvalidArgumentError('--fail takes an error code such as RADIO_OFF');
  return value;
}

/** `$SMX_DATA_DIR/device.json`: the device of the quick start lives beside the server's data. */
function defaultCredentialsPath(io: CliIo): string {
  return join(io.env.SMX_DATA_DIR ?? DEFAULT_DATA_DIR, 'device.json');
}

/** The CLI argument is the QR JSON itself, or a path to a file holding it. */
async function readLinkInput(input: string, io: CliIo): Promise<string> {
  if (input.trim().startsWith('{')) return input;
  try {
    return await readFile(resolve(io.cwd ?? process.cwd(), input), 'utf8');
  } catch (err) {
    throw new Error(`${input} is neither the QR JSON nor a readable file`, { cause: err });
  }
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Resolves on `signal` abort, or on SIGINT/SIGTERM; `dispose` removes the process handlers again. */
function untilStopSignal(signal: AbortSignal | undefined): { promise: Promise<void>; dispose: () => void } {
  if (signal !== undefined) {
    const promise = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return { promise, dispose: () => undefined };
  }
  let onSignal: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    onSignal = () => resolve();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
