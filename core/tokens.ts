/** DI tokens for everything that is not a class. Only `core` registers them (see container.ts). */
export const TOKENS = {
  /** Readonly<SmxConfig> with secrets resolved ({@link RuntimeConfig}). */
  Config: Symbol.for('smx.Config'),
  /** pino Logger */
  Logger: Symbol.for('smx.Logger'),
  /** ioredis client for commands (never put into subscriber mode) */
  Redis: Symbol.for('smx.Redis'),
  /** Knex instance (PostgreSQL or PGlite) */
  Knex: Symbol.for('smx.Knex'),
  /** DevicePublisher: how the core reaches a phone (embedded broker or MQTT client) */
  DevicePublisher: Symbol.for('smx.DevicePublisher'),
  /** Queues: the BullMQ queues the core enqueues to */
  Queues: Symbol.for('smx.Queues'),
  /** Endpoints: the bound public URLs (filled in at start) */
  Endpoints: Symbol.for('smx.Endpoints'),
  /** prom-client Registry of this process */
  Metrics: Symbol.for('smx.Metrics'),
} as const;
