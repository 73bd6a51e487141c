import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { randomSecret, sha256 } from '../crypto.js';
import { inject, injectable } from '../di.js';
import type { Endpoints } from '../endpoints.js';
import { apiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { HookRunner } from '../hook-runner.js';
import type { Queues } from '../queues.js';
import { Sealer } from '../seal.js';
import type { RuntimeConfig } from '../secrets.js';
import { DeviceService, type Device } from '../services/devices.js';
import { DispatchService } from '../delivery/dispatch.js';
import { MessageTransitions } from '../delivery/transitions.js';
import { MessageService } from '../services/messages.js';
import { TOKENS } from '../tokens.js';
import { DeviceLocks } from '../delivery/device-lock.js';
import { CONTROL_CHARS, countProblems, STATUS_AT_MAX } from '../delivery/status-reports.js';
import { isObject, keepOperatorSims, readSimCards, readStates, str } from './payloads.js';
import { DevicePacer } from '../delivery/pacing.js';
import { applyBeforeSend } from '../delivery/before-send.js';

/** Where the app's mobile API lives; the user types `{public URL}` + this into the app. */
export const SMSGATE_BASE_PATH = '/compat/smsgate/mobile/v1';
/** Messages per `GET /message` (the app's limit). */
export const MAX_PER_PULL = 100;
/** Inbound webhooks older (or further in the future) than this are refused. */
export const WEBHOOK_MAX_AGE_MS = 5 * 60 * 1000;
/** Longest sender kept from an inbound webhook (as for MQTT phones). */
const INBOUND_SENDER_MAX = 64;
/** How long a pull waits for the device's dispatch lock (held briefly by the dispatcher). */
const LOCK_WAIT_MS = 2_000;

/** A message as `GET /message` hands it to the app. */
export interface SmsGateMessage {
  id: string;
  /** A text; or, instead, `dataMessage` (a binary SMS: base64 `data` to `port`). */
  textMessage?: { text: string };
  dataMessage?: { data: string; port: number };
  phoneNumbers: string[];
  simNumber: number | null;
  withDeliveryReport: true;
  /** Content the client encrypted (3rd-party `isEncrypted`): the app decrypts it with its passphrase. */
  isEncrypted: boolean;
  priority: number;
  validUntil: string;
  createdAt: string;
  state: 'Pending';
}

export interface SmsGateRegistration {
  id: string;
  token: string;
  login: string;
  password: string;
}

/**
 * The SMSGate app's private-server protocol (capcom6/android-sms-gateway v1.68): registration
 * with a project link token or link code, device-token authentication, pull under the device's
 * pace, state reports and signed inbound webhooks. Everything else (routing, expiry, statuses,
 * inbox) is the core's, shared with MQTT phones.
 */
@injectable()
export class SmsGateService {
  private readonly sealer: Sealer;
  private readonly replayPrefix: string;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) config: RuntimeConfig,
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Queues) private readonly queues: Queues,
    @inject(TOKENS.Endpoints) private readonly endpoints: Endpoints,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly devices: DeviceService,
    private readonly messages: MessageService,
    private readonly transitions: MessageTransitions,
    private readonly dispatch: DispatchService,
    private readonly hooks: HookRunner,
    // The same pace and lock as the dispatcher's (one per container): a pull is this transport's hand-over.
    private readonly pacer: DevicePacer,
    private readonly locks: DeviceLocks,
  ) {
    this.sealer = new Sealer(config.secret);
    this.replayPrefix = `${config.redisPrefix}:smsgate-webhook-seen`;
  }

  /** `POST /device`: `Authorization: Bearer <link token>` or `Code <link code>`. */
  async register(authorization: string | undefined, body: unknown, source: string): Promise<SmsGateRegistration> {
    const auth = /^(Bearer|Code)\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!auth) throw apiError('UNAUTHORIZED', { message: 'Send a project link token (Bearer) or link code (Code).' });
    const byCode = auth[1]!.toLowerCase() === 'code';
    const b = isObject(body) ? body : {};
    const name = str(b.name, 100) ?? 'SMSGate phone';
    const token = randomSecret(32, 'sgd_');
    const signingKey = randomSecret(24);
    const linked = await this.devices.link({
      ...(byCode ? { code: auth[2]! } : { token: auth[2]! }),
      source,
      name,
      appVersion: 'smsgate',
      sims: readSimCards(b.simCards) ?? [],
      transport: 'smsgate',
      // The app sends binary SMS (`dataMessage`) and decrypts `isEncrypted` content (it holds the passphrase).
      capabilities: ['data-sms', 'encrypted-content'],
      onLinked: async (trx, deviceId, now) => {
        await trx('smsgate_devices').insert({
          device_id: deviceId,
          token_hash: sha256(token),
          signing_key_sealed: this.sealer.seal(signingKey),
          push_token: str(b.pushToken, 4096),
          created_at: now,
          updated_at: now,
        });
      },
    });
    this.log.info({ deviceId: linked.deviceId, projectId: linked.projectId, byCode }, 'smsgate device registered');
    // `login`/`password` are the app's credentials for the cloud's third-party API, which SMX
    // does not offer: the password is random and not kept.
    return { id: linked.deviceId, token, login: linked.deviceId, password: randomSecret(16) };
  }

  /** The device behind `Authorization: Bearer <device token>`; unknown or unlinked: 401. */
  async authenticate(authorization: string | undefined): Promise<Device> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match || match[1]!.length > 256)
      throw apiError('UNAUTHORIZED', { message: 'Send the device token as Authorization: Bearer <token>.' });
    const row = await this.db('smsgate_devices')
      .select('device_id')
      .where({ token_hash: sha256(match[1]!) })
      .first();
    const device = row ? await this.devices.find(row.device_id) : null;
    if (!device || device.transport !== 'smsgate')
      throw apiError('UNAUTHORIZED', { message: 'The device token is unknown or the device was unlinked.' });
    return device;
  }

  /** `PATCH /device` `{ id, pushToken?, simCards? }`. Another device's id: 403. */
  async patchDevice(device: Device, body: unknown): Promise<void> {
    if (!isObject(body) || typeof body.id !== 'string')
      throw apiError('VALIDATION_FAILED', { details: [{ field: 'id', message: 'id is required' }] });
    if (body.id !== device.id) throw apiError('FORBIDDEN', { message: 'The id is not this device token’s device.' });
    const pushToken = str(body.pushToken, 4096);
    if (pushToken)
      await this.db('smsgate_devices')
        .where({ device_id: device.id })
        .update({ push_token: pushToken, updated_at: new Date() });
    const sims = readSimCards(body.simCards);
    if (sims) await this.devices.update(device.id, { sims: keepOperatorSims(sims, device.sims) });
  }

  /**
   * `GET /message`: the hand-over. Under the device's dispatch lock (no message handed out twice,
   * not even to two racing pulls or the dispatcher), takes as many QUEUED messages as its pace
   * allows (≤ 100) in dispatch order, runs `beforeSend`, marks them DISPATCHED. If more wait, the
   * dispatcher is signalled (after the pace's wait) so the phone gets another `MessageEnqueued`.
   * `lifo` returns the same selection newest first.
   */
  async pull(device: Device, order: 'lifo' | 'fifo' = 'fifo'): Promise<SmsGateMessage[]> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    let lock = await this.locks.acquire(device.id);
    while (!lock && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      lock = await this.locks.acquire(device.id);
    }
    if (!lock) return [];
    try {
      // Messages past their TTL are not read (nextForDevice) and the maintenance job expires them.
      const grant = await this.pacer.take(device.id, device.sendRatePerMinute, MAX_PER_PULL);
      if (grant.taken === 0) {
        await this.dispatch.signal([device.id], grant.waitMs);
        return [];
      }
      const batch = await this.messages.nextForDevice(device.id, grant.taken);
      if (batch.length < grant.taken)
        await this.pacer.refund(device.id, device.sendRatePerMinute, grant.taken - batch.length);
      if (batch.length === 0) return [];
      const outgoing = await applyBeforeSend({ hooks: this.hooks, transitions: this.transitions }, batch);
      if (outgoing.length < batch.length)
        await this.pacer.refund(device.id, device.sendRatePerMinute, batch.length - outgoing.length);
      const ids = outgoing.map((m) => m.id);
      await this.transitions.dispatched(ids);
      const created = new Map<string, Date>();
      const encrypted = new Set<string>();
      if (ids.length > 0) {
        const rows: Array<{ id: string; created_at: Date | string }> = await this.db('messages')
          .select('id', 'created_at')
          .whereIn('id', ids);
        for (const r of rows) created.set(r.id, new Date(r.created_at));
        for (const id of await this.encryptedOf(ids)) encrypted.add(id);
      }
      if (batch.length === grant.taken) {
        // Maybe more waiting: wake the phone again once the pace allows.
        const more = await this.messages.nextForDevice(device.id, 1, ids);
        if (more.length > 0)
          await this.dispatch.signal([device.id], grant.taken < MAX_PER_PULL ? Math.max(grant.waitMs, 1000) : 0);
      }
      const items = outgoing.map((m) => ({
        id: m.id,
        ...(m.dataPort === null
          ? { textMessage: { text: m.body } }
          : { dataMessage: { data: m.body, port: m.dataPort } }),
        phoneNumbers: [m.to],
        simNumber: m.simSlot === null ? null : m.simSlot + 1,
        withDeliveryReport: true as const,
        // Content the client encrypted (3rd-party API `isEncrypted`): the app decrypts it with its passphrase.
        isEncrypted: encrypted.has(m.id),
        // The app's priority is SMSGate's -128..127 (a byte); an OTP's 128 is its highest, 127.
        priority: Math.min(m.priority, 127),
        validUntil: m.expiresAt.toISOString(),
        createdAt: (created.get(m.id) ?? new Date()).toISOString(),
        state: 'Pending' as const,
      }));
      return order === 'lifo' ? items.reverse() : items;
    } finally {
      // A dispatcher that found the lock taken left it to us: let it look now.
      if (await lock.release()) await this.dispatch.signal([device.id]);
    }
  }

  /**
   * Which of these messages carry content the client encrypted: those sent through the
   * 3rd-party API with `isEncrypted` (routing gives them only to phones with `encrypted-content`).
   */
  private async encryptedOf(messageIds: string[]): Promise<string[]> {
    const rows: Array<{ message_id: string }> = await this.db('smsgate_message_recipients as r')
      .join('smsgate_messages as g', (j) => j.on('g.project_id', 'r.project_id').andOn('g.id', 'r.group_id'))
      .whereIn('r.message_id', messageIds)
      .whereRaw(`(g.content->>'isEncrypted')::boolean is true`)
      .select('r.message_id');
    return rows.map((r) => r.message_id);
  }

  /**
   * `PATCH /message`: the app's states, mapped and queued as a `status` device event — the same
   * path (never backwards, idempotent, `afterStatus` hooks) as an MQTT phone's status publish.
   * Sent → sent, Delivered → delivered, Failed → failed (the first recipient's error),
   * Cancelled → failed `CANCELED`; Pending, Processed, Cancelling change nothing.
   */
  async report(device: Device, body: unknown, receivedAt = new Date()): Promise<number> {
    const dropped: string[] = [];
    const updates = readStates(body, undefined, (problem) => dropped.push(problem));
    if (dropped.length > 0)
      this.log.warn(
        { deviceId: device.id, dropped: dropped.length, problems: countProblems(dropped) },
        'smsgate states dropped: malformed',
      );
    if (updates.length > 0) {
      await this.queues.deviceEvents.add('status', {
        deviceId: device.id,
        channel: 'status',
        payload: { updates },
        receivedAt: receivedAt.toISOString(),
      });
    }
    return updates.length;
  }

  /** `GET /settings`: SSE instead of Firebase, and the key the app signs its webhooks with. */
  async settings(device: Device): Promise<unknown> {
    return {
      gateway: { notification_channel: 'SSE_ONLY' },
      webhooks: { signing_key: await this.signingKey(device.id) },
    };
  }

  /** `GET /webhooks`: the app posts received SMS to this device's inbound URL. */
  webhooks(device: Device): unknown[] {
    return [
      {
        id: 'smx-sms-received',
        url: `${this.endpoints.publicUrl}${SMSGATE_BASE_PATH}/webhooks/${device.id}/sms-received`,
        event: 'sms:received',
      },
    ];
  }

  private async signingKey(deviceId: string): Promise<string> {
    const row = await this.db('smsgate_devices').select('signing_key_sealed').where({ device_id: deviceId }).first();
    if (!row) throw apiError('UNAUTHORIZED');
    return this.sealer.open(row.signing_key_sealed);
  }

  /**
   * An inbound webhook from the app: `X-Signature` = hex HMAC-SHA256(signing key, raw body +
   * `X-Timestamp`), the timestamp (Unix seconds) within 5 minutes. A received SMS is queued as an
   * `inbox` device event, exactly like an MQTT phone's inbox publish. Other events are
   * acknowledged and ignored (states come by PATCH).
   *
   * Replays: a signed body is accepted once. Its SHA-256 is set in Redis (SET NX) for as long as
   * any copy of it could pass the timestamp check, so a second post of the same body (a replay,
   * or the app's own retry) answers `duplicate` and queues nothing. This holds whether or not the
   * body has an `id`/`messageId` (which also name the queued job, as before).
   */
  async inbound(
    deviceId: string,
    rawBody: string,
    signature: string | undefined,
    timestamp: string | undefined,
    now = Date.now(),
  ): Promise<'accepted' | 'duplicate' | 'ignored'> {
    const device = await this.devices.find(deviceId);
    if (!device || device.transport !== 'smsgate' || !signature || !timestamp || !/^\d{1,16}$/.test(timestamp))
      throw apiError('UNAUTHORIZED', { message: 'Missing or invalid webhook signature.' });
    const ts = Number(timestamp);
    const tsMs = ts > 1e11 ? ts : ts * 1000;
    if (Math.abs(now - tsMs) > WEBHOOK_MAX_AGE_MS)
      throw apiError('UNAUTHORIZED', { message: 'The webhook timestamp is too old.' });
    const expected = createHmac('sha256', await this.signingKey(deviceId))
      .update(rawBody + timestamp)
      .digest();
    const given = /^[0-9a-fA-F]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw apiError('UNAUTHORIZED', { message: 'Missing or invalid webhook signature.' });

    const body = JSON.parse(rawBody) as unknown;
    if (!isObject(body) || body.event !== 'sms:received') return 'ignored';
    const p = isObject(body.payload) ? body.payload : {};
    const from = str(p.sender, INBOUND_SENDER_MAX) ?? str(p.phoneNumber, INBOUND_SENDER_MAX);
    const text = typeof p.message === 'string' ? p.message : null;
    if (!from || text === null)
      throw apiError('VALIDATION_FAILED', {
        details: [{ field: 'payload', message: 'sms:received needs payload.message and payload.sender/phoneNumber' }],
      });
    if (CONTROL_CHARS.test(from))
      throw apiError('VALIDATION_FAILED', {
        details: [{ field: 'payload.sender', message: 'the sender must not contain control characters' }],
      });
    const simNumber =
      typeof p.simNumber === 'number' && Number.isInteger(p.simNumber) && p.simNumber >= 1 && p.simNumber <= 8
        ? p.simNumber - 1
        : null;
    const receivedAt =
      typeof p.receivedAt === 'string' &&
      p.receivedAt.length <= STATUS_AT_MAX &&
      !Number.isNaN(Date.parse(p.receivedAt))
        ? p.receivedAt
        : new Date(now).toISOString();
    const dedup = str(body.id, 64) ?? str(p.messageId, 64);

    // A timestamp may be up to the window ahead and is accepted up to the window behind: a copy
    // of this body can pass for twice the window after the first one was seen.
    const seen = `${this.replayPrefix}:${deviceId}:${sha256(rawBody)}`;
    if ((await this.redis.set(seen, '1', 'PX', 2 * WEBHOOK_MAX_AGE_MS, 'NX')) !== 'OK') return 'duplicate';
    try {
      await this.queues.deviceEvents.add(
        'inbox',
        {
          deviceId,
          channel: 'inbox',
          payload: { messages: [{ from, body: text, receivedAt, simSlot: simNumber }] },
          receivedAt: new Date(now).toISOString(),
        },
        dedup ? { jobId: `smsgate-in-${deviceId}-${dedup.replace(/[^A-Za-z0-9_-]/g, '_')}` } : undefined,
      );
    } catch (error) {
      // Not queued: the app's retry must not be taken for a replay.
      await this.redis.del(seen).catch(() => undefined);
      throw error;
    }
    return 'accepted';
  }
}

export { keepOperatorSims, readSimCards, readStates } from './payloads.js';
