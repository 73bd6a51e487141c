/**
 * A platform team's TypeScript plugin, outside this repository, type-checks against the published
 * `smx/plugin-api` types (package.json "exports" → dist/core/plugin-api.d.ts) — and a plugin that
 * gets a signature wrong does not.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';

const TSC = join(process.cwd(), 'node_modules/typescript/bin/tsc');

const GOOD = `
import { definePlugin, apiError, type RoutingDevice } from 'smx/plugin-api';

export default definePlugin({
  name: 'outside-plugin',
  version: '1.0.0',
  setup(ctx) {
    ctx.routing.register('first-online', async (message, devices: RoutingDevice[]) => {
      const pick = devices.find((d) => d.online) ?? devices.find((d) => d.active);
      return pick ? { deviceId: pick.id, simSlot: pick.sims[0]?.slot ?? null } : { reason: 'NO_DEVICE_FOR_' + message.kind };
    });
    ctx.hooks.on('beforeSend', (message) => { message.body = message.body.trim(); });
    ctx.hooks.on('afterStatus', (message, update) => ctx.log.info({ id: message.id, state: update.state }, 'status'));
    ctx.hooks.on('onVerification', (v) => ctx.log.info({ id: v.verificationId, status: v.status }, 'verification'));
    ctx.http.route({ method: 'GET', url: '/hello', handler: async (request) => {
      if (!request.query.name) throw apiError('VALIDATION_FAILED', { details: [{ field: 'name', message: 'name is required' }] });
      return { projectId: request.projectId };
    } });
  },
});
`;

const BAD = `
import { definePlugin } from 'smx/plugin-api';

export default definePlugin({
  name: 'broken-plugin',
  setup(ctx) {
    ctx.hooks.on('onInbound', (sms) => sms.text.toUpperCase());
    ctx.routing.register('nowhere', () => ({ device: 'dev_x' }));
  },
});
`;

async function typeCheck(
  t: import('ava').ExecutionContext,
  source: string,
): Promise<{ code: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'smx-plugin-types-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'node_modules'));
  // What `npm install <path-or-git-url-of-smx>` gives a plugin project.
  await symlink(process.cwd(), join(dir, 'node_modules/smx'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'outside', type: 'module', private: true }));
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ['plugin.ts'],
    }),
  );
  await writeFile(join(dir, 'plugin.ts'), source);
  const child = spawn(process.execPath, [TSC, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, output };
}

test('a plugin written against the README type-checks with smx/plugin-api', async (t) => {
  const { code, output } = await typeCheck(t, GOOD);
  t.is(code, 0, output);
});

test('a plugin with a wrong hook payload or strategy result does not', async (t) => {
  const { code, output } = await typeCheck(t, BAD);
  t.not(code, 0);
  t.regex(output, /Property 'text' does not exist/);
  t.regex(output, /nowhere|device/);
});
