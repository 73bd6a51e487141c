/**
 * Broker authentication (docs/device-protocol.md §2): a phone connects with
 * `clientId` = `username` = its device id and its device secret as password; server-side
 * components use the internal credentials ({@link internalCredentials}). Every accepted client is
 * marked with its {@link ClientRole} for the ACL, the bridge and presence.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '../core/index.js';
import { canPublish, type ClientRole } from './acl.js';
import { INTERNAL_CLIENT_ID_PREFIX, INTERNAL_USERNAME, isInternalCredential } from './internal-credentials.js';

/**
 * Checks a device's credentials: true only for a linked device with the right secret. The
 * composition root passes `deviceService.verifyCredentials.bind(deviceService)`.
 */
export type DeviceVerifier = (deviceId: string, secret: string) => Promise<boolean>;

/** Options of {@link cacheDeviceVerifier}. */
export interface CredentialCacheOptions {
  /**
   * Registers the eviction: `evictAll` must run whenever a device may have stopped being valid
   * (unlinked, its project deleted), in every process; the composition root hands it to
   * CacheBus for the `devices` and `project` scopes.
   */
  subscribe: (evictAll: () => void) => void;
  /** How long an accepted (device, secret) pair is trusted without asking the database. @defaultValue 5 000 */
  ttlMs?: number;
  /** Entries kept at most (the oldest go first). @defaultValue 100 000 */
  maxEntries?: number;
  /**
   * Checks running at once; the others wait here, in order. The device service reads the running
   * ones together (a few statements of up to 500 devices each), so a storm of thousands of
   * CONNECTs shares a handful of pool connections (presence and dispatch do not starve) and
   * nothing waits long enough to fail on the pool's acquire timeout.
   * @defaultValue 1 000
   */
  maxConcurrent?: number;
  /** A check that waited this long for its turn fails (CONNACK 3 "server unavailable": retry later). @defaultValue 10 000 */
  maxQueueMs?: number;
}

/** A {@link DeviceVerifier} with a cache in front; `size` is the number of cached devices. */
export interface CachedDeviceVerifier extends DeviceVerifier {
  readonly size: number;
}

/** Times a verification is asked again when a device changed while it ran, before its answer is used uncached. */
const MAX_REVERIFY = 3;

/**
 * Puts a short cache in front of `verify` for connect storms: a phone that reconnects within
 * `ttlMs` (a CONNACK timeout, a session take-over, a flapping radio) costs no database query, and
 * concurrent CONNECTs with the same credentials share one. Only accepted credentials are cached
 * (a wrong secret always reaches the database, a newly linked device works at once), keyed by
 * device id and the SHA-256 of the secret, compared in constant time.
 *
 * An unlinked device's secret must stop working at once (device-protocol.md §2), so every
 * `subscribe` notice empties the whole cache. The notices name a project, not a device, and
 * links, unlinks and device changes are rare next to connects, so emptying is cheap and needs no
 * device → project map. A check that was running when a notice came may have read the row before
 * the change: its yes is not cached and is asked again (at most {@link MAX_REVERIFY} times).
 * At most `maxConcurrent` checks reach the database at once (see the option).
 */
export function cacheDeviceVerifier(verify: DeviceVerifier, options: CredentialCacheOptions): CachedDeviceVerifier {
  const ttlMs = options.ttlMs ?? 5000;
  const maxEntries = options.maxEntries ?? 100_000;
  const accepted = new Map<string, { digest: Buffer; expires: number }>();
  const pending = new Map<string, Promise<boolean>>();
  const turn = limiter(options.maxConcurrent ?? 1000, options.maxQueueMs ?? 10_000);
  let generation = 0;
  options.subscribe(() => {
    generation++;
    accepted.clear();
    pending.clear();
  });

  async function load(deviceId: string, secret: string, digest: Buffer): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const started = generation;
      const valid = await turn(() => verify(deviceId, secret));
      if (!valid) return false;
      if (started === generation) {
        accepted.delete(deviceId); // re-inserted last: the Map's order is the eviction order
        if (accepted.size >= maxEntries) accepted.delete(accepted.keys().next().value!);
        accepted.set(deviceId, { digest, expires: Date.now() + ttlMs });
        return true;
      }
      if (attempt >= MAX_REVERIFY) return true; // as fresh as an uncached check; not cached
    }
  }

  const cached = (deviceId: string, secret: string): Promise<boolean> => {
    const digest = createHash('sha256').update(secret).digest();
    const hit = accepted.get(deviceId);
    if (hit && hit.expires > Date.now() && timingSafeEqual(hit.digest, digest)) return Promise.resolve(true);
    const key = `${deviceId}:${digest.toString('base64')}`;
    const running = pending.get(key);
    if (running) return running;
    const loading = load(deviceId, secret, digest).finally(() => {
      if (pending.get(key) === loading) pending.delete(key);
    });
    pending.set(key, loading);
    return loading;
  };
  return Object.defineProperty(cached, 'size', { get: () => accepted.size }) as CachedDeviceVerifier;
}

/** Runs at most `max` tasks at once, the rest in order; a task that waits `maxWaitMs` for its turn rejects without running. */
function limiter(max: number, maxWaitMs: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<{ start: () => void; timer: NodeJS.Timeout }> = [];
  const next = () => {
    while (running < max && waiting.length > 0) {
      const entry = waiting.shift()!;
      clearTimeout(entry.timer);
      entry.start();
    }
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const entry = {
        start: () => {
          running++;
          task()
            .then(resolve, reject)
            .finally(() => {
              running--;
              next();
            });
        },
        timer: setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new Error(`device credentials not checked: waited ${maxWaitMs} ms for a turn at the database`));
        }, maxWaitMs).unref(),
      };
      waiting.push(entry);
      next();
    });
}

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 that authentication answers with. */
export const CONNACK = {
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** Client -> role, held weakly so a closed connection's entry goes with its client object. */
export class ClientRoles {
  private readonly roles = new WeakMap<Client, ClientRole>();

  set(client: Client, role: ClientRole): void {
    this.roles.set(client, role);
  }

  /** The role of an authenticated client; undefined before (or without) authentication. */
  get(client: Client): ClientRole | undefined {
    return this.roles.get(client);
  }

  /** The device id when the client is a device, else undefined. */
  deviceId(client: Client): string | undefined {
    const role = this.roles.get(client);
    return role?.kind === 'device' ? role.deviceId : undefined;
  }
}

export interface AuthenticatorOptions {
  verifyDevice: DeviceVerifier;
  /** The server secret the internal password is derived from. */
  secret: string;
  roles: ClientRoles;
  log: Logger;
}

/** The aedes `preConnect` and `authenticate` handlers. */
export interface Authenticator {
  preConnect: NonNullable<AedesOptions['preConnect']>;
  authenticate: NonNullable<AedesOptions['authenticate']>;
}

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Builds the handlers. `preConnect` only remembers the CONNECT's will topic: aedes stores a will
 * without asking `authorizePublish`, and a will on another device's topic would otherwise sit in
 * the shared session store until a broker node dies and another node publishes it. So a will the
 * client could not publish itself refuses the connection (CONNACK 5).
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { verifyDevice, secret, roles, log } = options;
  const willTopics = new WeakMap<Client, string>();

  function accept(client: Client, role: ClientRole, done: Parameters<Authenticator['authenticate']>[3]): void {
    const willTopic = willTopics.get(client);
    if (willTopic !== undefined && !canPublish(role, willTopic)) {
      log.warn({ clientId: client.id, willTopic }, 'mqtt connection refused: will topic not allowed');
      done(refusal(CONNACK.notAuthorized, 'will topic not allowed'), null);
      return;
    }
    roles.set(client, role);
    done(null, true);
  }

  return {
    preConnect(client, packet, callback) {
      if (packet.will?.topic !== undefined) willTopics.set(client, packet.will.topic);
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      if (username === INTERNAL_USERNAME) {
        if (!isInternalCredential(secret, username, password)) {
          log.warn({ clientId: client.id }, 'mqtt connection refused: bad internal credentials');
          done(refusal(CONNACK.badUsernameOrPassword, 'bad user name or password'), null);
        } else if (!client.id.startsWith(INTERNAL_CLIENT_ID_PREFIX)) {
          done(
            refusal(CONNACK.identifierRejected, `internal client ids start with ${INTERNAL_CLIENT_ID_PREFIX}`),
            null,
          );
        } else {
          accept(client, { kind: 'internal' }, done);
        }
        return;
      }
      // §2: clientId = username = device id. Anything else is a bad user name.
      if (typeof username !== 'string' || !username.startsWith('dev_') || client.id !== username || !password) {
        log.debug({ clientId: client.id }, 'mqtt connection refused: not a device identity');
        done(refusal(CONNACK.badUsernameOrPassword, 'bad user name or password'), null);
        return;
      }
      verifyDevice(username, password.toString('utf8')).then(
        (valid) => {
          if (valid) return accept(client, { kind: 'device', deviceId: username }, done);
          log.debug({ deviceId: username }, 'mqtt connection refused: bad device credentials');
          done(refusal(CONNACK.badUsernameOrPassword, 'bad user name or password'), null);
        },
        (error: unknown) => {
          // The database is unreachable, not the device wrong: "server unavailable" makes it retry.
          log.error({ err: error, deviceId: username }, 'device credentials could not be checked');
          done(refusal(CONNACK.serverUnavailable, 'server unavailable'), null);
        },
      );
    },
  };
}
