/**
 * Broker authentication (spec/device-protocol.md §2): a phone connects with
 * `clientId` = `username` = its device id and its device secret as password; server-side
 * components use the internal credentials ({@link internalCredentials}). Every accepted client is
 * marked with its {@link ClientRole} for the ACL, the bridge and presence.
 */
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '../core/logger.js';
import { canPublish, type ClientRole } from './acl.js';
import { INTERNAL_CLIENT_ID_PREFIX, INTERNAL_USERNAME, isInternalCredential } from './internal-credentials.js';

/**
 * Checks a device's credentials: true only for a linked device with the right secret. The
 * composition root passes `deviceService.verifyCredentials.bind(deviceService)`.
 */
export type DeviceVerifier = (deviceId: string, secret: string) => Promise<boolean>;

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
          done(refusal(CONNACK.identifierRejected, `internal client ids start with ${INTERNAL_CLIENT_ID_PREFIX}`), null);
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
