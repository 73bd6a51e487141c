import { CacheBus, TtlCache } from '../cache.js';
import { injectable } from '../di.js';
import { PresenceStore, type Presence } from './store.js';

/**
 * Presence as routing and dispatch read it: kept in this process and forgotten per device when the
 * PresenceStore announces an online/offline change (CacheBus, every process), so a project of
 * thousands of phones is not read from Redis again on every routing snapshot, only the phones
 * that changed. The TTL is the safety net for a lost notice; vitals (battery, lastSeenAt of a
 * report) may be that old, the online flag is not.
 */
@injectable()
export class PresenceView {
  private readonly cache = new TtlCache<Presence>(10_000, 1_000_000);
  /** Notices seen per device: a read that a notice overtook is used but not kept. */
  private readonly notices = new Map<string, number>();

  constructor(
    private readonly store: PresenceStore,
    bus: CacheBus,
  ) {
    bus.on('presence', (deviceId) => {
      this.cache.delete(deviceId);
      this.notices.set(deviceId, (this.notices.get(deviceId) ?? 0) + 1);
    });
  }

  async get(deviceId: string): Promise<Presence> {
    return (await this.getMany([deviceId])).get(deviceId)!;
  }

  async getMany(deviceIds: string[]): Promise<Map<string, Presence>> {
    const result = new Map<string, Presence>();
    const missing: string[] = [];
    for (const id of deviceIds) {
      const hit = this.cache.get(id);
      if (hit) result.set(id, hit);
      else missing.push(id);
    }
    if (missing.length === 0) return result;
    const seen = missing.map((id) => this.notices.get(id));
    const loaded = await this.store.getMany(missing);
    missing.forEach((id, i) => {
      const presence = loaded.get(id)!;
      result.set(id, presence);
      if (this.notices.get(id) === seen[i]) this.cache.set(id, presence);
    });
    return result;
  }
}
