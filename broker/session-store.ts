/**
 * MQTT session state in Redis (aedes-persistence-redis): persistent subscriptions, QoS 1
 * packets queued for offline phones, retained messages and wills, shared by every broker node.
 *
 * Key namespace: aedes-persistence-redis has no prefix option; its keys are fixed names
 * (`clients`, `client:{id}`, `outgoing:{id}`, `packet:{broker}:{n}`, `retained`, `will`, ...).
 * It runs no Lua and no key SCAN outside Redis Cluster mode (the only scan is HSCAN over the
 * fields of the `retained` hash), and where it stores key names as values (the `outgoing:{id}`
 * and `will` lists) it only ever reads them back to use them as keys again. So an ioredis
 * `keyPrefix` on its dedicated connection namespaces everything transparently:
 * `{redisPrefix}:mqtt:clients`, `{redisPrefix}:mqtt:outgoing:dev_...`, and so on.
 *
 * Payloads rest sealed (session-seal.ts): a queued outbox publish holds an OTP.
 */
import aedesPersistenceRedis from 'aedes-persistence-redis';
import type { Client } from 'aedes';
import type { Redis } from 'ioredis';
import { type Logger, connectRedis } from '../core/index.js';
import { canSubscribe } from './acl.js';
import type { ClientRoles } from './auth.js';
import type { InFlight } from './in-flight.js';
import { useFastOutgoing } from './outgoing-qos1.js';
import { PayloadSealer, sealSessionPayloads, sealStoredPackets } from './session-seal.js';

/**
 * Offline packets a phone gets per CONNECT. The library reads `LRANGE outgoing:{id} 0 N` once
 * per CONNECT (so N + 1 packets); whatever lies beyond stays queued until the next CONNECT.
 * Its default of 1000 would strand messages of a phone that was away during a bulk send.
 * @defaultValue 100 000
 */
export const DEFAULT_MAX_SESSION_DELIVERY = 100_000;

/**
 * Seconds a queued packet survives in Redis: the longest a message may wait for its phone (a
 * custom SMS's `ttl`, SMS_LIMITS.ttl.max in core/sending/sms.ts; an OTP's is at most 30 min).
 * After that the phone would report it EXPIRED anyway. Bounds the session of a phone that never
 * returns (an unlinked device can no longer connect). Payloads are sealed for all of it.
 * @defaultValue 3 days
 */
export const DEFAULT_SESSION_PACKET_TTL_SECONDS = 3 * 24 * 3600;

/** The persistence methods aedes calls and awaits; each is tracked so close() can wait for it. */
const TRACKED_METHODS = [
  'storeRetained',
  'addSubscriptions',
  'removeSubscriptions',
  'subscriptionsByClient',
  'subscriptionsByTopic',
  'cleanSubscriptions',
  'countOffline',
  'outgoingEnqueue',
  'outgoingEnqueueCombi',
  'outgoingUpdate',
  'outgoingClearMessageId',
  'incomingStorePacket',
  'incomingGetPacket',
  'incomingDelPacket',
  'putWill',
  'getWill',
  'delWill',
] as const;

export interface SessionStoreOptions {
  redisUrl: string;
  redisPrefix: string;
  roles: ClientRoles;
  inFlight: InFlight;
  /** The server secret the payload sealing key is derived from (the same on every broker node). */
  secret: string;
  log?: Logger;
  maxSessionDelivery?: number;
  /** 0 keeps queued packets forever. */
  packetTtlSeconds?: number;
}

export interface SessionStore {
  /** The aedes `persistence` option. */
  persistence: aedesPersistenceRedis.Persistence;
  /** The dedicated, prefixed connection (for readiness). */
  redis: Redis;
  /** Closes the store and its connection; call after aedes closed and in-flight work settled. */
  close(): Promise<void>;
}

/** The ioredis keyPrefix of the session store: `{redisPrefix}:mqtt:`. */
export function sessionKeyPrefix(redisPrefix: string): string {
  return `${redisPrefix}:mqtt:`;
}

export async function openSessionStore(options: SessionStoreOptions): Promise<SessionStore> {
  const { roles, inFlight } = options;
  const redis = await connectRedis(options.redisUrl, { keyPrefix: sessionKeyPrefix(options.redisPrefix) });
  const ttl = options.packetTtlSeconds ?? DEFAULT_SESSION_PACKET_TTL_SECONDS;
  const persistence = aedesPersistenceRedis({
    conn: redis,
    maxSessionDelivery: options.maxSessionDelivery ?? DEFAULT_MAX_SESSION_DELIVERY,
    packetTTL: () => ttl,
  });

  const methods = persistence as unknown as Record<string, (...args: unknown[]) => unknown>;
  // Sealing hooks the inner instance the callback wrapper delegates to, so every path is covered.
  const sealer = new PayloadSealer(options.secret);
  const inner = (persistence as unknown as { asyncPersistence?: Record<string, unknown> }).asyncPersistence;
  if (!inner)
    throw new Error('aedes-persistence-redis without asyncPersistence: the session sealing hooks need updating');
  sealSessionPayloads(inner, sealer, (error, method) =>
    options.log?.warn({ err: error, method }, 'mqtt session packet could not be opened; skipped'),
  );
  // QoS 1 packets to phones: one Redis round trip where the library makes four (see outgoing-qos1.ts).
  useFastOutgoing(methods, redis, ttl, (payload) => sealer.seal(payload));
  // Packets an older SMX queued rest in plain text for up to 7 days: seal them now.
  const resealed = await sealStoredPackets(redis, sessionKeyPrefix(options.redisPrefix), sealer, ttl).catch(
    async (error: unknown) => {
      redis.disconnect();
      throw error;
    },
  );
  if (resealed > 0) options.log?.info({ packets: resealed }, 'mqtt session packets stored in plain text were sealed');
  for (const name of TRACKED_METHODS) {
    const original = methods[name]!.bind(persistence);
    methods[name] = (...args: unknown[]) => {
      const result = original(...args);
      if (result instanceof Promise) inFlight.track(result);
      return result;
    };
  }

  // aedes stores a persistent session's SUBSCRIBE once per topic, each time with the whole
  // packet.subscriptions array (lib/handlers/subscribe.js storeSubscriptions), refused topics
  // included. The library's broadcast then waits for its own `$SYS/sub/add` echo under a key made
  // of client id + first topic: a second call under the same key replaces the first one's waiter,
  // and once the echo is not immediate (the Redis emitter of cluster mode) the first call never
  // resolves. Three fixes here:
  // - only what the ACL grants is stored: `[own outbox, '#']` would otherwise leave '#' in the
  //   session and queue every QoS 1 packet for that phone;
  // - the calls for one packet share one write;
  // - one client's subscription changes run one after another: the broker subscribing a new
  //   session to outbox + control (presence.ts) and the phone's own SUBSCRIBE of the same topics
  //   overlap, and the loser (a SUBACK, or the phone's online mark) would never come.
  const inTurn = oneAtATimePerClient();
  const addSubscriptions = methods.addSubscriptions!;
  const storing = new WeakMap<object, unknown>();
  methods.addSubscriptions = (client: unknown, subs: unknown) => {
    const packetSubs = subs as Array<{ topic: string }>;
    const pending = storing.get(packetSubs);
    if (pending) return pending;
    const role = roles.get(client as Client);
    const allowed = packetSubs.filter((sub) => canSubscribe(role, sub.topic));
    // An empty HMSET is a Redis error; nothing to store is success.
    const stored =
      allowed.length === 0 ? Promise.resolve(client) : inTurn(client, () => addSubscriptions(client, allowed));
    storing.set(packetSubs, stored);
    return stored;
  };
  const removeSubscriptions = methods.removeSubscriptions!;
  methods.removeSubscriptions = (client: unknown, topics: unknown) =>
    inTurn(client, () => removeSubscriptions(client, topics));

  let closed: Promise<void> | undefined;
  return {
    persistence,
    redis,
    close() {
      // destroy() unsubscribes from the broker's emitter and disconnects the connection.
      closed ??= persistence.destroy().catch(() => redis.disconnect());
      return closed;
    },
  };
}

/** Runs each client's calls one after another (keyed by client id); different clients run at once. */
function oneAtATimePerClient(): (client: unknown, work: () => unknown) => Promise<unknown> {
  const tails = new Map<string, Promise<unknown>>();
  return (client, work) => {
    const id = (client as { id: string }).id;
    const run = (tails.get(id) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    tails.set(id, tail);
    void tail.then(() => {
      if (tails.get(id) === tail) tails.delete(id);
    });
    return run;
  };
}
