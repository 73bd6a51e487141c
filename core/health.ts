import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { inject, injectable } from './di.js';
import type { DevicePublisher } from './delivery/publisher.js';
import { withTimeout } from './redis.js';
import { TOKENS } from './tokens.js';

export type Check = 'redis' | 'database' | 'broker';
export type HealthReport = Record<Check, 'up' | 'down'>;

/** Reachability of what SMX depends on, each check bounded so a hung dependency reads as down. */
@injectable()
export class HealthService {
  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.DevicePublisher) private readonly publisher: DevicePublisher,
  ) {}

  async redisUp(timeoutMs = 1000): Promise<boolean> {
    return withTimeout(this.redis.ping(), timeoutMs).then(
      () => true,
      () => false,
    );
  }

  async check(timeoutMs = 1000): Promise<HealthReport> {
    const [redis, database] = await Promise.all([
      this.redisUp(timeoutMs),
      withTimeout(this.db.raw('select 1'), timeoutMs).then(
        () => true,
        () => false,
      ),
    ]);
    const up = (ok: boolean): 'up' | 'down' => (ok ? 'up' : 'down');
    return { redis: up(redis), database: up(database), broker: up(this.publisher.ready()) };
  }
}
