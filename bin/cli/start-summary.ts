/**
 * What `smx start` prints once it serves, in plain words on a terminal: every URL, where the data
 * lives and the admin token (its value only on the start that generated it).
 */
import { relative, resolve } from 'node:path';

export interface PortMove {
  variable: 'SMX_MQTT_PORT' | 'SMX_MQTT_WS_PORT';
  taken: number;
  used: number;
}

export interface SummaryInput {
  version: string;
  roles: { api: boolean; worker: boolean; broker: boolean };
  /** The public base URL; empty without the API role. */
  httpUrl: string;
  /** Empty when this process serves no MQTT (an external broker, or no broker role). */
  mqttUrl: string;
  mqttWsUrl: string;
  portMoves: PortMove[];
  databaseUrl: string | undefined;
  databaseSchema: string;
  dataDir: string;
  redisUrl: string;
  adminToken: { generated?: string; file: string; fromEnv: boolean };
  /** `npx smx` or `smx`, for the next command. */
  invocation: string;
  cwd: string;
}

/** The summary's lines (without colours; the caller prints them). */
export function startSummary(input: SummaryInput): string[] {
  const { roles } = input;
  const what =
    roles.api && roles.worker && roles.broker
      ? 'API, MQTT broker and workers in one process'
      : Object.entries(roles)
          .filter(([, on]) => on)
          .map(([role]) => role)
          .join(', ');
  const rows: Array<[string, string]> = [];
  if (input.httpUrl) {
    rows.push(
      ['HTTP API', input.httpUrl],
      ['Console', `${input.httpUrl}/console`],
      ['API docs', `${input.httpUrl}/docs`],
      ['Queues', `${input.httpUrl}/admin/queues  (Bull Board; the admin token is the password)`],
    );
  }
  const moved = (variable: PortMove['variable']) => {
    const move = input.portMoves.find((m) => m.variable === variable);
    return move ? `  (port ${move.taken} is taken: moved to ${move.used}; set ${variable} to choose)` : '';
  };
  if (input.mqttUrl) rows.push(['MQTT', `${input.mqttUrl}${moved('SMX_MQTT_PORT')}`]);
  if (input.mqttWsUrl) rows.push(['MQTT WebSocket', `${input.mqttWsUrl}${moved('SMX_MQTT_WS_PORT')}`]);
  rows.push(['Data', describeDatabase(input)], ['Redis', withoutPassword(input.redisUrl)]);
  const tokenFile = shortPath(input.cwd, input.adminToken.file);
  if (input.adminToken.fromEnv) rows.push(['Admin token', 'from SMX_ADMIN_TOKEN']);
  else if (input.adminToken.generated)
    rows.push(['Admin token', input.adminToken.generated], ['', `shown this once; stored in ${tokenFile}`]);
  else rows.push(['Admin token', `in ${tokenFile}  (cat ${tokenFile})`]);

  const lines = ['', `SMX ${input.version} is running: ${what}.`, ''];
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(16)}${value}`);
  lines.push('');
  if (input.httpUrl)
    lines.push(
      `Next: ${input.invocation} projects create "My app"   (README.md "Five minutes" sends and verifies an OTP)`,
    );
  lines.push('Ctrl-C stops it.', '');
  return lines;
}

function describeDatabase(input: SummaryInput): string {
  if (!input.databaseUrl)
    return `embedded PGlite in ${shortPath(input.cwd, resolve(input.cwd, input.dataDir, 'pglite'))}`;
  try {
    const url = new URL(input.databaseUrl);
    return `PostgreSQL ${url.hostname}:${url.port || 5432}${url.pathname}, schema ${input.databaseSchema}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

function withoutPassword(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    return raw;
  }
}

/** `var/admin-token` under the working folder, else the absolute path. */
function shortPath(cwd: string, path: string): string {
  const rel = relative(cwd, resolve(cwd, path));
  return rel && !rel.startsWith('..') ? rel : resolve(cwd, path);
}
