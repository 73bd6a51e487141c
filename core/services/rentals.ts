import { randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { isId, newId } from '../ids.js';
import { TOKENS } from '../tokens.js';
import { countryName, RentalPool, type PoolNumber } from './rental-pool.js';

/**
 * Rental rules. SMX is self-hosted and bills nothing: the price per SMS is 0 and a cancel
 * refunds 0. `duration` is in seconds.
 */
export const RENTAL_LIMITS = {
  duration: { min: 60, max: 86_400, default: 1_200 },
  pricePerSms: 0,
  refundAmount: 0,
} as const;

export type RentalStatus = 'active' | 'canceled' | 'expired';

export interface RentalView {
  rentalId: string;
  number: string;
  country: string;
  service: string | null;
  status: RentalStatus;
  createdAt: string;
  expiresAt: string;
  /** When the number was freed (cancel or expiry); null while active. */
  endedAt: string | null;
}

export interface RentalMessage {
  sender: string;
  text: string;
  receivedAt: string;
  /** The verification code found in the text, or null. */
  code: string | null;
}

export interface NumberAvailability {
  country: string;
  countryName: string;
  available: number;
  pricePerSms: number;
}

export interface RentRequest {
  country: string;
  service?: string;
  /** Seconds; {@link RENTAL_LIMITS}.duration. */
  duration?: number;
}

interface RentalRow {
  id: string;
  project_id: string;
  device_id: string;
  sim_slot: number;
  number: string;
  country: string;
  service: string | null;
  status: RentalStatus;
  created_at: Date;
  expires_at: Date;
  ended_at: Date | null;
}

/**
 * Number rental: the pool is the project's rentable SIMs; a number is held by one active rental
 * at a time (a partial unique index, migration 007); cancel and expiry free it.
 */
@injectable()
export class RentalService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly pool: RentalPool,
  ) {}

  /** Numbers per country of the project's pool, with how many are free now (countries with none free included). */
  async available(projectId: string, country?: string, now = new Date()): Promise<{ numbers: NumberAvailability[] }> {
    const pool = await this.pool.numbers(projectId, country);
    const held = await this.held(pool, now);
    const byCountry = new Map<string, number>();
    for (const n of pool)
      byCountry.set(n.country, (byCountry.get(n.country) ?? 0) + (held.has(simKey(n.deviceId, n.slot)) ? 0 : 1));
    const numbers = [...byCountry.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, available]) => ({
        country: c,
        countryName: countryName(c),
        available,
        pricePerSms: RENTAL_LIMITS.pricePerSms,
      }));
    return { numbers };
  }

  /**
   * Rents a free number of `country`. Atomic under concurrency: each candidate is claimed with an
   * insert that does nothing when another active rental holds that SIM, so two rentals never get
   * the same number; when every candidate is taken the answer is NO_NUMBERS_AVAILABLE.
   */
  async rent(projectId: string, request: RentRequest, now = new Date()): Promise<RentalView> {
    const pool = await this.pool.numbers(projectId, request.country);
    const none = () =>
      apiError('NO_NUMBERS_AVAILABLE', { message: `No rentable number is free for ${request.country}.` });
    if (pool.length === 0) throw none();
    // Rentals past their end still hold their SIM in the unique index until marked; mark them now.
    await this.expireDue(now, [...new Set(pool.map((n) => n.deviceId))]);
    const held = await this.held(pool, now);
    const expiresAt = new Date(now.getTime() + (request.duration ?? RENTAL_LIMITS.duration.default) * 1000);
    for (const candidate of shuffle(pool.filter((n) => !held.has(simKey(n.deviceId, n.slot))))) {
      const row = {
        id: newId('rnt'),
        project_id: projectId,
        device_id: candidate.deviceId,
        sim_slot: candidate.slot,
        number: candidate.number,
        country: candidate.country,
        service: request.service ?? null,
        status: 'active',
        created_at: now,
        expires_at: expiresAt,
      };
      const claimed = await this.db('rentals')
        .insert(row)
        .onConflict(this.db.raw(`(device_id, sim_slot) where status = 'active'`) as unknown as string)
        .ignore()
        .returning('id');
      if (claimed.length > 0) return toView({ ...row, ended_at: null } as RentalRow, now);
    }
    throw none();
  }

  async get(projectId: string, rentalId: string, now = new Date()): Promise<RentalView> {
    return toView(await this.find(projectId, rentalId), now);
  }

  /** The SMS the rented number received during the rental, oldest first. */
  async messages(
    projectId: string,
    rentalId: string,
    now = new Date(),
  ): Promise<RentalView & { messages: RentalMessage[] }> {
    const rental = await this.find(projectId, rentalId);
    const rows: Array<{ from: string; body: string; received_at: Date; code: string | null }> = await this.db(
      'inbound_sms',
    )
      .select('from', 'body', 'received_at', 'code')
      .where({ project_id: projectId, rental_id: rental.id })
      .orderBy([{ column: 'received_at' }, { column: 'seq' }]);
    const messages = rows.map((r) => ({
      sender: r.from,
      text: r.body,
      receivedAt: new Date(r.received_at).toISOString(),
      code: r.code,
    }));
    return { ...toView(rental, now), messages };
  }

  /**
   * Ends an active rental now and frees its number. Canceling a rental that already ended
   * changes nothing and answers its current state (a retried cancel is not an error).
   */
  async cancel(projectId: string, rentalId: string, now = new Date()): Promise<RentalView & { refundAmount: number }> {
    if (!isId('rnt', rentalId)) throw notFound();
    const [row] = (await this.db('rentals')
      .where({ id: rentalId, project_id: projectId, status: 'active' })
      .where('expires_at', '>', now)
      .update({ status: 'canceled', ended_at: now }, '*')) as RentalRow[];
    return { ...toView(row ?? (await this.find(projectId, rentalId)), now), refundAmount: RENTAL_LIMITS.refundAmount };
  }

  /** Marks active rentals past their end as expired (maintenance worker; renting, for its devices). */
  async expireDue(now = new Date(), deviceIds?: string[]): Promise<number> {
    const query = this.db('rentals').where({ status: 'active' }).where('expires_at', '<=', now);
    if (deviceIds) void query.whereIn('device_id', deviceIds);
    return query.update({ status: 'expired', ended_at: this.db.ref('expires_at') });
  }

  /**
   * For each SMS a device received, the rental it belongs to (or null): the rental of that device
   * whose window [created_at, ended_at or expires_at) holds the SMS's receive time, on its SIM slot.
   * An SMS without a slot goes to a rental only when just one of the device's rentals fits.
   * Deciding by receive time (not store time) keeps an SMS a phone forwards late with the rental
   * that was running when it arrived, never with the next renter of the number.
   */
  async rentalsFor(
    projectId: string,
    deviceId: string,
    received: Array<{ receivedAt: string; simSlot: number | null }>,
  ): Promise<Array<string | null>> {
    if (received.length === 0) return [];
    const times = received.map((r) => new Date(r.receivedAt).getTime());
    const rentals: Array<Pick<RentalRow, 'id' | 'sim_slot' | 'created_at' | 'expires_at' | 'ended_at'>> = await this.db(
      'rentals',
    )
      .select('id', 'sim_slot', 'created_at', 'expires_at', 'ended_at')
      .where({ project_id: projectId, device_id: deviceId })
      .where('created_at', '<=', new Date(Math.max(...times)))
      .whereRaw('coalesce(ended_at, expires_at) > ?', [new Date(Math.min(...times))]);
    if (rentals.length === 0) return received.map(() => null);
    return received.map((sms, i) => {
      const at = times[i]!;
      const fits = rentals.filter(
        (r) =>
          (sms.simSlot === null || r.sim_slot === sms.simSlot) &&
          new Date(r.created_at).getTime() <= at &&
          at < new Date(r.ended_at ?? r.expires_at).getTime(),
      );
      return fits.length === 1 ? fits[0]!.id : null;
    });
  }

  private async find(projectId: string, rentalId: string): Promise<RentalRow> {
    if (!isId('rnt', rentalId)) throw notFound();
    const row: RentalRow | undefined = await this.db('rentals').where({ id: rentalId, project_id: projectId }).first();
    if (!row) throw notFound();
    return row;
  }

  /** SIMs of `pool` held by a rental that is active now. */
  private async held(pool: PoolNumber[], now: Date): Promise<Set<string>> {
    if (pool.length === 0) return new Set();
    const rows: Array<{ device_id: string; sim_slot: number }> = await this.db('rentals')
      .select('device_id', 'sim_slot')
      .whereIn('device_id', [...new Set(pool.map((n) => n.deviceId))])
      .where({ status: 'active' })
      .where('expires_at', '>', now);
    return new Set(rows.map((r) => simKey(r.device_id, r.sim_slot)));
  }
}

function notFound() {
  return apiError('RENTAL_NOT_FOUND');
}

function simKey(deviceId: string, slot: number): string {
  return `${deviceId}:${slot}`;
}

/** Random order, so concurrent renters mostly try different SIMs first. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function toView(row: RentalRow, now: Date): RentalView {
  const expiresAt = new Date(row.expires_at);
  // Expiry is written by the maintenance worker every few seconds; the view is exact meanwhile.
  const status: RentalStatus = row.status === 'active' && expiresAt <= now ? 'expired' : row.status;
  const endedAt = row.ended_at ? new Date(row.ended_at) : status === 'expired' ? expiresAt : null;
  return {
    rentalId: row.id,
    number: row.number,
    country: row.country,
    service: row.service,
    status,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: expiresAt.toISOString(),
    endedAt: endedAt ? endedAt.toISOString() : null,
  };
}
