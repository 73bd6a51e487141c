/**
 * The deploy files, checked as far as this machine allows. Always: the Dockerfile (stages,
 * non-root USER, ENTRYPOINT/CMD, HEALTHCHECK, what it copies), compose.yaml (services, profiles,
 * commands, health checks, start order) and the systemd units, parsed here; every SMX setting they
 * name is one core/config.ts reads. With the tool installed: `docker compose config` (or
 * docker-compose), hadolint, `systemd-analyze verify`, promtool (rules, their unit tests, the
 * example config), and the image build where a Docker engine answers. A missing tool skips its
 * test (ava lists it as skipped), it does not fail.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';

const ROOT = new URL('../../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Whether `command args` runs and exits 0 (a tool is installed and, for docker, answers). */
function works(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
  return result.status === 0;
}
function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
  });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Every environment variable core/config.ts reads (its string literals that look like one). */
const CONFIG_VARIABLES = new Set([...read('core/config.ts').matchAll(/'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!));
/** Read by Node itself, not by SMX's config. */
const NOT_SMX = new Set(['NODE_ENV']);

// ── Dockerfile ───────────────────────────────────────────────────────────────────────────────

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions with continuation lines joined and comments dropped; `stage` counts FROMs. */
function dockerfile(): Instruction[] {
  const joined = read('Dockerfile')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  let stage = -1;
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [, op, args] = /^(\w+)\s+(.*)$/.exec(line)!;
      if (op!.toUpperCase() === 'FROM') stage++;
      return { op: op!.toUpperCase(), args: args!.trim(), stage };
    });
}

test('Dockerfile: multi-stage, the runtime stage runs node dist/bin/smx.js as a non-root user with a health check on /health/ready', (t) => {
  const all = dockerfile();
  const froms = all.filter((i) => i.op === 'FROM');
  t.true(froms.length >= 2, 'a build stage and a runtime stage');
  t.regex(froms[0]!.args, /\bAS build$/i);
  const last = froms.length - 1;
  const runtime = all.filter((i) => i.stage === last);
  t.notRegex(runtime[0]!.args, /\bAS\b/i, 'the runtime stage is the last, unnamed one');

  const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
  t.truthy(user, 'USER in the runtime stage');
  t.false(['root', '0', '0:0'].includes(user!), `runs as ${user}`);
  // USER comes before what runs: ENTRYPOINT/CMD/HEALTHCHECK are after it.
  const index = (op: string) => runtime.findIndex((i) => i.op === op);
  t.true(index('USER') < index('ENTRYPOINT') && index('USER') < index('HEALTHCHECK'));

  t.deepEqual(JSON.parse(runtime.find((i) => i.op === 'ENTRYPOINT')!.args), ['node', 'dist/bin/smx.js']);
  t.deepEqual(JSON.parse(runtime.find((i) => i.op === 'CMD')!.args), ['start']);
  const healthcheck = runtime.find((i) => i.op === 'HEALTHCHECK')!.args;
  const probe = /CMD\s+(\[.*\])$/.exec(healthcheck)?.[1];
  t.deepEqual(JSON.parse(probe!), ['node', 'deploy/docker/healthcheck.mjs']);
  const script = read('deploy/docker/healthcheck.mjs');
  t.regex(script, /\/health\/ready/);
  for (const name of script.matchAll(/env\.([A-Z][A-Z0-9_]+)/g))
    t.true(CONFIG_VARIABLES.has(name[1]!), `${name[1]} is an SMX setting`);

  t.deepEqual(
    runtime
      .find((i) => i.op === 'EXPOSE')!
      .args.split(/\s+/)
      .slice(0, 3),
    ['8080', '1883', '8083'],
  );
  for (const env of runtime.filter((i) => i.op === 'ENV')) {
    for (const [, name] of env.args.matchAll(/([A-Z][A-Z0-9_]*)=/g))
      t.true(CONFIG_VARIABLES.has(name!) || NOT_SMX.has(name!), `ENV ${name} is read by SMX`);
  }
  // The runtime stage copies the build's output and production dependencies, no sources.
  const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
  t.true(copies.some((c) => /--from=build\s+\/app\/dist\s/.test(c)));
  t.true(copies.some((c) => /--from=build\s+\/app\/node_modules\s/.test(c)));
  t.true(
    all.some((i) => i.stage === 0 && i.op === 'RUN' && /npm prune --omit=dev/.test(i.args)),
    'dev dependencies are dropped',
  );
  // Every local COPY source exists and is not excluded by .dockerignore.
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
    const sources = copy.args
      .split(/\s+/)
      .filter((a) => !a.startsWith('--'))
      .slice(0, -1);
    for (const source of sources.filter((s) => s !== '.')) {
      t.true(existsSync(join(ROOT, source)), `COPY ${source} exists`);
      t.false(
        ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)),
        `COPY ${source} is not in .dockerignore`,
      );
    }
  }
  // What `npm run build` needs is in the context.
  for (const needed of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'bin',
    'core',
    'broker',
    'workers',
    'plugins',
    'migrations',
    'device',
  ]) {
    t.false(
      ignored.some((pattern) => needed === pattern || needed.startsWith(`${pattern}/`)),
      `${needed} is in the build context`,
    );
  }
});

const HADOLINT = works('hadolint', ['--version']);
(HADOLINT ? test : test.skip)('hadolint: the Dockerfile lints clean', (t) => {
  const result = run('hadolint', ['Dockerfile']);
  t.is(result.status, 0, result.output);
});

const DOCKER_ENGINE = works('docker', ['info']);
(DOCKER_ENGINE ? test : test.skip)('docker build: the image builds, and runs as a non-root user', (t) => {
  const tag = `smx-deploy-test:${process.pid}`;
  const build = run('docker', ['build', '-t', tag, '.'], { timeoutMs: 15 * 60_000 });
  t.is(build.status, 0, build.output.slice(-4000));
  const user = run('docker', ['run', '--rm', '--entrypoint', 'id', tag, '-u']);
  t.not(user.output.trim(), '0');
  const version = run('docker', ['run', '--rm', tag, '--version']);
  t.regex(version.output, /^\d+\.\d+\.\d+/);
  run('docker', ['rmi', '-f', tag]);
});

// ── compose.yaml ─────────────────────────────────────────────────────────────────────────────

interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  ports?: string[];
  restart?: string;
}

const compose = () => parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
const SMX_ROLES = { smx: 'start', migrate: 'migrate', broker: 'broker', api: 'api', worker: 'worker' } as const;

test('compose.yaml: SMX, Redis and PostgreSQL by default; the split profile runs migrate, broker, api and worker', (t) => {
  const { services } = compose();
  t.deepEqual(
    Object.keys(services)
      .filter((s) => !services[s]!.profiles)
      .sort(),
    ['postgres', 'redis', 'smx'],
  );
  t.deepEqual(
    Object.keys(services)
      .filter((s) => services[s]!.profiles?.includes('split'))
      .sort(),
    ['api', 'broker', 'migrate', 'worker'],
  );
  for (const [name, role] of Object.entries(SMX_ROLES)) {
    const service = services[name]!;
    t.deepEqual(service.command, [role], `${name} runs smx ${role}`);
    t.truthy(service.build, `${name} is built from this repository`);
    t.is(service.image, 'smx:local');
    for (const store of ['redis', 'postgres'])
      t.is(service.depends_on?.[store]?.condition, 'service_healthy', `${name} waits for ${store}`);
  }
  for (const store of ['redis', 'postgres'])
    t.truthy(services[store]!.healthcheck?.test, `${store} has a health check`);

  // Start order of the split roles: the schema first, then the broker (it also generates the
  // shared secrets when none are set), then the API and workers once the broker is healthy.
  t.is(services.migrate!.restart, 'no');
  t.true(services.migrate!.healthcheck?.disable);
  t.is(services.broker!.depends_on?.migrate?.condition, 'service_completed_successfully');
  t.is(services.api!.depends_on?.broker?.condition, 'service_healthy');
  t.is(services.worker!.depends_on?.broker?.condition, 'service_healthy');
  // The image's health check asks SMX_METRICS_PORT where there is no HTTP API.
  for (const name of ['broker', 'worker'])
    t.truthy(services[name]!.environment?.SMX_METRICS_PORT, `${name} serves health and metrics`);
  for (const name of ['api', 'worker']) t.is(services[name]!.environment?.SMX_BROKER_URL, 'mqtt://broker:1883');
  // Split roles need a shared PostgreSQL and the same secrets.
  for (const name of Object.keys(SMX_ROLES))
    t.regex(services[name]!.environment?.DATABASE_URL ?? '', /^postgres:\/\/.*@postgres:5432\//);
  t.deepEqual(services.smx!.ports, ['8080:8080', '1883:1883', '8083:8083']);
});

test('compose.yaml: every SMX setting it names is one core/config.ts reads, and every ${VARIABLE} is in the env example', (t) => {
  const { services } = compose();
  for (const name of Object.keys(SMX_ROLES)) {
    for (const variable of Object.keys(services[name]!.environment ?? {}))
      t.true(CONFIG_VARIABLES.has(variable), `${name}: ${variable} is an SMX setting`);
  }
  const example = read('deploy/compose.env.example');
  const interpolated = new Set([...read('compose.yaml').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!));
  for (const variable of interpolated)
    t.regex(example, new RegExp(`^${variable}=`, 'm'), `${variable} is in deploy/compose.env.example`);
});

const COMPOSE_CLI = works('docker', ['compose', 'version'])
  ? ['docker', 'compose']
  : works('docker-compose', ['version'])
    ? ['docker-compose']
    : null;
(COMPOSE_CLI ? test : test.skip)('docker compose config: both profiles are valid', (t) => {
  const [command, ...prefix] = COMPOSE_CLI!;
  for (const profile of [[], ['--profile', 'split']]) {
    const result = run(command!, [...prefix, ...profile, 'config', '-q']);
    t.is(result.status, 0, `${COMPOSE_CLI!.join(' ')} ${profile.join(' ')} config: ${result.output}`);
  }
  const services = run(command!, [...prefix, '--profile', 'split', 'config', '--services'])
    .output.split('\n')
    .filter(Boolean)
    .sort();
  t.deepEqual(services, ['api', 'broker', 'migrate', 'postgres', 'redis', 'smx', 'worker']);
});

// ── systemd ──────────────────────────────────────────────────────────────────────────────────

/** `[Section]` → key → values (a key may repeat). */
function unitFile(path: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current = new Map<string, string[]>();
  for (const raw of read(path).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const [key, ...value] = line.split('=');
    current.set(key!, [...(current.get(key!) ?? []), value.join('=')]);
  }
  return sections;
}

test('systemd units: smx start, and one role per instance of smx@, as an unprivileged user that is restarted on failure', (t) => {
  for (const [file, command] of [
    ['deploy/systemd/smx.service', 'start'],
    ['deploy/systemd/smx@.service', '%i'],
  ] as const) {
    const service = unitFile(file).get('Service')!;
    t.truthy(service, file);
    t.is(service.get('ExecStart')?.[0], `/usr/bin/env node dist/bin/smx.js ${command}`, file);
    t.is(service.get('WorkingDirectory')?.[0], '/opt/smx');
    t.is(service.get('User')?.[0], 'smx');
    t.is(service.get('Restart')?.[0], 'on-failure');
    t.is(service.get('KillSignal')?.[0], 'SIGTERM');
    t.is(service.get('NoNewPrivileges')?.[0], 'yes');
    for (const assignment of service.get('Environment') ?? []) {
      for (const [, name] of assignment.matchAll(/([A-Z][A-Z0-9_]*)=/g))
        t.true(CONFIG_VARIABLES.has(name!) || NOT_SMX.has(name!), `${file}: ${name}`);
    }
    t.is(unitFile(file).get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
  }
});

const SYSTEMD_ANALYZE = works('systemd-analyze', ['--version']);
(SYSTEMD_ANALYZE ? test : test.skip)('systemd-analyze verify: the units load', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smx-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A template is verified as an instance of it.
  copyFileSync(join(ROOT, 'deploy/systemd/smx.service'), join(dir, 'smx.service'));
  copyFileSync(join(ROOT, 'deploy/systemd/smx@.service'), join(dir, 'smx@worker.service'));
  for (const unit of ['smx.service', 'smx@worker.service']) {
    const result = run('systemd-analyze', ['verify', join(dir, unit)]);
    t.is(result.status, 0, `${unit}: ${result.output}`);
    t.notRegex(result.output, /Unknown (key|section)|bad unit file/i, unit);
  }
});

// ── Prometheus ───────────────────────────────────────────────────────────────────────────────

test('alert rules: phone offline, queue backlog and delivery failures are there, each with a summary', (t) => {
  const rules = (
    parseYaml(read('deploy/prometheus/smx-alerts.yml')) as {
      groups: Array<{
        rules: Array<{ alert: string; expr: string; for?: string; annotations?: Record<string, string> }>;
      }>;
    }
  ).groups.flatMap((g) => g.rules);
  const names = rules.map((r) => r.alert);
  for (const alert of [
    'SmxPhoneOffline',
    'SmxMessageBacklog',
    'SmxQueueBacklog',
    'SmxDeliveryFailures',
    'SmxWebhookFailures',
    'SmxDown',
  ])
    t.true(names.includes(alert), alert);
  for (const rule of rules) {
    t.truthy(rule.annotations?.summary, `${rule.alert} has a summary`);
    t.truthy(rule.for, `${rule.alert} waits before it fires`);
  }
});

const PROMTOOL = works('promtool', ['--version']);
(PROMTOOL ? test : test.skip)(
  'promtool: the rules are valid, their unit tests pass, the example config parses',
  (t) => {
    const check = run('promtool', ['check', 'rules', 'deploy/prometheus/smx-alerts.yml']);
    t.is(check.status, 0, check.output);
    const unit = run('promtool', ['test', 'rules', 'deploy/prometheus/smx-alerts.test.yml']);
    t.is(unit.status, 0, unit.output);
    // --syntax-only: the credentials file it names is the operator's, not in the repository.
    const config = run('promtool', ['check', 'config', '--syntax-only', 'deploy/prometheus/prometheus.yml']);
    t.is(config.status, 0, config.output);
  },
);
