/**
 * `smx send-otp`, `smx verify` and `smx send`: the project API (/v1) from the terminal, with a
 * project API key (see api-key.ts for where it comes from). `--json` prints the API's `data`.
 */
import { Command } from 'commander';
import { cliName, CommandFailure, resolveServer, UsageError, wholeNumber, type CliIo } from './conventions.js';
import { withApiKey, type KeyOptions } from './api-key.js';
import { call, type Call } from './http.js';
import { printJson, when } from './output.js';

interface ApiOptions extends KeyOptions {
  server?: string;
  json?: boolean;
}

const KEY_HELP = "the project's API key (default: SMX_API_KEY)";
const PROJECT_HELP =
  'without a key: the project (prj_...) whose key the CLI makes with the admin token and keeps in $SMX_DATA_DIR/cli-keys (default: SMX_PROJECT)';

/** A /v1 command: `--api-key`, `--project`, `--server`, `--admin-token` and `--json` come with it. */
function apiCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--api-key <key>', KEY_HELP)
    .option('--project <projectId>', PROJECT_HELP)
    .option(
      '--server <url>',
      'SMX base URL (default: SMX_PUBLIC_URL, else http://localhost:$SMX_HTTP_PORT, else http://localhost:8080)',
    )
    .option(
      '--admin-token <token>',
      'with --project: the admin token (default: SMX_ADMIN_TOKEN, else $SMX_DATA_DIR/admin-token)',
    )
    .option('--json', "print the API's answer as JSON (for scripts)");
}

async function v1<T>(
  io: CliIo,
  options: ApiOptions,
  request: Omit<Call, 'headers'>,
  headers: Record<string, string> = {},
): Promise<T> {
  const server = resolveServer(io, options.server);
  return withApiKey(
    io,
    server,
    options,
    async (key) => (await call<T>(server, { ...request, headers: { ...headers, 'x-smx-api-key': key } })).data,
  );
}

const positive = wholeNumber('takes a whole number');
const idempotency = (key: string | undefined): Record<string, string> =>
  key === undefined ? {} : { 'idempotency-key': key };

interface Verification {
  verificationId: string;
  status: string;
  to: string;
  test: boolean;
  messageId: string | null;
  expiresAt: string;
  verified?: boolean;
  attemptsRemaining?: number;
}

export function sendOtpCommand(io: CliIo): Command {
  return apiCommand('send-otp', "send an OTP code by SMS through the project's phone")
    .argument('<to>', 'the number, E.164 (+4915112345678) or national with --country')
    .option('--country <iso>', 'ISO 3166-1 alpha-2 country of a national number (e.g. DE)')
    .option('--code-length <n>', "digits or letters in the code, 4-12 (default: the project's, 6)", positive)
    .option('--code-type <type>', 'numeric, alpha or alphanumeric')
    .option('--language <lang>', "template language: en de es fr it pt ru (default: by the number's country)")
    .option('--template <text>', 'the SMS text, with {{code}} where the code goes')
    .option('--ttl <seconds>', 'how long the code is valid, 60-1800', positive)
    .option('--max-attempts <n>', 'wrong codes allowed, 1-10', positive)
    .option('--idempotency-key <key>', 'send at most once for this key (24 hours): a retry answers the first result')
    .action(
      async (
        to: string,
        options: ApiOptions & {
          country?: string;
          codeLength?: number;
          codeType?: string;
          language?: string;
          template?: string;
          ttl?: number;
          maxAttempts?: number;
          idempotencyKey?: string;
        },
      ) => {
        const body = {
          to,
          countryCode: options.country,
          codeLength: options.codeLength,
          codeType: options.codeType,
          language: options.language,
          template: options.template,
          ttl: options.ttl,
          maxAttempts: options.maxAttempts,
        };
        const v = await v1<Verification>(
          io,
          options,
          { method: 'POST', path: '/v1/send-otp', body },
          idempotency(options.idempotencyKey),
        );
        if (options.json) return printJson(io, v);
        if (v.test)
          io.out(`Test number ${v.to}: no SMS is sent; verification ${v.verificationId} takes its fixed code.`);
        else
          io.out(
            `OTP on its way to ${v.to}: verification ${v.verificationId}, message ${v.messageId}, valid until ${when(v.expiresAt)}.`,
          );
        io.out(`Check the code the user typed: ${cliName(io)} verify ${v.verificationId} <code>`);
      },
    );
}

export function verifyCommand(io: CliIo): Command {
  return apiCommand('verify', 'check a code against a verification; exits 0 only when it is right')
    .argument('<verificationId>', 'the verification (ver_...) send-otp answered')
    .argument('<code>', 'the code the user typed')
    .action(async (verificationId: string, code: string, options: ApiOptions) => {
      const v = await v1<Verification>(io, options, {
        method: 'POST',
        path: '/v1/verify-otp',
        body: { verificationId, otp: code },
      });
      if (options.json) printJson(io, v);
      else if (v.verified) io.out(`Verified: ${verificationId} is ${v.status}.`);
      if (v.verified) return;
      if (options.json) throw new CommandFailure('');
      throw new CommandFailure(
        v.status === 'FAILED'
          ? 'wrong code; that was the last attempt, the verification FAILED'
          : `wrong code; ${v.attemptsRemaining ?? 'some'} attempt(s) left`,
      );
    });
}

export function sendCommand(io: CliIo): Command {
  return apiCommand('send', 'send an SMS to one number, or to every row of a CSV file (bulk, in batches)')
    .argument('[to]', 'the number (E.164) of a single SMS')
    .option(
      '-m, --message <text>',
      'the text; with --csv a template whose {{column}} takes each row\'s value (a row\'s own "message" column wins)',
    )
    .option(
      '--csv <file>',
      'send to every row of this CSV: a "to" column, an optional "message" column, other columns are {{variables}}',
    )
    .option('--country <iso>', 'ISO 3166-1 alpha-2 country of national numbers (e.g. DE)')
    .option('--ttl <seconds>', 'how long a message may wait for the phone', positive)
    .option(
      '--batch-size <n>',
      'with --csv: rows per API request, at most 10000',
      wholeNumber('takes a whole number from 1 to 10000'),
      10_000,
    )
    .option('--rejected <file>', 'with --csv: where to write the rejected rows (default: <file>.rejected.csv)')
    .option(
      '--idempotency-key <key>',
      "send at most once for this key (24 hours); with --csv the prefix of each batch's key (default: from the file's content and options, so a re-run never sends a batch twice)",
    )
    .action(
      async (
        to: string | undefined,
        options: ApiOptions & {
          message?: string;
          csv?: string;
          country?: string;
          ttl?: number;
          batchSize: number;
          rejected?: string;
          idempotencyKey?: string;
        },
      ) => {
        if (options.csv !== undefined) {
          if (to !== undefined) throw new UsageError('give a number or --csv, not both');
          if (options.batchSize < 1 || options.batchSize > 10_000)
            throw new UsageError('--batch-size takes a whole number from 1 to 10000');
          const server = resolveServer(io, options.server);
          const { sendCsv } = await import('./bulk-send.js');
          await withApiKey(io, server, options, (key) =>
            sendCsv(io, {
              server,
              apiKey: key,
              file: options.csv!,
              message: options.message,
              countryCode: options.country,
              ttl: options.ttl,
              batchSize: options.batchSize,
              rejectedFile: options.rejected,
              idempotencyKey: options.idempotencyKey,
              json: options.json === true,
            }),
          );
          return;
        }
        if (to === undefined) throw new UsageError('give a number (smx send +4915112345678 -m "Hello") or --csv FILE');
        if (options.message === undefined) throw new UsageError('--message is required for a single SMS');
        const body = { to, message: options.message, countryCode: options.country, ttl: options.ttl };
        const sms = await v1<{ messageId: string; status: string; to: string; parts: number }>(
          io,
          options,
          { method: 'POST', path: '/v1/send-sms', body },
          idempotency(options.idempotencyKey),
        );
        if (options.json) return printJson(io, sms);
        io.out(`SMS ${sms.messageId} to ${sms.to} is ${sms.status} (${sms.parts} part${sms.parts === 1 ? '' : 's'}).`);
      },
    );
}
