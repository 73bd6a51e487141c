/**
 * `/metrics` as Prometheus reads it: scraped over HTTP and parsed with a Prometheus text-format
 * parser (parse-prometheus-text-format, a port of the Python client's parser). The default
 * Node.js/process metrics carry their standard names (stock dashboards read them), SMX's own are
 * `smx_*`, and the counters and histograms move when an OTP goes through a real phone. The same
 * registry is served by the SMX_METRICS_PORT listener, which `smx worker` and `smx broker` use.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import test from 'ava';
import { startReceiver } from '../helpers/webhook-receiver.js';
import {
  cleanupTestSmx,
  createProject,
  linkNewDevice,
  startPhone,
  startTestSmx,
  useSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const current = useSmx(test, 'metrics', { env: { SMX_METRICS_PORT: '0', SMX_WEBHOOK_ALLOW_PRIVATE: 'true' } });

type Scrape = Map<string, Family> & { text: string };

async function scrape(url: string, token: string): Promise<Scrape> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`scrape ${url}: ${response.status}`);
  if (!/^text\/plain; version=0\.0\.4/.test(response.headers.get('content-type') ?? ''))
    throw new Error(`scrape ${url}: content-type ${response.headers.get('content-type')}`);
  const text = await response.text();
  return Object.assign(new Map(parsePrometheus(text).map((f) => [f.name, f])), { text });
}

const metricsOf = (smx: TestSmx) => scrape(`${smx.url}/metrics`, smx.adminToken);

/**
 * The value of one series (labels matched on the keys given; a histogram's is its count); 0 when
 * absent. The parser folds a histogram with labels into one sample without them (it handles the
 * unlabelled kind only), so a labelled histogram's count is read from its `_count` line.
 */
function value(families: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (family?.type === 'HISTOGRAM' && Object.keys(labels).length > 0) {
    for (const line of families.text.split('\n')) {
      const match = /^(\w+)_count\{(.*)\} (\S+)$/.exec(line);
      if (match?.[1] !== name) continue;
      const has = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
      if (Object.entries(labels).every(([k, v]) => has[k] === v)) return Number(match[3]);
    }
    return 0;
  }
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? sample?.count ?? 0);
}

test("default Node.js and process metrics keep their standard names; everything of SMX's own is smx_*", async (t) => {
  const smx = current();
  const families = await metricsOf(smx);
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
    'process_open_fds',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_version_info',
    'nodejs_gc_duration_seconds',
  ]) {
    t.true(families.has(name), `${name} is exposed (stock Node.js dashboards read it)`);
  }
  const names = [...families.keys()];
  t.deepEqual(
    names.filter((n) => n.startsWith('smx_process_') || n.startsWith('smx_nodejs_')),
    [],
    'no doubled prefix',
  );
  t.deepEqual(
    names.filter((n) => !/^(smx|process|nodejs)_/.test(n)),
    [],
    "every other metric is SMX's own",
  );
  for (const [name, type] of [
    ['smx_otp_requests_total', 'COUNTER'],
    ['smx_otp_verifications_total', 'COUNTER'],
    ['smx_messages_total', 'COUNTER'],
    ['smx_webhook_deliveries_total', 'COUNTER'],
    ['smx_device_connections_total', 'COUNTER'],
    ['smx_message_accepted_to_sent_seconds', 'HISTOGRAM'],
    ['smx_dispatch_batch_size', 'HISTOGRAM'],
    ['smx_http_request_duration_seconds', 'HISTOGRAM'],
    ['smx_devices_online', 'GAUGE'],
    ['smx_devices_offline', 'GAUGE'],
    ['smx_messages_queued', 'GAUGE'],
    ['smx_queue_jobs', 'GAUGE'],
  ] as const) {
    t.is(families.get(name)?.type, type, name);
  }
  // The per-scrape GROUP BY over the message log is gone (counted on transitions instead).
  t.false(families.has('smx_messages'));
  // Counters exist at 0 from the start (a rate() or an alert needs the series before the first event).
  t.is(families.get('smx_messages_total')?.metrics.length, 12);
  t.is(value(families, 'smx_otp_verifications_total', { result: 'verified' }), 0);
});

test('an OTP through a real phone moves the counters and histograms; the log lines name it', async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const { projectId, key } = await createProject(smx);
  t.is(
    (
      await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
        url: receiver.url,
        events: ['message.delivered'],
      })
    ).status,
    201,
  );
  const credentials = await linkNewDevice(smx, projectId);
  const before = await metricsOf(smx);
  await startPhone(t, credentials);
  await eventually(
    async () => value(await metricsOf(smx), 'smx_devices_online', { transport: 'mqtt' }) === 1,
    10_000,
    'the phone online',
  );

  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678', code: '482913' });
  t.is(sent.status, 201);
  const { verificationId, messageId } = sent.body.data as { verificationId: string; messageId: string };
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  t.is((await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '000000' })).body.data.status, 'PENDING');
  t.is((await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '482913' })).body.data.status, 'VERIFIED');
  t.is((await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '482913' })).status, 409);
  await eventually(async () => receiver.received.length >= 1, 10_000, 'the webhook');

  const after = await eventually(
    async () => {
      const m = await metricsOf(smx);
      return value(m, 'smx_webhook_deliveries_total', { result: 'delivered' }) >
        value(before, 'smx_webhook_deliveries_total', { result: 'delivered' })
        ? m
        : undefined;
    },
    10_000,
    'the webhook counted',
  );
  const delta = (name: string, labels: Record<string, string> = {}) =>
    value(after, name, labels) - value(before, name, labels);
  t.is(delta('smx_otp_requests_total'), 1);
  t.is(delta('smx_otp_verifications_total', { result: 'wrong_code' }), 1);
  t.is(delta('smx_otp_verifications_total', { result: 'verified' }), 1);
  t.is(delta('smx_otp_verifications_total', { result: 'refused' }), 1);
  for (const status of ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED'])
    t.is(delta('smx_messages_total', { kind: 'otp', status }), 1, status);
  t.is(delta('smx_messages_total', { kind: 'otp', status: 'FAILED' }), 0);
  t.is(delta('smx_message_accepted_to_sent_seconds', { kind: 'otp' }), 1, 'one accepted → sent time observed');
  const sentSeconds = Number(/^smx_message_accepted_to_sent_seconds_sum\{kind="otp"\} (\S+)$/m.exec(after.text)?.[1]);
  t.true(sentSeconds >= 0 && sentSeconds < 10, `accepted → sent took ${sentSeconds} s`);
  t.is(delta('smx_dispatch_batch_size'), 1);
  t.true(delta('smx_device_connections_total', { transport: 'mqtt' }) >= 1);
  t.is(value(after, 'smx_devices_offline', { transport: 'mqtt' }), 0);
  t.is(value(after, 'smx_messages_queued'), 0);
  t.true(delta('smx_http_request_duration_seconds', { method: 'POST', route: '/v1/send-otp', status: '201' }) >= 1);

  // Log lines: hostname and pid on every one; the access line of each call names what it was about.
  const lines = smx
    .logs()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(
    lines.every((l) => typeof l.hostname === 'string' && typeof l.pid === 'number'),
    'hostname and pid on every line',
  );
  const access = (route: string) =>
    lines.filter((l) => l.msg === 'request' && l.route === route && l.projectId === projectId);
  t.like(access('/v1/send-otp')[0], { projectId, verificationId, messageId, status: 201 });
  t.true(
    access('/v1/verify-otp').length === 3 && access('/v1/verify-otp').every((l) => l.verificationId === verificationId),
  );
  t.like(access('/v1/messages/:id')[0], { messageId });
  t.false(smx.logs().includes('482913'), 'never the code');
});

/** The metric names a PromQL text uses (SMX's own, the Node/process defaults, and Prometheus' `up`). */
function metricNames(promql: string): string[] {
  return [...promql.matchAll(/\b((?:smx|process|nodejs)_[A-Za-z0-9_]+|up)\b(?=\s*[{[)]|\s*$|\s*[=!<>]|\s)/g)].map(
    (m) => m[1]!,
  );
}

test('every metric the Grafana dashboard and the alert rules use is one SMX exposes', async (t) => {
  const families = await metricsOf(current());
  const root = new URL('../../../', import.meta.url);
  const dashboard = JSON.parse(readFileSync(new URL('deploy/grafana/smx-dashboard.json', root), 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr)),
    ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
    ...[
      ...readFileSync(new URL('deploy/prometheus/smx-alerts.yml', root), 'utf8').matchAll(
        /^\s+expr: (?:\|\n)?([\s\S]*?)\n\s+for:/gm,
      ),
    ].map((m) => m[1]!),
  ];
  t.true(exprs.length > 20, `${exprs.length} expressions`);
  const used = new Set(exprs.flatMap(metricNames));
  for (const name of [
    'smx_devices_offline',
    'smx_messages_queued',
    'smx_queue_jobs',
    'smx_messages_total',
    'process_cpu_seconds_total',
  ])
    t.true(used.has(name), `${name} is used`);
  for (const name of used) {
    if (name === 'up') continue; // Prometheus' own, per target
    const family = name.replace(/_(bucket|sum|count)$/, '');
    const exposed = families.has(name) || (families.get(family)?.type === 'HISTOGRAM' && family !== name);
    t.true(exposed, `${name} is exposed`);
  }
});

test('the SMX_METRICS_PORT listener serves the same registry, health, and wants the admin token', async (t) => {
  const smx = current();
  const ops = smx.smx.ops!;
  t.truthy(ops);
  const base = `http://127.0.0.1:${ops.port}`;
  t.is((await fetch(`${base}/metrics`)).status, 401);
  t.is((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401);
  const families = await scrape(`${base}/metrics`, smx.adminToken);
  t.true(families.has('process_cpu_seconds_total') && families.has('smx_messages_total'));
  const ready = await fetch(`${base}/health/ready`);
  t.is(ready.status, 200);
  t.like(await ready.json(), {
    success: true,
    data: { status: 'ok', checks: { redis: 'up', database: 'up', broker: 'up' } },
  });
  t.is((await fetch(`${base}/health/live`)).status, 200);
  t.is((await fetch(`${base}/nope`)).status, 404);
});

test('split roles: a broker-only process has its own listener, ready and with its own counters', async (t) => {
  const broker = await startTestSmx('metrics broker-only', {
    roles: { api: false, worker: false, broker: true },
    env: { SMX_METRICS_PORT: '0' },
  });
  t.teardown(async () => {
    await broker.close();
    await cleanupTestSmx(broker);
  });
  t.is(broker.smx.http, null);
  const base = `http://127.0.0.1:${broker.smx.ops!.port}`;
  const ready = await fetch(`${base}/health/ready`);
  t.is(ready.status, 200);
  t.like(await ready.json(), { data: { checks: { broker: 'up' } } });
  const families = await scrape(`${base}/metrics`, broker.adminToken);
  t.is(value(families, 'smx_device_connections_total', { transport: 'mqtt' }), 0);
  t.is(families.get('process_cpu_seconds_total')?.type, 'COUNTER');
});
