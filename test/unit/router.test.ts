/**
 * The router: strategies by name (active-device built in, an unknown name falls back to it), a
 * per-project snapshot of the devices read at most once a second and dropped on a change, a
 * strategy's choice checked against the project's devices, and re-routing away from a route.
 * No server: the device list is a function the test controls.
 */
import test from 'ava';
import type { CacheBus, CacheScope } from '../../core/cache.js';
import {
  activeDevice,
  Router,
  type RoutingDevice,
  type RoutingMessage,
  type RoutingStrategy,
} from '../../core/delivery/router.js';
import type { Logger } from '../../core/logger.js';
import type { Presence } from '../../core/presence/store.js';
import type { PresenceView } from '../../core/presence/view.js';
import type { DeviceService, DeviceWithPresence, Sim } from '../../core/services/devices.js';

const sim = (slot: number): Sim => ({ slot, number: null, carrier: null, rentable: false });

function device(id: string, over: Partial<DeviceWithPresence> = {}): DeviceWithPresence {
  return {
    id,
    projectId: 'prj_a',
    name: `phone ${id}`,
    model: null,
    appVersion: null,
    transport: 'mqtt',
    status: 'standby',
    active: false,
    sendRatePerMinute: 30,
    sims: [sim(0)],
    linkedAt: '2025-01-01T00:00:00.000Z',
    unlinkedAt: null,
    online: true,
    lastSeenAt: '2025-01-01T00:00:00.000Z',
    battery: null,
    ...over,
  };
}

const message = (over: Partial<RoutingMessage> = {}): RoutingMessage => ({
  id: 'msg_1',
  projectId: 'prj_a',
  to: '+4915112345678',
  body: 'hi',
  kind: 'otp',
  attempt: 1,
  ...over,
});

/**
 * A router over an in-memory device list (the same array until a test replaces it, as
 * DeviceService's cache gives); counts linked() calls and presence reads, records warnings, and
 * can fire invalidations. Presence is read from the list's `online` and `lastSeenAt`.
 */
function harness(initial: Record<string, DeviceWithPresence[]>) {
  const lists = { ...initial };
  const loads: string[] = [];
  const presenceReads: string[][] = [];
  const warnings: unknown[] = [];
  const handlers = new Map<CacheScope, Array<(id: string) => void>>();
  const devices = {
    linked: async (projectId: string) => {
      loads.push(projectId);
      return lists[projectId] ?? [];
    },
  } as unknown as DeviceService;
  const presence = {
    getMany: async (ids: string[]) => {
      presenceReads.push(ids);
      const all = Object.values(lists).flat();
      return new Map(
        ids.map((id) => {
          const d = all.find((candidate) => candidate.id === id);
          return [id, { online: d?.online ?? false, lastSeenAt: d?.lastSeenAt ?? null } as Presence];
        }),
      );
    },
  };
  const log = { warn: (fields: unknown) => void warnings.push(fields) } as unknown as Logger;
  const bus = {
    on: (scope: CacheScope, fn: (id: string) => void) => handlers.set(scope, [...(handlers.get(scope) ?? []), fn]),
  } as unknown as CacheBus;
  const router = new Router(devices, log, bus, presence as unknown as PresenceView);
  const invalidate = (scope: CacheScope, id: string) => handlers.get(scope)?.forEach((fn) => fn(id));
  return { router, lists, loads, presenceReads, warnings, invalidate };
}

test('active-device picks the active device, online or not, and says why when there is none', (t) => {
  const offlineActive = { ...device('dev_b', { active: true, online: false }) } as RoutingDevice;
  t.deepEqual(activeDevice(message(), [device('dev_a') as RoutingDevice, offlineActive]), {
    deviceId: 'dev_b',
    simSlot: null,
  });
  t.deepEqual(activeDevice(message(), [device('dev_a') as RoutingDevice]), { reason: 'NO_ACTIVE_DEVICE' });
  t.deepEqual(activeDevice(message(), []), { reason: 'NO_ACTIVE_DEVICE' });
});

test('strategies are registered once by name; active-device is there from the start', (t) => {
  const { router } = harness({});
  t.deepEqual(router.names(), ['active-device']);
  router.register('first-online', (_m, devices) => ({ deviceId: devices.find((d) => d.online)!.id }));
  t.true(router.has('first-online'));
  t.deepEqual(router.names(), ['active-device', 'first-online']);
  t.throws(() => router.register('first-online', activeDevice), { message: /already registered/ });
  t.throws(
    () => router.register('active-device', activeDevice),
    { message: /already registered/ },
    'the built-in cannot be replaced',
  );
});

test("a strategy sees the project's devices as routing devices (no project id, status or battery), and its decision comes back", async (t) => {
  const { router } = harness({ prj_a: [device('dev_a', { active: true, sims: [sim(0), sim(1)] })] });
  const seen: RoutingDevice[][] = [];
  router.register('spy', (_m, devices) => {
    seen.push(devices);
    return { deviceId: 'dev_a', simSlot: 1 };
  });
  t.deepEqual(await router.route(message(), 'spy'), { deviceId: 'dev_a', simSlot: 1 });
  t.deepEqual(seen[0], [
    {
      id: 'dev_a',
      name: 'phone dev_a',
      active: true,
      online: true,
      lastSeenAt: '2025-01-01T00:00:00.000Z',
      sims: [sim(0), sim(1)],
      sendRatePerMinute: 30,
    },
  ]);
});

test('an unknown strategy name falls back to active-device and is logged with the project', async (t) => {
  const { router, warnings } = harness({ prj_a: [device('dev_a'), device('dev_b', { active: true })] });
  t.deepEqual(await router.route(message(), 'removed-plugin'), { deviceId: 'dev_b', simSlot: null });
  t.deepEqual(warnings, [{ strategy: 'removed-plugin', projectId: 'prj_a' }]);
});

test('a strategy that picks a device outside the project is refused with STRATEGY_CHOSE_UNKNOWN_DEVICE; reasons pass through', async (t) => {
  const { router } = harness({
    prj_a: [device('dev_a', { active: true })],
    prj_b: [device('dev_other', { projectId: 'prj_b', active: true })],
  });
  router.register('rogue', () => ({ deviceId: 'dev_other' }));
  router.register('none', () => ({ reason: 'NO_MATCHING_SIM' }));
  t.deepEqual(await router.route(message(), 'rogue'), { reason: 'STRATEGY_CHOSE_UNKNOWN_DEVICE' });
  t.deepEqual(await router.route(message(), 'none'), { reason: 'NO_MATCHING_SIM' });
});

test('routeMany reads the devices once for all messages, in order, one decision per message', async (t) => {
  const { router, loads } = harness({ prj_a: [device('dev_a'), device('dev_b')] });
  router.register('by-parity', (m) => ({ deviceId: Number(m.id.slice(4)) % 2 ? 'dev_a' : 'dev_b' }));
  const messages = [1, 2, 3, 4].map((i) => message({ id: `msg_${i}` }));
  const decisions = await router.routeMany('prj_a', messages, 'by-parity');
  t.deepEqual(
    decisions.map((d) => ('deviceId' in d ? d.deviceId : d.reason)),
    ['dev_a', 'dev_b', 'dev_a', 'dev_b'],
  );
  t.deepEqual(loads, ['prj_a']);
});

test('the devices snapshot is read once a second per project, shared by concurrent routes, and dropped at once on a device or project change', async (t) => {
  const { router, lists, loads, invalidate } = harness({
    prj_a: [device('dev_a', { active: true })],
    prj_b: [device('dev_b', { active: true })],
  });
  const [first, second] = await Promise.all([router.devicesOf('prj_a'), router.devicesOf('prj_a')]);
  t.is(first, second, 'the same array: a strategy may memoize on it');
  await router.route(message(), 'active-device');
  await router.devicesOf('prj_b');
  t.deepEqual(loads, ['prj_a', 'prj_b'], 'one load per project');

  // A newly activated device is seen at once after the invalidation, not a second later.
  lists.prj_a = [device('dev_a'), device('dev_c', { active: true })];
  t.deepEqual(
    await router.route(message(), 'active-device'),
    { deviceId: 'dev_a', simSlot: null },
    'still the snapshot',
  );
  invalidate('devices', 'prj_a');
  t.deepEqual(await router.route(message(), 'active-device'), { deviceId: 'dev_c', simSlot: null });
  invalidate('project', 'prj_a');
  await router.devicesOf('prj_a');
  await router.devicesOf('prj_b');
  t.deepEqual(loads, ['prj_a', 'prj_b', 'prj_a', 'prj_a'], 'only the project that changed was read again');
});

test('the snapshot expires after a second', async (t) => {
  const { router, loads } = harness({ prj_a: [device('dev_a', { active: true })] });
  await router.devicesOf('prj_a');
  await new Promise((resolve) => setTimeout(resolve, 1_050));
  await router.devicesOf('prj_a');
  t.deepEqual(loads, ['prj_a', 'prj_a']);
});

test('a second later with nothing changed, the same view without a presence read; a phone coming or going rebuilds it', async (t) => {
  const { router, lists, presenceReads, invalidate } = harness({
    prj_a: [device('dev_a', { active: true }), device('dev_b', { online: false })],
  });
  const first = await router.devicesOf('prj_a');
  await new Promise((resolve) => setTimeout(resolve, 1_050));
  t.is(await router.devicesOf('prj_a'), first, 'nothing changed: the same array (a strategy keeps its memo)');
  t.is(presenceReads.length, 1);

  lists.prj_a![1]!.online = true;
  invalidate('presence', 'dev_b');
  invalidate('presence', 'dev_elsewhere'); // a phone this router never routed to changes nothing
  await new Promise((resolve) => setTimeout(resolve, 1_050));
  const rebuilt = await router.devicesOf('prj_a');
  t.not(rebuilt, first);
  t.deepEqual(
    rebuilt.map((d) => [d.id, d.online]),
    [
      ['dev_a', true],
      ['dev_b', true],
    ],
  );
  t.is(presenceReads.length, 2);
});

test('routeAway lets the strategy choose among the other devices only', async (t) => {
  const { router } = harness({
    prj_a: [device('dev_a', { active: true }), device('dev_b'), device('dev_c', { online: false })],
  });
  const offered: string[][] = [];
  const firstOnline: RoutingStrategy = (_m, devices) => {
    offered.push(devices.map((d) => d.id));
    const online = devices.find((d) => d.online);
    return online ? { deviceId: online.id, simSlot: 0 } : { reason: 'NONE_ONLINE' };
  };
  router.register('first-online', firstOnline);
  t.deepEqual(await router.routeAway(message(), 'first-online', { deviceId: 'dev_a', simSlot: null }), {
    deviceId: 'dev_b',
    simSlot: 0,
  });
  t.deepEqual(offered, [['dev_b', 'dev_c']], 'the avoided device is not offered');
});

test('routeAway falls back to another SIM of the same phone, and finds nothing when the SIM was unknown or there is no other', async (t) => {
  const { router } = harness({
    prj_a: [device('dev_a', { active: true, sims: [sim(0), sim(1)] })],
    prj_single: [device('dev_s', { projectId: 'prj_single', active: true })],
  });
  t.deepEqual(
    await router.routeAway(message(), 'active-device', { deviceId: 'dev_a', simSlot: 0 }),
    { deviceId: 'dev_a', simSlot: 1 },
    'no other device: the other SIM',
  );
  t.is(
    await router.routeAway(message(), 'active-device', { deviceId: 'dev_a', simSlot: null }),
    undefined,
    'the SIM it went out on is unknown',
  );
  t.is(
    await router.routeAway(message({ projectId: 'prj_single' }), 'active-device', { deviceId: 'dev_s', simSlot: 0 }),
    undefined,
    'one phone, one SIM',
  );

  const two = harness({ prj_a: [device('dev_a', { active: true, sims: [sim(0), sim(1)] }), device('dev_b')] });
  two.router.register('stubborn', () => ({ deviceId: 'dev_a' }));
  t.deepEqual(
    await two.router.routeAway(message(), 'stubborn', { deviceId: 'dev_a', simSlot: 1 }),
    { deviceId: 'dev_a', simSlot: 0 },
    'a strategy that insists on the avoided device is not followed',
  );
});
