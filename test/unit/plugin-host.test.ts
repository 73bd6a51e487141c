/**
 * The plugin host and the hook runner without a server: a plugin's shape and name are checked,
 * a name is used once, a failing setup is wrapped with the plugin's name and its cause, `ctx`
 * reaches the router, the fixed hook list, the plugin routes and a config without secrets; hooks
 * run in order, `beforeSend` may rewrite or refuse, a failing observer is logged, never thrown.
 */
import { PassThrough } from 'node:stream';
import test from 'ava';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { CacheBus } from '../../core/cache.js';
import { loadConfig } from '../../core/config.js';
import { Router } from '../../core/delivery/router.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { Presence } from '../../core/presence/store.js';
import type { PresenceView } from '../../core/presence/view.js';
import type { HookName, OutgoingMessage, PluginContext } from '../../core/plugin-api.js';
import { HookRunner } from '../../core/hook-runner.js';
import { PluginError, PluginHost } from '../../core/plugins/plugin-host.js';
import type { RuntimeConfig } from '../../core/secrets.js';
import type { DeviceService, DeviceWithPresence } from '../../core/services/devices.js';

/** A logger whose JSON lines the test can read. */
function capturedLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const log = createLogger('debug', stream);
  const lines = () =>
    Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, lines };
}

const phone: DeviceWithPresence = {
  id: 'dev_a',
  projectId: 'prj_a',
  name: 'phone',
  model: null,
  appVersion: null,
  transport: 'mqtt',
  status: 'active',
  active: true,
  sendRatePerMinute: 30,
  sims: [{ slot: 0, number: null, carrier: null, rentable: false }],
  linkedAt: '2025-01-01T00:00:00.000Z',
  unlinkedAt: null,
  online: true,
  lastSeenAt: null,
  battery: null,
};

/** A host over only what it needs: a router over one phone, the hook runner, config and logger. */
function makeHost() {
  const { log, lines } = capturedLogger();
  const devices = {
    linked: async (projectId: string) => (projectId === 'prj_a' ? [phone] : []),
  } as unknown as DeviceService;
  const presence = { getMany: async (ids: string[]) => new Map(ids.map((id) => [id, phone as unknown as Presence])) };
  const router = new Router(
    devices,
    log,
    { on: () => undefined } as unknown as CacheBus,
    presence as unknown as PresenceView,
  );
  const hooks = new HookRunner(log);
  const config: RuntimeConfig = {
    ...loadConfig({
      REDIS_URL: 'redis://:redis-password@127.0.0.1:6379',
      DATABASE_URL: 'postgres://smx:db-password@127.0.0.1:5432/smx',
    }),
    adminToken: 'adm_must_not_leak',
    secret: 'server-secret-must-not-leak-0123456789',
  };
  return { host: new PluginHost({ router, hooks, config, logger: log }), router, hooks, lines };
}

const fixture = (name: string) => new URL(`../fixtures/plugins/${name}.js`, import.meta.url).href;

const outgoing = (over: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  id: 'msg_1',
  projectId: 'prj_a',
  to: '+4915112345678',
  body: 'Your code is 123456',
  kind: 'otp',
  attempt: 1,
  deviceId: 'dev_a',
  simSlot: null,
  ...over,
});

test('a plugin must be { name, setup }, with a plain name; the error names where it came from', async (t) => {
  const { host } = makeHost();
  for (const bad of [null, 'a string', {}, { name: 'x' }, { setup() {} }, { name: '  ', setup() {} }]) {
    const error = await t.throwsAsync(host.install(bad, 'bad-source.js'), { instanceOf: PluginError });
    t.regex(error!.message, /bad-source\.js: the default export must be \{ name: string, setup\(ctx\) \}/);
  }
  const badName = await t.throwsAsync(host.install({ name: '../escape', setup() {} }, 'bad-name.js'), {
    instanceOf: PluginError,
  });
  t.regex(badName!.message, /name "\.\.\/escape" must be letters, digits/);
  t.deepEqual(host.names(), [], 'nothing was installed');
});

test('a name is used once: the second plugin with it fails, naming both sources', async (t) => {
  const { host } = makeHost();
  await host.load([fixture('dup-a')]);
  const error = await t.throwsAsync(host.load([fixture('dup-b')]), { instanceOf: PluginError });
  t.regex(error!.message, /plugin name "duplicate-name" is used twice: by .*dup-a\.js and by .*dup-b\.js/);
  t.deepEqual(host.names(), ['duplicate-name']);
});

test('a module that cannot be imported, and a setup that throws, fail with the plugin named and the original error as cause', async (t) => {
  const { host } = makeHost();
  const missing = await t.throwsAsync(host.load([fixture('no-such-plugin')]), { instanceOf: PluginError });
  t.regex(missing!.message, /no-such-plugin\.js: cannot import it/);
  t.truthy(missing!.cause);

  const boom = new Error('setup exploded');
  const failed = await t.throwsAsync(host.install({ name: 'exploding', setup: () => Promise.reject(boom) }, 'inline'), {
    instanceOf: PluginError,
  });
  t.is(failed!.message, 'plugin "exploding" failed to set up');
  t.is(failed!.cause, boom);

  const unknownHook = await t.throwsAsync(host.load([fixture('unknown-hook')]), { instanceOf: PluginError });
  t.regex(
    String((unknownHook!.cause as Error).message),
    /plugin "unknown-hook": unknown hook "beforeSned" \(known: beforeSend, afterStatus, onInbound, onVerification\)/,
  );
});

test('plugins are set up in order with their own name and a child logger; each load is logged', async (t) => {
  const { host, lines } = makeHost();
  const seen: string[] = [];
  for (const name of ['first', 'second']) {
    await host.install(
      { name, version: '1.2.3', setup: (ctx: PluginContext) => void seen.push(ctx.name) },
      `${name}.js`,
    );
  }
  t.deepEqual(seen, ['first', 'second']);
  t.deepEqual(host.names(), ['first', 'second']);
  const loaded = lines().filter((l) => l.msg === 'plugin loaded');
  t.deepEqual(
    loaded.map((l) => [l.plugin, l.version, l.source]),
    [
      ['first', '1.2.3', 'first.js'],
      ['second', '1.2.3', 'second.js'],
    ],
  );

  let child: PluginContext['log'] | undefined;
  await host.install({ name: 'logs', setup: (ctx: PluginContext) => void (child = ctx.log) }, 'logs.js');
  child!.info('hello from a plugin');
  t.like(
    lines().find((l) => l.msg === 'hello from a plugin'),
    { plugin: 'logs' },
  );
});

test("ctx.config hides the admin token, the server secret and the URLs' passwords, and is frozen", async (t) => {
  const { host } = makeHost();
  let config: PluginContext['config'] | undefined;
  await host.install({ name: 'reads-config', setup: (ctx: PluginContext) => void (config = ctx.config) }, 'inline');
  t.false('adminToken' in config!);
  t.false('secret' in config!);
  t.is(config!.redisUrl, 'redis://:***@127.0.0.1:6379');
  t.is(config!.databaseUrl, 'postgres://smx:***@127.0.0.1:5432/smx');
  t.notRegex(JSON.stringify(config), /must-not-leak|redis-password|db-password/);
  t.true(Object.isFrozen(config));
  t.throws(() => (config!.plugins as string[]).push('sneaky'));
});

test('ctx.routing registers strategies on the router and reads devices as a copy of the shared snapshot', async (t) => {
  const { host, router } = makeHost();
  let ctx: PluginContext | undefined;
  await host.install({ name: 'routes', setup: (c: PluginContext) => void (ctx = c) }, 'inline');
  ctx!.routing.register('always-a', () => ({ deviceId: 'dev_a', simSlot: 0 }));
  t.true(router.has('always-a'));
  t.throws(() => ctx!.routing.register('always-a', () => ({ reason: 'X' })), { message: /already registered/ });
  t.throws(() => ctx!.routing.register('not-a-function', 'nope' as never), { message: /needs a function/ });
  t.deepEqual(
    await router.route({ id: 'msg_1', projectId: 'prj_a', to: '+1', body: 'b', kind: 'sms', attempt: 1 }, 'always-a'),
    { deviceId: 'dev_a', simSlot: 0 },
  );

  const copy = await ctx!.routing.devices('prj_a');
  t.deepEqual(
    copy.map((d) => d.id),
    ['dev_a'],
  );
  copy[0]!.active = false;
  copy.pop();
  t.deepEqual(
    (await router.devicesOf('prj_a')).map((d) => [d.id, d.active]),
    [['dev_a', true]],
    "the router's snapshot is untouched",
  );
});

test("ctx.http.route checks the route, prefixes it with the plugin's name, answers in the envelope, and closes after routeModule()", async (t) => {
  const { host } = makeHost();
  let ctx: PluginContext | undefined;
  await host.install({ name: 'items', setup: (c: PluginContext) => void (ctx = c) }, 'inline');
  ctx!.http.route({ method: 'GET', url: '/', handler: () => undefined });
  ctx!.http.route({
    method: 'POST',
    url: '/items/:id',
    handler: (request) => ({ project: request.projectId, id: request.params.id, body: request.body }),
  });
  for (const bad of [
    { method: 'TRACE', url: '/', handler: () => 1 },
    { method: 'GET', url: 'no-slash', handler: () => 1 },
    { method: 'GET', url: '/', handler: 'x' },
    null,
  ]) {
    t.throws(() => ctx!.http.route(bad as never), { message: /invalid route/ });
  }

  const module = host.routeModule();
  t.throws(() => ctx!.http.route({ method: 'GET', url: '/late', handler: () => 1 }), {
    message: /only be added during setup/,
  });
  const routes: RouteOptions[] = [];
  // Only `app.route` is used; the module is called as Fastify would register it.
  await (module as unknown as (app: FastifyInstance) => Promise<void>)({
    route: (options: RouteOptions) => void routes.push(options),
  } as unknown as FastifyInstance);
  t.deepEqual(
    routes.map((r) => `${String(r.method)} ${r.url}`),
    ['GET /plugins/items', 'POST /plugins/items/items/:id'],
  );
  t.deepEqual((routes[1]!.schema as { tags?: string[] } | undefined)?.tags, ['plugins']);

  const request = { projectId: 'prj_a', params: { id: '42' }, query: {}, body: { n: 1 }, headers: {}, log: {} };
  const handle = (r: RouteOptions) => (r.handler as unknown as (req: unknown) => Promise<unknown>)(request);
  t.deepEqual(await handle(routes[0]!), { success: true, data: null }, 'nothing returned is null');
  t.deepEqual(await handle(routes[1]!), { success: true, data: { project: 'prj_a', id: '42', body: { n: 1 } } });
  await t.throwsAsync(
    () => (routes[1]!.handler as unknown as (req: unknown) => Promise<unknown>)({ ...request, projectId: undefined }),
    { message: /./ },
    'no project, no call',
  );
});

test('ctx.hooks.on takes only the fixed hook names, and a function', async (t) => {
  const { host, hooks } = makeHost();
  let ctx: PluginContext | undefined;
  await host.install({ name: 'hooker', setup: (c: PluginContext) => void (ctx = c) }, 'inline');
  t.throws(() => ctx!.hooks.on('afterSend' as HookName, () => undefined), {
    message: /plugin "hooker": unknown hook "afterSend"/,
  });
  t.throws(() => ctx!.hooks.on('afterStatus', 'nope' as never), {
    message: /plugin "hooker": hook "afterStatus" needs a function/,
  });
  t.false(hooks.has('afterStatus'));
  ctx!.hooks.on('afterStatus', () => undefined);
  t.true(hooks.has('afterStatus'));
  t.false(hooks.has('onInbound'));
});

test('beforeSend runs in registration order on a copy; only `to` and `body` may change', async (t) => {
  const { hooks } = makeHost();
  const order: string[] = [];
  hooks.add('one', 'beforeSend', (m) => {
    order.push(`one:${m.body}`);
    m.body = `${m.body} [one]`; // in place
  });
  hooks.add('two', 'beforeSend', (m) => {
    order.push(`two:${m.body}`);
    return {
      ...m,
      body: `${m.body} [two]`,
      to: '+4915100000000',
      id: 'msg_forged',
      deviceId: 'dev_forged',
      simSlot: 3,
    };
  });
  const original = outgoing();
  const result = await hooks.beforeSend(original);
  t.deepEqual(order, ['one:Your code is 123456', 'two:Your code is 123456 [one]']);
  t.deepEqual(
    result,
    { message: { ...original, to: '+4915100000000', body: 'Your code is 123456 [one] [two]' } },
    'ids and routing stay what the core decided',
  );
  t.is(original.body, 'Your code is 123456', "the caller's message is not changed");
});

test('a throwing beforeSend refuses the message with its plugin and reason (at most 100 characters); later hooks do not run', async (t) => {
  const { hooks, lines } = makeHost();
  let laterRan = false;
  hooks.add('gate', 'beforeSend', () => {
    throw new Error(`blocked destination ${'x'.repeat(200)}`);
  });
  hooks.add('later', 'beforeSend', () => void (laterRan = true));
  const result = await hooks.beforeSend(outgoing());
  t.true('refused' in result);
  const refused = (result as { refused: string }).refused;
  t.true(refused.startsWith('PLUGIN_REFUSED:gate:blocked destination'));
  t.is(refused.length, 100);
  t.false(laterRan);
  t.like(
    lines().find((l) => l.msg === 'a plugin refused a message'),
    { plugin: 'gate', hook: 'beforeSend', messageId: 'msg_1' },
  );

  const silent = makeHost().hooks;
  silent.add('mute', 'beforeSend', () => {
    throw new Error('');
  });
  t.deepEqual(await silent.beforeSend(outgoing()), { refused: 'PLUGIN_REFUSED:mute' }, 'no reason, no trailing colon');
});

test('a beforeSend that empties the body or breaks `to` refuses the message as invalid', async (t) => {
  for (const change of [{ body: '' }, { to: 42 as unknown as string }, { body: undefined as unknown as string }]) {
    const { hooks } = makeHost();
    hooks.add('breaks', 'beforeSend', (m) => ({ ...m, ...change }));
    t.deepEqual(
      await hooks.beforeSend(outgoing()),
      { refused: 'PLUGIN_REFUSED:invalid message after beforeSend' },
      JSON.stringify(change),
    );
  }
  const { hooks } = makeHost();
  t.deepEqual(await hooks.beforeSend(outgoing()), { message: outgoing() }, 'no hook: the message as it was');
});

test("observers run for every plugin in order; a failing one is logged with its plugin's name and the others still run", async (t) => {
  const { hooks, lines } = makeHost();
  const seen: string[] = [];
  hooks.add('first', 'onInbound', (sms) => void seen.push(`first:${sms.body}`));
  hooks.add('broken', 'onInbound', async () => {
    throw new Error('observer bug');
  });
  hooks.add('third', 'onInbound', (sms) => void seen.push(`third:${sms.body}`));
  await t.notThrowsAsync(
    hooks.notify('onInbound', {
      deviceId: 'dev_a',
      from: '+1',
      body: 'hi',
      receivedAt: '2025-01-01T00:00:00.000Z',
      simSlot: null,
    }),
  );
  t.deepEqual(seen, ['first:hi', 'third:hi']);
  const failure = lines().find((l) => l.msg === 'plugin "broken" failed in hook onInbound');
  t.like(failure, { plugin: 'broken', hook: 'onInbound', level: 50 });
  t.like(failure?.err as object, { message: 'observer bug' });
  await t.notThrowsAsync(
    hooks.notify('afterStatus', { id: 'msg_1', deviceId: 'dev_a', status: 'SENT' }, { id: 'msg_1', state: 'sent' }),
    'no observer registered',
  );
});
