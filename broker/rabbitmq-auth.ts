/**
 * SMX as the HTTP auth backend of RabbitMQ (rabbitmq_auth_backend_http) when RabbitMQ's MQTT
 * plugin is the external broker (README "External broker: RabbitMQ"): the embedded broker's
 * checks, answered as RabbitMQ asks them. A phone logs in with its device id and secret (the same
 * cached check, {@link cacheDeviceVerifier}), SMX's own clients with the internal credentials, and
 * every topic is judged by the per-device ACL of acl.ts.
 *
 * What RabbitMQ 3.10.8's MQTT plugin sends (form fields of a POST; logged while writing this):
 *
 * - user: `username`, `password`, `vhost`, `client_id`
 * - vhost: `username`, `vhost`, `ip`, `tags`, `client_id`
 * - resource: `username`, `vhost`, `resource` (`queue` | `exchange`), `name`, `permission`
 *   (`configure` | `write` | `read`), `tags`, `client_id`. A SUBSCRIBE asks configure, read and
 *   write on the client's queue `mqtt-subscription-{clientId}qos{0|1}` and read on `amq.topic`;
 *   a PUBLISH (and the will, when the connection drops) asks write on `amq.topic`.
 * - topic: `username`, `vhost`, `resource` (`topic`), `name` (the exchange), `permission`
 *   (`read` for a SUBSCRIBE, `write` for a PUBLISH or the will), `routing_key` (the MQTT topic with
 *   `/` and `.` swapped and `+` as `*`), `tags`, `variable_map.client_id`, `variable_map.username`,
 *   `variable_map.vhost`.
 *
 * Only MQTT connections carry a client id: a login without one (AMQP on port 5672) is refused, so
 * a phone's secret opens its own MQTT topics and nothing else in RabbitMQ. RabbitMQ 3.10 answers a
 * refused SUBSCRIBE or PUBLISH by closing the connection (no SUBACK 0x80).
 */
import type { Logger, MqttAuthAnswer, MqttAuthBackend, MqttAuthParams } from '../core/index.js';
import { canPublish, canSubscribe, type ClientRole } from './acl.js';
import type { DeviceVerifier } from './auth.js';
import { INTERNAL_CLIENT_ID_PREFIX, INTERNAL_USERNAME, isInternalCredential } from './internal-credentials.js';

export interface RabbitMqAuthOptions {
  /** The device check the embedded broker uses (with its cache and its limit on database checks at once). */
  verifyDevice: DeviceVerifier;
  /** The server secret the internal password is derived from. */
  secret: string;
  /** The one virtual host SMX's clients may use (RabbitMQ's `mqtt.vhost`). */
  vhost: string;
  logger: Logger;
}

/** The exchange RabbitMQ's MQTT plugin routes through (its default `mqtt.exchange`). */
export const MQTT_EXCHANGE = 'amq.topic';

/**
 * The MQTT topic or filter of a routing key from RabbitMQ's MQTT plugin, which swaps `/` and `.`
 * and writes the `+` wildcard as `*` (`#` stays `#`).
 */
export function mqttTopicOf(routingKey: string): string {
  return routingKey.replace(/[./*]/g, (c) => (c === '.' ? '/' : c === '/' ? '.' : '+'));
}

/**
 * The role of the asking connection, from its user name and MQTT client id: the internal client
 * (client id `smx-…`, as the embedded broker requires) or a device whose client id is its user
 * name (device-protocol.md §2). Anything else, or no client id (not MQTT), has none.
 */
function roleOf(params: MqttAuthParams): ClientRole | undefined {
  const username = params.username;
  const clientId = params.client_id ?? params['variable_map.client_id'];
  if (!username || !clientId) return undefined;
  if (username === INTERNAL_USERNAME) {
    return clientId.startsWith(INTERNAL_CLIENT_ID_PREFIX) ? { kind: 'internal' } : undefined;
  }
  return username.startsWith('dev_') && clientId === username ? { kind: 'device', deviceId: username } : undefined;
}

const allow = (yes: boolean): MqttAuthAnswer => (yes ? 'allow' : 'deny');

/**
 * Builds the answers to RabbitMQ's four questions (the interface the HTTP route serves); see the
 * module comment for what each question carries. `user` asks the database when not cached.
 */
export function rabbitMqAuth(options: RabbitMqAuthOptions): MqttAuthBackend {
  const { verifyDevice, secret, vhost, logger } = options;
  const log = logger.child({ component: 'rabbitmq-auth' });
  const inVhost = (params: MqttAuthParams) => params.vhost === vhost;

  return {
    async user(params) {
      const role = roleOf(params);
      const { username, password } = params;
      if (!role || !password) {
        log.debug(
          { username, clientId: params.client_id },
          'rabbitmq login refused: not a device or internal identity',
        );
        return 'deny';
      }
      if (role.kind === 'internal') {
        const valid = isInternalCredential(secret, username, password);
        if (!valid) log.warn({ clientId: params.client_id }, 'rabbitmq login refused: bad internal credentials');
        return allow(valid);
      }
      // A failed check (the database unreachable) throws: the route answers 503, RabbitMQ refuses this attempt.
      const valid = await verifyDevice(role.deviceId, password);
      if (!valid) log.debug({ deviceId: role.deviceId }, 'rabbitmq login refused: bad device credentials');
      return allow(valid);
    },

    vhost(params) {
      return allow(roleOf(params) !== undefined && inVhost(params));
    },

    resource(params) {
      const clientId = params.client_id;
      if (!roleOf(params) || !inVhost(params) || !clientId) return 'deny';
      const { resource, name, permission } = params;
      if (resource === 'exchange')
        return allow(name === MQTT_EXCHANGE && (permission === 'read' || permission === 'write'));
      if (resource === 'queue') {
        // The client's own subscription queues only; never a queue named after another client id.
        const own = name === `mqtt-subscription-${clientId}qos0` || name === `mqtt-subscription-${clientId}qos1`;
        return allow(own && (permission === 'configure' || permission === 'read' || permission === 'write'));
      }
      return 'deny';
    },

    topic(params) {
      const role = roleOf(params);
      const routingKey = params.routing_key;
      if (!role || !inVhost(params) || params.resource !== 'topic' || params.name !== MQTT_EXCHANGE) return 'deny';
      if (routingKey === undefined) return 'deny';
      const topic = mqttTopicOf(routingKey);
      // RabbitMQ 3.10 gives `$` no meaning: `$share/group/…` would be a plain topic nothing is
      // published to. Refused, so the external bridge falls back to plain subscriptions.
      if (topic.startsWith('$')) return 'deny';
      const allowed =
        params.permission === 'write'
          ? canPublish(role, topic)
          : params.permission === 'read'
            ? canSubscribe(role, topic)
            : false;
      if (!allowed)
        log.debug({ username: params.username, topic, permission: params.permission }, 'rabbitmq topic refused');
      return allow(allowed);
    },
  };
}
