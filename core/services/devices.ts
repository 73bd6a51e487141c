import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { randomSecret, sameDigest, sha256 } from '../crypto.js';
import {
  DEVICE_CAPABILITIES,
  deviceTopics,
  TRANSPORT_CAPABILITIES,
  type DeviceCapability,
} from '../../protocol/index.js';
import type { Endpoints } from '../endpoints.js';
import { MicroBatcher } from '../batching/micro-batcher.js';
import { CacheBus, TtlCache } from '../cache.js';
import { apiError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { PresenceStore, type Presence } from '../presence/store.js';
import { TOKENS } from '../tokens.js';
import { LinkTokenService } from './link-tokens.js';

export interface Sim {
  slot: number;
  number: string | null;
  carrier: string | null;
  rentable: boolean;
}

export type DeviceStatus = 'active' | 'standby' | 'unlinked';
/** How a device is reached: SMX's own MQTT protocol, or the SMSGate app's HTTP API (core/delivery/transports.ts). */
export type TransportName = 'mqtt' | 'smsgate';
/**
 * What a phone may declare it can do beyond sending texts (device-protocol.md §1 and §3, link
 * request and presence): `data-sms`, binary SMS to a port. Unknown names are dropped. The
 * transport capabilities (`encrypted-content`) are only given by a transport at link.
 */
export { DEVICE_CAPABILITIES, TRANSPORT_CAPABILITIES, type DeviceCapability };

const ALL_CAPABILITIES: readonly DeviceCapability[] = [...DEVICE_CAPABILITIES, ...TRANSPORT_CAPABILITIES];

/**
 * Only the known capabilities, each once, in the catalogue's order; anything else is []. A phone's
 * own declaration (MQTT link request, presence) may name only DEVICE_CAPABILITIES; `all` also
 * keeps the transport ones (what a transport declares at link, and what is stored).
 */
export function readCapabilities(value: unknown, all = false): DeviceCapability[] {
  if (!Array.isArray(value)) return [];
  return (all ? ALL_CAPABILITIES : DEVICE_CAPABILITIES).filter((c) => value.includes(c));
}

/** True when the phone declared it sends binary SMS (`data-sms`). */
export function sendsDataSms(device: { capabilities?: readonly string[] }): boolean {
  return device.capabilities?.includes('data-sms') ?? false;
}

/** True when the phone decrypts SMSGate's end-to-end encrypted content (`encrypted-content`: SMSGate-app phones). */
export function decryptsContent(device: { capabilities?: readonly string[] }): boolean {
  return device.capabilities?.includes('encrypted-content') ?? false;
}

/** Told of each unlinked device once its row changed (the composition root wires its transport's disconnect). */
export type UnlinkListener = (device: Device) => Promise<void>;

export interface Device {
  id: string;
  projectId: string;
  name: string;
  model: string | null;
  appVersion: string | null;
  transport: TransportName;
  status: DeviceStatus;
  active: boolean;
  sendRatePerMinute: number;
  sims: Sim[];
  /** What the phone declared it can do (DEVICE_CAPABILITIES); always set when read from the database. */
  capabilities?: DeviceCapability[];
  linkedAt: string;
  unlinkedAt: string | null;
}

export interface DeviceWithPresence extends Device {
  online: boolean;
  lastSeenAt: string | null;
  battery: number | null;
}

export interface LinkRequest {
  /** The QR link token, or else… */
  token?: string;
  /** …a 6-digit link code typed on the phone. */
  code?: string;
  /** Who asks (IP), for the brute-force limit on codes. */
  source?: string;
  name: string;
  model?: string;
  appVersion?: string;
  sims?: Sim[];
  /** What the phone can do beyond texts (unknown names are dropped). */
  capabilities?: string[];
  /** The device's transport (default 'mqtt'). */
  transport?: TransportName;
  /** Runs in the link transaction once the device row exists (a transport's own credentials). */
  onLinked?: (trx: Knex.Transaction, deviceId: string, now: Date) => Promise<void>;
}

export interface LinkResult {
  deviceId: string;
  projectId: string;
  mqtt: { url: string; wsUrl: string; clientId: string; username: string; password: string };
  topics: ReturnType<typeof deviceTopics>;
}

export interface DevicePatch {
  name?: string;
  sendRatePerMinute?: number;
  sims?: Sim[];
}

interface DeviceRow {
  id: string;
  project_id: string;
  name: string;
  model: string | null;
  app_version: string | null;
  transport: TransportName;
  secret_hash: string;
  status: DeviceStatus;
  send_rate_per_minute: number;
  sims: Sim[] | string;
  capabilities: string[] | string;
  linked_at: Date;
  unlinked_at: Date | null;
}

/** Phones: linking by token, the one active device per project, standby devices, unlinking. */
@injectable()
export class DeviceService {
  // Every change is announced on the CacheBus to every process at once: the TTL is only the
  // safety net for a lost notice. Long enough that a fleet's dispatchers, each device served every
  // few seconds, rarely read a device row.
  private readonly byProject = new TtlCache<Device[]>(30_000);
  private readonly byId = new TtlCache<Device>(30_000);
  /** A device never moves to another project: kept for an hour (an unlinked one included). */
  private readonly projectById = new TtlCache<string>(3_600_000, 100_000);
  /**
   * Device rows by id (any status), read together: in a connect storm the credential checks and
   * look-ups of thousands of phones share statements instead of one round trip each. What is read
   * fills the caches, so the look-ups that follow a phone's connect read nothing again.
   */
  private readonly rows = new MicroBatcher<string, DeviceRow | undefined>({
    flush: async (ids) => {
      const changes = this.changes;
      const found: DeviceRow[] = await this.db('devices').whereRaw('id = any(?::text[])', [[...new Set(ids)]]);
      const byId = new Map(found.map((row) => [row.id, row]));
      for (const row of found) {
        this.projectById.set(row.id, row.project_id);
        // Not when a device changed meanwhile: this read may predate it.
        if (changes === this.changes && row.status !== 'unlinked') this.byId.set(row.id, toDevice(row));
      }
      return ids.map((id) => byId.get(id));
    },
  });
  /** Device changes announced so far (see `rows`). */
  private changes = 0;
  private readonly unlinkListeners: UnlinkListener[] = [];

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Endpoints) private readonly endpoints: Endpoints,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly presence: PresenceStore,
    private readonly linkTokens: LinkTokenService,
    private readonly bus: CacheBus,
  ) {
    const forget = (projectId: string) => {
      this.changes++;
      this.byProject.delete(projectId);
      this.byId.deleteWhere((d) => d.projectId === projectId);
    };
    bus.on('devices', forget);
    bus.on('project', forget);
  }

  /**
   * Links a phone with a single-use link token (device-protocol.md §1). The new device becomes
   * active; the previously active one stays linked as standby. Unknown, used or expired token: 401.
   */
  async link(request: LinkRequest): Promise<LinkResult> {
    const secret = randomSecret(32);
    const deviceId = newId('dev');
    const now = new Date();
    const byCode = request.token === undefined && request.code !== undefined;
    // A code's attempt is taken before it is compared (concurrent guesses cannot overrun the limit).
    const attempt = byCode ? await this.linkTokens.takeCodeAttempt(request.source) : undefined;
    const projectId = await this.db.transaction(async (trx) => {
      const consumed = byCode
        ? await this.linkTokens.consume(trx, request.code!, deviceId, now, 'code')
        : await this.linkTokens.consume(trx, request.token ?? '', deviceId, now);
      if (!consumed) {
        throw apiError('UNAUTHORIZED', {
          message: `The link ${byCode ? 'code' : 'token'} is unknown, used or expired.`,
        });
      }
      await lockActiveRole(trx, consumed.projectId);
      await trx('devices')
        .where({ project_id: consumed.projectId, status: 'active' })
        .update({ status: 'standby', updated_at: now });
      await trx('devices').insert({
        id: deviceId,
        project_id: consumed.projectId,
        name: request.name,
        model: request.model ?? null,
        app_version: request.appVersion ?? null,
        transport: request.transport ?? 'mqtt',
        secret_hash: sha256(secret),
        status: 'active',
        send_rate_per_minute: 30,
        sims: JSON.stringify(request.sims ?? []),
        capabilities: JSON.stringify(readCapabilities(request.capabilities, request.transport === 'smsgate')),
        linked_at: now,
        updated_at: now,
      });
      if (request.onLinked) await request.onLinked(trx, deviceId, now);
      return consumed.projectId;
    });
    await attempt?.succeeded();
    await this.changed(projectId);
    this.log.info({ deviceId, projectId }, 'device linked');
    return {
      deviceId,
      projectId,
      mqtt: {
        url: this.endpoints.mqttUrl,
        wsUrl: this.endpoints.mqttWsUrl,
        clientId: deviceId,
        username: deviceId,
        password: secret,
      },
      topics: deviceTopics(deviceId),
    };
  }

  /** Broker authentication: true only for a linked (active or standby) device with the right secret. */
  async verifyCredentials(deviceId: string, secret: string): Promise<boolean> {
    if (!deviceId.startsWith('dev_') || secret.length === 0 || secret.length > 256) return false;
    const row = await this.rows.add(deviceId);
    return row && row.status !== 'unlinked' ? sameDigest(sha256(secret), row.secret_hash) : false;
  }

  /** The project of a device of any status (an unlinked one too), or null when there is no such device. */
  async projectOf(deviceId: string): Promise<string | null> {
    const projectId = await this.projectById.getOrLoad(
      deviceId,
      async () => (await this.rows.add(deviceId))?.project_id,
    );
    return projectId ?? null;
  }

  /** The project's linked devices (active first), with live presence. */
  async list(projectId: string): Promise<DeviceWithPresence[]> {
    return this.withPresence(await this.linked(projectId));
  }

  /**
   * The project's linked devices (active first), without presence. Cached (30 s, dropped on every
   * change): while cached, the same array each time, so routing can tell that nothing changed.
   */
  async linked(projectId: string): Promise<Device[]> {
    const devices = await this.byProject.getOrLoad(projectId, async () => {
      const rows: DeviceRow[] = await this.db('devices')
        .where({ project_id: projectId })
        .whereNot({ status: 'unlinked' })
        .orderByRaw(`case when status = 'active' then 0 else 1 end, linked_at desc`);
      return rows.map(toDevice);
    });
    return devices ?? [];
  }

  /** Every process forgets the project's devices (after link, activate, change, unlink). */
  private async changed(projectId: string): Promise<void> {
    await this.bus.invalidate('devices', projectId);
  }

  /** The project's active device, or null. */
  async active(projectId: string): Promise<Device | null> {
    const row: DeviceRow | undefined = await this.db('devices')
      .where({ project_id: projectId, status: 'active' })
      .first();
    return row ? toDevice(row) : null;
  }

  /** A linked device by id (any project), or null. Cached briefly: the dispatcher reads it on every run. */
  async find(deviceId: string): Promise<Device | null> {
    const device = await this.byId.getOrLoad(deviceId, async () => {
      const row = await this.rows.add(deviceId);
      return row && row.status !== 'unlinked' ? toDevice(row) : undefined;
    });
    return device ?? null;
  }

  async get(deviceId: string): Promise<DeviceWithPresence> {
    const device = await this.find(deviceId);
    if (!device) throw apiError('NOT_FOUND', { message: 'No linked device with this id.' });
    const [withPresence] = await this.withPresence([device]);
    return withPresence!;
  }

  /** Makes the device its project's active one; the one active before becomes standby. */
  async activate(deviceId: string): Promise<DeviceWithPresence> {
    await this.db
      .transaction(async (trx) => {
        const row = await linkedForUpdate(trx, deviceId);
        if (row.status === 'active') return null;
        const now = new Date();
        await lockActiveRole(trx, row.project_id);
        await trx('devices')
          .where({ project_id: row.project_id, status: 'active' })
          .update({ status: 'standby', updated_at: now });
        await trx('devices').where({ id: deviceId }).update({ status: 'active', updated_at: now });
        return row.project_id;
      })
      .then(async (projectId) => {
        if (projectId) await this.changed(projectId);
      });
    return this.get(deviceId);
  }

  async update(deviceId: string, patch: DevicePatch): Promise<DeviceWithPresence> {
    const changes: Record<string, unknown> = { updated_at: new Date() };
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.sendRatePerMinute !== undefined) changes.send_rate_per_minute = patch.sendRatePerMinute;
    if (patch.sims !== undefined) changes.sims = JSON.stringify(patch.sims);
    const [row] = await this.db('devices')
      .where({ id: deviceId })
      .whereNot({ status: 'unlinked' })
      .update(changes, ['project_id']);
    if (!row) throw apiError('NOT_FOUND', { message: 'No linked device with this id.' });
    await this.changed(row.project_id);
    return this.get(deviceId);
  }

  /**
   * The capabilities a phone announces in its presence (an updated app need not link again).
   * Written only when they differ from the stored ones: presence comes on every connect.
   */
  async setCapabilities(deviceId: string, capabilities: unknown): Promise<void> {
    const device = await this.find(deviceId);
    const next = readCapabilities(capabilities);
    const current = device?.capabilities ?? [];
    if (!device || (current.length === next.length && next.every((c) => current.includes(c)))) return;
    const [row] = await this.db('devices')
      .where({ id: deviceId })
      .whereNot({ status: 'unlinked' })
      .update({ capabilities: JSON.stringify(next), updated_at: new Date() }, ['project_id']);
    if (row) await this.changed(row.project_id);
  }

  /** Adds a listener of unlinked devices (the composition root: the device's transport tells the phone and drops it). */
  onUnlinked(listener: UnlinkListener): void {
    this.unlinkListeners.push(listener);
  }

  /**
   * Unlinks a device: its secret stops working at once, it is told on its control topic and its
   * live connection is dropped (the unlink listeners). If it was active, the most recently linked standby takes over.
   */
  async unlink(deviceId: string): Promise<void> {
    const now = new Date();
    const unlinked = await this.db.transaction(async (trx) => {
      const row = await linkedForUpdate(trx, deviceId);
      await trx('devices').where({ id: deviceId }).update({ status: 'unlinked', unlinked_at: now, updated_at: now });
      if (row.status === 'active') {
        await lockActiveRole(trx, row.project_id);
        const standby = await trx('devices')
          .select('id')
          .where({ project_id: row.project_id, status: 'standby' })
          .orderBy('linked_at', 'desc')
          .first();
        if (standby) await trx('devices').where({ id: standby.id }).update({ status: 'active', updated_at: now });
      }
      return row;
    });
    await this.changed(unlinked.project_id);
    // The credentials are dead already; telling the phone and kicking it are best effort.
    for (const listener of this.unlinkListeners)
      await listener(toDevice(unlinked)).catch((error) =>
        this.log.warn({ err: error, deviceId }, 'unlinked device not disconnected'),
      );
    await this.presence.remove(deviceId);
    this.log.info({ deviceId }, 'device unlinked');
  }

  async withPresence(devices: Device[]): Promise<DeviceWithPresence[]> {
    const presence = await this.presence.getMany(devices.map((d) => d.id));
    return devices.map((d) => merge(d, presence.get(d.id)));
  }
}

function merge(device: Device, presence: Presence | undefined): DeviceWithPresence {
  return {
    ...device,
    online: presence?.online ?? false,
    lastSeenAt: presence?.lastSeenAt ?? null,
    battery: presence?.battery ?? null,
  };
}

function storedCapabilities(row: DeviceRow): DeviceCapability[] {
  const stored: unknown = typeof row.capabilities === 'string' ? JSON.parse(row.capabilities) : row.capabilities;
  const list: unknown[] = Array.isArray(stored) ? stored : [];
  // An SMSGate-app phone linked before `encrypted-content` existed has it too: the app always decrypts.
  return readCapabilities(row.transport === 'smsgate' ? [...list, ...TRANSPORT_CAPABILITIES] : list, true);
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    model: row.model,
    appVersion: row.app_version,
    transport: row.transport,
    status: row.status,
    active: row.status === 'active',
    sendRatePerMinute: row.send_rate_per_minute,
    sims: typeof row.sims === 'string' ? JSON.parse(row.sims) : row.sims,
    capabilities: storedCapabilities(row),
    linkedAt: new Date(row.linked_at).toISOString(),
    unlinkedAt: row.unlinked_at ? new Date(row.unlinked_at).toISOString() : null,
  };
}

/** A linked device's row, locked for the transaction's change of its status; NOT_FOUND otherwise. */
async function linkedForUpdate(trx: Knex.Transaction, deviceId: string): Promise<DeviceRow> {
  const row: DeviceRow | undefined = await trx('devices')
    .where({ id: deviceId })
    .whereNot({ status: 'unlinked' })
    .forUpdate()
    .first();
  if (!row) throw apiError('NOT_FOUND', { message: 'No linked device with this id.' });
  return row;
}

/**
 * Serializes the changes of a project's active device (link, activate, unlink): two links at
 * once would each demote the old active device and insert an active one, and the second commit
 * would break the one-active-device index (a 500). The project row is locked FOR NO KEY UPDATE,
 * which does not block inserts that reference the project.
 */
async function lockActiveRole(trx: Knex.Transaction, projectId: string): Promise<void> {
  await trx('projects').select('id').where({ id: projectId }).forNoKeyUpdate().first();
}
