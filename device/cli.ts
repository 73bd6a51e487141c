/**
 * The `smx` commands about devices; bin/smx.ts parses the command name and hands the rest of argv
 * here. Each command resolves to its exit code: 0, or 1 after printing one line `error: ...`
 * (never a stack trace). With the default `io` the code is also set on `process.exitCode`.
 */
import { readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError, apiUrl, callApi, isRecord } from './api-client.js';
import { DEFAULT_CREDENTIALS_PATH, deleteCredentials, loadCredentials, saveCredentials, sentIdsPathFor } from './credentials-file.js';
import { linkDevice, parseLinkPayload } from './link.js';
import { ReferenceDevice } from './reference-device.js';
import { ReferenceDeviceError } from './reference-device-options.js';
import { SentIdStore } from './sent-ids.js';
import { renderTerminalQr } from './terminal-qr.js';
import type { Sim } from './types.js';

export const DEVICE_LINK_USAGE =
  'smx device link <qr-json-or-file> [--name N] [--out path] [--model M] [--app-version V] [--sim +E164]... [--rentable]';
export const DEVICE_RUN_USAGE =
  'smx device run [--credentials path] [--ws] [--url URL] [--no-sent] [--no-delivered] [--delivered-delay MS] [--fail CODE]';
export const LINK_QR_USAGE = 'smx link <projectId> [--server URL] [--admin-token T]';

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
  };
}

/** `smx device link`: links this machine as a device and saves its credentials (the secret is never printed). */
export function deviceLinkCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        out: { type: 'string' },
        model: { type: 'string' },
        'app-version': { type: 'string' },
        sim: { type: 'string', multiple: true },
        rentable: { type: 'boolean' },
      },
    });
    const input = positionals[0];
    if (input === undefined || positionals.length > 1) throw new UsageError(DEVICE_LINK_USAGE);
    const payload = parseLinkPayload(await readLinkInput(input, io));
    const out = values.out ?? DEFAULT_CREDENTIALS_PATH;
    const outPath = resolve(io.cwd ?? process.cwd(), out);
    const name = values.name ?? `SMX reference device (${hostname()})`;
    const appVersion = values['app-version'] ?? APP_VERSION;
    const sims: Sim[] = (values.sim ?? []).map((number, slot) => ({ slot, number, carrier: null, rentable: values.rentable ?? false }));

    const result = await linkDevice({ server: payload.server, token: payload.token, name, model: values.model ?? 'smx-reference', appVersion, sims });
    await saveCredentials({ ...result, server: payload.server, name, appVersion, sims, linkedAt: new Date().toISOString() }, outPath);
    // A fresh link is a fresh device: ids remembered for a previous one no longer apply.
    await rm(sentIdsPathFor(outPath), { force: true });

    io.out(`Linked device ${result.deviceId} to project ${result.projectId}.`);
    io.out(`Credentials saved to ${out} (mode 0600: it holds the device secret).`);
    io.out(`MQTT ${result.mqtt.url} (WebSocket ${result.mqtt.wsUrl}), user ${result.mqtt.username}`);
    io.out('Topics:');
    for (const [channel, topic] of Object.entries(result.topics)) io.out(`  ${channel.padEnd(9)}${topic}`);
    io.out(`Run it: smx device run${out === DEFAULT_CREDENTIALS_PATH ? '' : ` --credentials ${out}`}`);
  });
}

/** `smx device run`: runs the reference device until SIGINT/SIGTERM (or `io.signal`), printing what it sends and reports. */
export function deviceRunCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        credentials: { type: 'string' },
        ws: { type: 'boolean' },
        url: { type: 'string' },
        // Node 20's parseArgs has no allowNegative, so the negations are options of their own.
        'no-sent': { type: 'boolean' },
        'no-delivered': { type: 'boolean' },
        'delivered-delay': { type: 'string' },
        fail: { type: 'string' },
      },
    });
    if (positionals.length > 0) throw new UsageError(DEVICE_RUN_USAGE);
    const path = resolve(io.cwd ?? process.cwd(), values.credentials ?? DEFAULT_CREDENTIALS_PATH);
    const deliveredDelayMs = Number(values['delivered-delay'] ?? 1000);
    if (!Number.isInteger(deliveredDelayMs) || deliveredDelayMs < 0) throw new UsageError('--delivered-delay must be a whole number of milliseconds');
    if (values.fail !== undefined && !/^[A-Z][A-Z0-9_]*$/.test(values.fail)) throw new UsageError('--fail takes an error code such as RADIO_OFF');

    const credentials = await loadCredentials(path);
    const sentIds = await SentIdStore.open({ file: sentIdsPathFor(path) });
    const device = new ReferenceDevice({
      credentials,
      transport: values.ws ? 'ws' : 'tcp',
      url: values.url,
      report: { sent: !values['no-sent'], delivered: !values['no-delivered'], deliveredDelayMs, failWith: values.fail },
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
  });
}

/** `smx link`: creates a link token for a project and shows its QR code in the terminal. */
export function linkQrCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { server: { type: 'string' }, 'admin-token': { type: 'string' } },
    });
    const projectId = positionals[0];
    if (projectId === undefined || positionals.length > 1) throw new UsageError(LINK_QR_USAGE);
    // The same environment as `smx start` finds the same server and admin token.
    const server = values.server ?? io.env.SMX_PUBLIC_URL ?? (io.env.SMX_HTTP_PORT ? `http://localhost:${io.env.SMX_HTTP_PORT}` : DEFAULT_SERVER);
    const tokenFile = join(io.env.SMX_DATA_DIR ?? DEFAULT_DATA_DIR, 'admin-token');
    const token = values['admin-token'] ?? io.env.SMX_ADMIN_TOKEN ?? (await readAdminTokenFile(io, tokenFile));
    if (token === undefined || token.length === 0) {
      throw new UsageError(`No admin token: pass --admin-token, set SMX_ADMIN_TOKEN or run where ${tokenFile} exists (SMX_DATA_DIR)`);
    }
    const data = await callApi<unknown>(apiUrl(server, `/admin/projects/${encodeURIComponent(projectId)}/link-tokens`), {
      method: 'POST',
      body: {},
      headers: { authorization: `Bearer ${token}` },
    });
    const qr = isRecord(data) && isRecord(data.qr) ? data.qr : undefined;
    if (qr === undefined || typeof qr.payload !== 'string') throw new ApiError('BAD_RESPONSE', 'The server answered without qr.payload');
    const expiresAt = isRecord(data) && typeof data.expiresAt === 'string' ? data.expiresAt : 'in 10 minutes';

    io.out(await renderTerminalQr(qr.payload));
    io.out(qr.payload);
    io.out(`Single use, expires ${expiresAt}. Scan it with the phone, or: smx device link '${qr.payload}'`);
  });
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function runCommand(io: CliIo, body: () => Promise<void>): Promise<number> {
  let code = 0;
  try {
    await body();
  } catch (err) {
    io.err(describe(err));
    code = 1;
  }
  io.exit?.(code);
  return code;
}

/** The one line printed for a failed command: `usage: ...` or `error: [CODE: ]message`. */
function describe(err: unknown): string {
  if (err instanceof UsageError && err.message.startsWith('smx ')) return `usage: ${err.message}`;
  if (err instanceof Error) {
    // SMX codes (API and device) help; Node's own (ERR_PARSE_ARGS_..., ENOENT) are noise here.
    const coded = err instanceof ApiError || err instanceof ReferenceDeviceError;
    return `error: ${coded ? `${err.code}: ` : ''}${err.message}`;
  }
  return `error: ${String(err)}`;
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

async function readAdminTokenFile(io: CliIo, file: string): Promise<string | undefined> {
  try {
    return (await readFile(resolve(io.cwd ?? process.cwd(), file), 'utf8')).trim();
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
