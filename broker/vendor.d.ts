/** Typings for aedes-persistence-redis, which ships none (only what broker/ uses). */
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';

  namespace aedesPersistenceRedis {
    interface Options {
      /** A connection to use instead of one built from the ioredis options. */
      conn?: Redis;
      /** Offline packets delivered on CONNECT: `LRANGE outgoing:{client} 0 maxSessionDelivery`. @defaultValue 1000 */
      maxSessionDelivery?: number;
      /** Seconds a queued packet is kept; 0 = forever. @defaultValue () => 0 */
      packetTTL?: (packet: unknown) => number;
    }
    /** aedes-persistence's CallBackPersistence: every method returns a promise when called without a callback. */
    interface Persistence {
      setup(broker: unknown): Promise<void>;
      destroy(): Promise<void>;
      addSubscriptions(client: { id: string }, subs: Array<{ topic: string; qos: number }>): Promise<unknown>;
      [method: string]: unknown;
    }
  }
  function aedesPersistenceRedis(options?: aedesPersistenceRedis.Options): aedesPersistenceRedis.Persistence;
  export = aedesPersistenceRedis;
}

/** Typings for msgpack-lite (aedes-persistence-redis's encoding of stored packets; only what broker/ uses). */
declare module 'msgpack-lite' {
  export function encode(value: unknown): Buffer;
  export function decode(buffer: Buffer | Uint8Array): unknown;
}
