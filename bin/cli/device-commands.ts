/**
 * The `smx` commands about devices: `smx link` (a link QR code in the terminal), `smx device link`
 * and `smx device run` (the reference device). bin/cli/program.ts adds them to the program; each
 * also runs on its own with a {@link CliIo} (tests, embedding). Conventions: bin/cli/conventions.ts.
 */
import { readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import {
  cliName,
  configureCli,
  DEFAULT_DATA_DIR,
  processIo,
  repeatable,
  resolveAdminToken,
  resolveServer,
  runCli,
  synopsis,
  wholeNumber,
  withServerOptions,
  type CliIo,
} from './conventions.js';
import {
  ApiError,
  apiUrl,
  callApi,
  isRecord,
  deleteCredentials,
  loadCredentials,
  saveCredentials,
  sentIdsPathFor,
  linkDevice,
  parseLinkPayload,
  type ReferenceDevice,
  SentIdStore,
} from '../../device/index.js';
import type { Sim } from '../../protocol/index.js';

export { processIo, type CliIo };

const APP_VERSION = '0.1.0';

/** `smx link <projectId>`: creates a link token and shows its QR code in the terminal. */
export function linkCommand(io: CliIo): Command {
  return withServerOptions(
    new Command('link')
      .description('create a link token for a project and print its QR code in the terminal, for a phone to scan')
      .argument('<projectId>', 'the project to link a phone to (prj_...)'),
  ).action(async (projectId: string, options: { server?: string; adminToken?: string }) => {
    const server = resolveServer(io, options.server);
    const token = await resolveAdminToken(io, options.adminToken);
    const data = await callApi<unknown>(
      apiUrl(server, `/admin/projects/${encodeURIComponent(projectId)}/link-tokens`),
      {
        method: 'POST',
        body: {},
        headers: { authorization: `Bearer ${token}` },
      },
    );
    const qr = isRecord(data) && isRecord(data.qr) ? data.qr : undefined;
    if (qr === undefined || typeof qr.payload !== 'string')
      throw new ApiError('BAD_RESPONSE', 'The server answered without qr.payload');
    const expiresAt = isRecord(data) && typeof data.expiresAt === 'string' ? data.expiresAt : 'in 10 minutes';
    // The MQTT client and the QR encoder load only for the commands that use them: help stays fast.
    const { renderTerminalQr } = await import('../../device/terminal-qr.js');
    io.out(await renderTerminalQr(qr.payload));
    io.out(qr.payload);
    io.out(`Single use, expires ${expiresAt}. Scan it with the phone, or: ${cliName(io)} device link '${qr.payload}'`);
  });
}

/** `smx device`: `link` and `run`, the reference device (a real MQTT client speaking the device protocol). */
export function deviceCommand(io: CliIo): Command {
  const device = new Command('device').description(
    "the reference device: link this machine as a project's phone, then run it",
  );
  device.addCommand(deviceLink(io));
  device.addCommand(deviceRun(io));
  return device;
}

function deviceLink(io: CliIo): Command {
  return new Command('link')
    .description(
      "link this machine as a device with the QR code's payload, and save its credentials (the secret is never printed)",
    )
    .argument(
      '<qr-json-or-file>',
      'the QR code\'s JSON payload ({"v":1,"server":...,"token":...}), or a file holding it',
    )
    .option('--name <name>', 'the device\'s name (default: "SMX reference device (<hostname>)")')
    .option(
      '--out <path>',
      'where to save the credentials (default: $SMX_DATA_DIR/device.json, SMX_DATA_DIR default ./var)',
    )
    .option('--model <model>', 'model reported to the server', 'smx-reference')
    .option('--app-version <version>', 'app version reported to the server', APP_VERSION)
    .option('--sim <number>', "a SIM's number in E.164, once per SIM (slot 0, 1, ...)", repeatable)
    .option('--rentable', "mark the SIMs rentable (the project's number pool)")
    .action(
      async (
        input: string,
        options: { name?: string; out?: string; model: string; appVersion: string; sim?: string[]; rentable?: boolean },
      ) => {
        const payload = parseLinkPayload(await readLinkInput(input, io));
        const out = options.out ?? defaultCredentialsPath(io);
        const outPath = resolve(io.cwd ?? process.cwd(), out);
        const name = options.name ?? `SMX reference device (${hostname()})`;
        const sims: Sim[] = (options.sim ?? []).map((number, slot) => ({
          slot,
          number,
          carrier: null,
          rentable: options.rentable ?? false,
        }));

        const result = await linkDevice({
          server: payload.server,
          token: payload.token,
          name,
          model: options.model,
          appVersion: options.appVersion,
          sims,
        });
        await saveCredentials(
          {
            ...result,
            server: payload.server,
            name,
            appVersion: options.appVersion,
            sims,
            linkedAt: new Date().toISOString(),
          },
          outPath,
        );
        // A fresh link is a fresh device: ids remembered for a previous one no longer apply.
        await rm(sentIdsPathFor(outPath), { force: true });

        io.out(`Linked device ${result.deviceId} to project ${result.projectId}.`);
        io.out(`Credentials saved to ${out} (mode 0600: it holds the device secret).`);
        io.out(`MQTT ${result.mqtt.url} (WebSocket ${result.mqtt.wsUrl}), user ${result.mqtt.username}`);
        io.out('Topics:');
        for (const [channel, topic] of Object.entries(result.topics)) io.out(`  ${channel.padEnd(9)}${topic}`);
        io.out(`Run it: ${cliName(io)} device run${options.out === undefined ? '' : ` --credentials ${out}`}`);
      },
    );
}

function deviceRun(io: CliIo): Command {
  return new Command('run')
    .description('run the linked device until Ctrl-C: print each SMS it "sends" and each status it reports')
    .option(
      '--credentials <path>',
      'the credentials `device link` saved (default: $SMX_DATA_DIR/device.json, SMX_DATA_DIR default ./var)',
    )
    .option('--ws', 'connect over MQTT-over-WebSocket instead of TCP')
    .option('--url <url>', 'broker URL to use instead of the one the link answer gave')
    .option('--no-sent', 'do not report "sent"')
    .option('--no-delivered', 'do not report "delivered"')
    .option(
      '--delivered-delay <ms>',
      'wait this long between "sent" and "delivered"',
      wholeNumber('--delivered-delay takes a whole number of milliseconds'),
      1000,
    )
    .option('--fail <code>', 'report every message failed with this error code (e.g. RADIO_OFF)', errorCode)
    .action(
      async (options: {
        credentials?: string;
        ws?: boolean;
        url?: string;
        sent: boolean;
        delivered: boolean;
        deliveredDelay: number;
        fail?: string;
      }) => {
        const path = resolve(io.cwd ?? process.cwd(), options.credentials ?? defaultCredentialsPath(io));
        const credentials = await loadCredentials(path);
        const sentIds = await SentIdStore.open({ file: sentIdsPathFor(path) });
        const { ReferenceDevice } = await import('../../device/reference-device.js');
        const device = new ReferenceDevice({
          credentials,
          transport: options.ws ? 'ws' : 'tcp',
          url: options.url,
          report: {
            sent: options.sent,
            delivered: options.delivered,
            deliveredDelayMs: options.deliveredDelay,
            failWith: options.fail,
          },
          sentIds,
          appVersion: credentials.appVersion,
          sims: credentials.sims,
          // This is the phone's own screen: showing the SMS body is its job.
          onSend: (message) =>
            io.out(
              `→ ${message.to} : ${message.data === undefined ? message.body : `[data to port ${message.port}] ${message.data}`}`,
            ),
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
      },
    );
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
