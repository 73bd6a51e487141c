/**
 * The command-line conventions every `smx` command shares (bin/cli/program.ts builds the program,
 * device/cli.ts the device commands, with them): commander parses, so `--help`/`-h` prints the
 * command's usage and does nothing else, unknown options and commands suggest the closest one,
 * and a bad value is a usage error; output goes through a {@link CliIo} that tests replace.
 *
 * Exit codes: 0 done (or help shown), 1 the command failed (one line `error: ...`, never a stack
 * trace), 2 the command line is wrong. With the default `io` the code is also set on `process.exitCode`.
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, type Option } from 'commander';
import { ApiError, ReferenceDeviceError } from '../../device/index.js';

const DEFAULT_SERVER = 'http://localhost:8080';
/** Where `smx start` keeps its data (and the generated admin token) unless SMX_DATA_DIR says otherwise. */
export const DEFAULT_DATA_DIR = './var';

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
    .configureOutput({
      writeOut: (s) => lines(s).forEach((l) => io.out(l)),
      writeErr: (s) => lines(s).forEach((l) => io.err(l)),
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
    })
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
  const repeats = option.variadic || option.parseArg === repeatable;
  return `[${option.long ?? option.short}${value ? ` ${value}` : ''}]${repeats ? '...' : ''}`;
}

/** The server the admin commands talk to: `--server`, else the environment `smx start` ran with. */
export function resolveServer(io: CliIo, flag: string | undefined): string {
  return (
    flag ??
    io.env.SMX_PUBLIC_URL ??
    (io.env.SMX_HTTP_PORT ? `http://localhost:${io.env.SMX_HTTP_PORT}` : DEFAULT_SERVER)
  );
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
    throw new UsageError(
      `No admin token: pass --admin-token, set SMX_ADMIN_TOKEN or run where ${file} exists (SMX_DATA_DIR)`,
    );
  }
  return token;
}

const SERVER_HELP =
  'SMX base URL (default: SMX_PUBLIC_URL, else http://localhost:$SMX_HTTP_PORT, else http://localhost:8080)';
const ADMIN_TOKEN_HELP =
  'admin token (default: SMX_ADMIN_TOKEN, else the file admin-token in SMX_DATA_DIR, default ./var)';

/** Adds `--server` and `--admin-token`, the options of every command that calls the admin API. */
export function withServerOptions(command: Command): Command {
  return command.option('--server <url>', SERVER_HELP).option('--admin-token <token>', ADMIN_TOKEN_HELP);
}

/** A commander value parser: a whole number from 0 up. */
export function wholeNumber(message: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(message);
    return Number(value);
  };
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Value parser of an option that may be given again (`--sim A --sim B`); the main usage marks it `...`. */
export const repeatable = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
