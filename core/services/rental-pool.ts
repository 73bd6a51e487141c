import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { parsePhone } from '../phone.js';
import { TOKENS } from '../tokens.js';
import type { Sim } from './devices.js';

/** One rentable SIM of a project: a device's slot with a number whose country is known. */
export interface PoolNumber {
  deviceId: string;
  slot: number;
  /** E.164. */
  number: string;
  /** ISO 3166-1 alpha-2, from libphonenumber. */
  country: string;
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** The English name of an ISO 3166-1 alpha-2 region ("US" -> "United States"). */
export function countryName(country: string): string {
  try {
    return regionNames.of(country) ?? country;
  } catch {
    return country;
  }
}

/**
 * A project's rentable numbers: the SIMs of its linked devices (active or standby) marked
 * `rentable` with a valid number. Read fresh from the database each time (renting must not hand
 * out a SIM the operator just took out of the pool).
 */
@injectable()
export class RentalPool {
  constructor(@inject(TOKENS.Knex) private readonly db: Knex) {}

  async numbers(projectId: string, country?: string): Promise<PoolNumber[]> {
    const rows: Array<{ id: string; sims: Sim[] | string }> = await this.db('devices')
      .select('id', 'sims')
      .where({ project_id: projectId })
      .whereNot({ status: 'unlinked' })
      .orderBy('linked_at');
    const pool: PoolNumber[] = [];
    for (const row of rows) {
      const sims: Sim[] = typeof row.sims === 'string' ? JSON.parse(row.sims) : (row.sims ?? []);
      for (const sim of sims) {
        if (!sim.rentable || !sim.number) continue;
        const parsed = tryParse(sim.number);
        if (!parsed || (country && parsed.country !== country)) continue;
        pool.push({ deviceId: row.id, slot: sim.slot, ...parsed });
      }
    }
    return pool;
  }
}

function tryParse(number: string): { number: string; country: string } | null {
  try {
    const parsed = parsePhone(number);
    return parsed.countryIso ? { number: parsed.e164, country: parsed.countryIso } : null;
  } catch {
    // A SIM number the phone reported wrongly is not rentable; the operator sees it in the device.
    return null;
  }
}
