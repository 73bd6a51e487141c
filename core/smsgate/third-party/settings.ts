import type { Knex } from 'knex';
import { inject, injectable } from '../../di.js';
import { DeviceService } from '../../services/devices.js';
import { TOKENS } from '../../tokens.js';
import { invalid } from './errors.js';

/**
 * SMSGate's device settings (contract §6 "Settings"): snake_case sections, unknown keys dropped,
 * secrets refused. Stored per project as given; what SMX can apply is applied to the project's
 * phones (see {@link sendRateOf}).
 */
type Field =
  | { kind: 'int' }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'time' }
  | { kind: 'empty' };
const int: Field = { kind: 'int' };
const bool: Field = { kind: 'bool' };
const time: Field = { kind: 'time' };
const empty: Field = { kind: 'empty' };
const oneOf = (...values: string[]): Field => ({ kind: 'enum', values });

export const SETTINGS_SCHEMA: Record<string, Record<string, Field>> = {
  messages: {
    send_interval_min: int,
    send_interval_max: int,
    limit_period: oneOf('Disabled', 'PerMinute', 'Per30Minutes', 'PerHour', 'PerDay'),
    limit_value: int,
    sim_selection_mode: oneOf('OSDefault', 'RoundRobin', 'Random'),
    log_lifetime_days: int,
    processing_order: oneOf('LIFO', 'FIFO'),
    work_hours_enabled: bool,
    work_hours_start: time,
    work_hours_end: time,
  },
  ping: { interval_seconds: int },
  logs: { lifetime_days: int },
  // The original refuses to store secrets through this API (a phone's own screen sets them).
  webhooks: { internet_required: bool, retry_count: int, signing_key: empty },
  gateway: { notification_channel: oneOf('AUTO', 'SSE_ONLY'), cloud_url: empty, private_token: empty },
  receiver: { content_provider_enabled: bool },
  encryption: { passphrase: empty },
};

export type Settings = Record<string, Record<string, unknown>>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The known sections and keys of `body`, checked; `null` values are kept (a PATCH removes them). */
export function readSettings(body: unknown): Settings {
  if (!isObject(body)) throw invalid('the settings must be a JSON object');
  const out: Settings = {};
  for (const [section, fields] of Object.entries(SETTINGS_SCHEMA)) {
    const given = body[section];
    if (given === undefined) continue;
    if (given === null) {
      out[section] = {};
      continue;
    }
    if (!isObject(given)) throw invalid(`${section} must be an object`);
    const kept: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(fields)) {
      const value = given[key];
      if (value === undefined) continue;
      const name = `${section}.${key}`;
      if (value === null) {
        kept[key] = null;
        continue;
      }
      switch (field.kind) {
        case 'int':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
            throw invalid(`${name} must be an integer of at least 1`);
          break;
        case 'bool':
          if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean`);
          break;
        case 'enum':
          if (typeof value !== 'string' || !field.values.includes(value))
            throw invalid(`${name} must be one of ${field.values.join(', ')}`);
          break;
        case 'time':
          if (typeof value !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(value))
            throw invalid(`${name} must be a time HH:mm`);
          break;
        case 'empty':
          if (value !== '') throw invalid(`${name} cannot be set through the API`);
          continue; // never stored
      }
      kept[key] = value;
    }
    out[section] = kept;
  }
  return out;
}

/** PATCH: sections merged key by key; a `null` removes the key. */
export function mergeSettings(current: Settings, patch: Settings): Settings {
  const out: Settings = {};
  for (const section of new Set([...Object.keys(current), ...Object.keys(patch)])) {
    const merged = { ...current[section], ...patch[section] };
    for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
    if (Object.keys(merged).length > 0) out[section] = merged;
  }
  return out;
}

/** PUT: the given settings as they are (without the nulls). */
export function replaceSettings(given: Settings): Settings {
  return mergeSettings({}, given);
}

/**
 * The per-minute send rate SMX can enforce on each phone (its pace), from
 * `messages.limit_period: PerMinute` + `limit_value` and from `send_interval_min` (seconds
 * between two messages: at most 60 / it a minute); the lower one wins. Undefined when the
 * settings say nothing SMX can map (per-hour or per-day budgets are stored only).
 */
export function sendRateOf(settings: Settings): number | undefined {
  const m = settings.messages ?? {};
  const rates: number[] = [];
  if (m.limit_period === 'PerMinute' && typeof m.limit_value === 'number') rates.push(m.limit_value);
  if (typeof m.send_interval_min === 'number') rates.push(Math.max(1, Math.floor(60 / m.send_interval_min)));
  // SMX paces a phone to at most 100,000 a minute (0 = no pace is never set from here).
  return rates.length > 0 ? Math.min(100_000, ...rates) : undefined;
}

/** Stores a project's settings and applies what SMX can to its phones. */
@injectable()
export class SmsGateSettings {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly devices: DeviceService,
  ) {}

  async get(projectId: string): Promise<Settings> {
    const row = await this.db('smsgate_settings').where({ project_id: projectId }).first();
    if (!row) return {};
    return typeof row.settings === 'string' ? (JSON.parse(row.settings) as Settings) : (row.settings as Settings);
  }

  /** PUT (`merge` false) or PATCH (`merge` true); answers the stored settings. */
  async update(projectId: string, body: unknown, merge: boolean): Promise<Settings> {
    const given = readSettings(body);
    const next = merge ? mergeSettings(await this.get(projectId), given) : replaceSettings(given);
    await this.db('smsgate_settings')
      .insert({ project_id: projectId, settings: JSON.stringify(next), updated_at: new Date() })
      .onConflict('project_id')
      .merge();
    const rate = sendRateOf(next);
    if (rate !== undefined) {
      for (const device of await this.devices.list(projectId)) {
        if (device.sendRatePerMinute !== rate) await this.devices.update(device.id, { sendRatePerMinute: rate });
      }
    }
    return next;
  }
}
