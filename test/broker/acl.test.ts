/** The ACL as pure functions and aedes handlers, without a network (device-protocol.md §4). */
import test from 'ava';
import type { Client, PublishPacket, Subscription } from 'aedes';
import { deviceTopic } from '../../protocol/topics.js';
import {
  canPublish,
  canPublishOrphanWill,
  canReceive,
  canSubscribe,
  createAcl,
  type ClientRole,
} from '../../broker/acl.js';
import { KICK_TOPIC } from '../../broker/bridge.js';

const me = 'dev_AAAAAAAAAAAAAAAAAAAAAA';
const other = 'dev_BBBBBBBBBBBBBBBBBBBBBB';
const device: ClientRole = { kind: 'device', deviceId: me };
const internal: ClientRole = { kind: 'internal' };

test('a device subscribes to exactly its own outbox and control', (t) => {
  t.true(canSubscribe(device, deviceTopic(me, 'outbox')));
  t.true(canSubscribe(device, deviceTopic(me, 'control')));
  for (const filter of [
    deviceTopic(me, 'status'),
    deviceTopic(me, 'inbox'),
    deviceTopic(me, 'presence'),
    deviceTopic(other, 'outbox'),
    deviceTopic(other, 'control'),
    '#',
    '+',
    '$SYS/#',
    '$SYS/+/heartbeat',
    'smx/v1/devices/+/outbox',
    'smx/v1/devices/#',
    `smx/v1/devices/${me}/#`,
    `smx/v1/devices/${me}/+`,
    `$share/g/${deviceTopic(me, 'outbox')}`,
    `${deviceTopic(me, 'outbox')}/more`,
    `/${deviceTopic(me, 'outbox')}`,
    KICK_TOPIC,
    '',
  ]) {
    t.false(canSubscribe(device, filter), filter);
  }
});

test('a device publishes to exactly its own status, inbox and presence', (t) => {
  t.true(canPublish(device, deviceTopic(me, 'status')));
  t.true(canPublish(device, deviceTopic(me, 'inbox')));
  t.true(canPublish(device, deviceTopic(me, 'presence')));
  for (const topic of [
    deviceTopic(me, 'outbox'),
    deviceTopic(me, 'control'),
    deviceTopic(other, 'status'),
    deviceTopic(other, 'presence'),
    KICK_TOPIC,
    '$SYS/x/heartbeat',
    'anything',
  ]) {
    t.false(canPublish(device, topic), topic);
  }
});

test('internal clients may do anything except publish to $ topics', (t) => {
  t.true(canSubscribe(internal, '#'));
  t.true(canSubscribe(internal, '$SYS/#'));
  t.true(canPublish(internal, deviceTopic(other, 'outbox')));
  t.true(canPublish(internal, KICK_TOPIC));
  t.false(canPublish(internal, '$SYS/x/heartbeat'));
  t.true(canReceive(internal, deviceTopic(other, 'status')));
});

test('an unauthenticated client may do nothing', (t) => {
  t.false(canSubscribe(undefined, deviceTopic(me, 'outbox')));
  t.false(canPublish(undefined, deviceTopic(me, 'status')));
  t.false(canReceive(undefined, deviceTopic(me, 'outbox')));
});

test('a device receives only its own outbox and control, whatever it subscribed', (t) => {
  t.true(canReceive(device, deviceTopic(me, 'outbox')));
  t.true(canReceive(device, deviceTopic(me, 'control')));
  t.false(canReceive(device, deviceTopic(other, 'outbox')));
  t.false(canReceive(device, deviceTopic(me, 'status')));
});

test("a dead node's will is published only on the presence topic of the device that stored it", (t) => {
  t.true(canPublishOrphanWill({ topic: deviceTopic(me, 'presence'), clientId: me }));
  t.false(canPublishOrphanWill({ topic: deviceTopic(other, 'presence'), clientId: me }));
  t.false(canPublishOrphanWill({ topic: deviceTopic(me, 'status'), clientId: me }));
  t.false(canPublishOrphanWill({ topic: deviceTopic(me, 'presence') }));
});

test('the aedes handlers negate refused subscriptions and error refused publishes', (t) => {
  const phone = {} as Client;
  const roles = new Map<Client, ClientRole>([[phone, device]]);
  const acl = createAcl((client) => roles.get(client));

  const results: Array<[Error | null, Subscription | null | undefined]> = [];
  const own: Subscription = { topic: deviceTopic(me, 'outbox'), qos: 1 };
  acl.authorizeSubscribe(phone, own, (error, sub) => results.push([error, sub]));
  acl.authorizeSubscribe(phone, { topic: '#', qos: 1 }, (error, sub) => results.push([error, sub]));
  t.deepEqual(results, [
    [null, own],
    [null, null],
  ]);

  const packet = (topic: string, extra: object = {}) =>
    ({
      cmd: 'publish',
      topic,
      payload: Buffer.from('{}'),
      qos: 1,
      dup: false,
      retain: false,
      ...extra,
    }) as PublishPacket;
  const errors: Array<Error | null | undefined> = [];
  acl.authorizePublish(phone, packet(deviceTopic(me, 'status')), (error) => errors.push(error));
  acl.authorizePublish(phone, packet(deviceTopic(other, 'status')), (error) => errors.push(error));
  acl.authorizePublish(null, packet(deviceTopic(me, 'presence'), { clientId: me }), (error) => errors.push(error));
  acl.authorizePublish(null, packet(deviceTopic(me, 'presence'), { clientId: other }), (error) => errors.push(error));
  t.is(errors[0], null);
  t.regex(errors[1]?.message ?? '', /not allowed/);
  t.is(errors[2], null);
  t.truthy(errors[3]);

  const forward = (topic: string) => acl.authorizeForward(phone, packet(topic) as never);
  t.truthy(forward(deviceTopic(me, 'outbox')));
  t.falsy(forward(deviceTopic(other, 'outbox')));
});
