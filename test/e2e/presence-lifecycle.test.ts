/**
 * Presence that outlives its connection: a process that held phones' connections and died without
 * a word (SIGKILL) leaves them "online" in Redis until the reaper marks them offline; an unlinked
 * SMSGate phone loses its event stream at once.
 */
import test from 'ava';
import { PresenceStore } from '../../core/presence/store.js';
import { SmsGateApp } from '../helpers/smsgate-app.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'presence-lifecycle');

async function onlineOf(projectId: string): Promise<Map<string, boolean>> {
  const devices = (await current().admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices as Array<{
    id: string;
    online: boolean;
  }>;
  return new Map(devices.map((d) => [d.id, d.online]));
}

test("a dead holder's connections are reaped offline; a live phone's stay online", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const live = await linkNewDevice(smx, projectId, 'live');
  await startPhone(t, live);
  const orphan = await linkNewDevice(smx, projectId, 'orphan');
  await eventually(async () => (await onlineOf(projectId)).get(live.deviceId), 10_000, 'live phone online');

  // What a broker node that was SIGKILLed leaves behind: an online mark under a holder that no longer renews.
  await smx.smx.container.resolve(PresenceStore).markOnline(orphan.deviceId, 'node-that-died:conn-1');
  t.true((await onlineOf(projectId)).get(orphan.deviceId));
  t.true(
    (await smx.api(key, 'GET', '/v1/status')).body.data.device.online,
    'the orphan is the active device and looks online',
  );

  await eventually(
    async () => (await onlineOf(projectId)).get(orphan.deviceId) === false,
    25_000,
    'orphan reaped offline',
  );
  t.true((await onlineOf(projectId)).get(live.deviceId), 'the live phone is untouched');
  t.false((await smx.api(key, 'GET', '/v1/status')).body.data.device.online);
});

test('unlinking an SMSGate phone ends its event stream and its token stops working', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'SMSGate unlink');
  const app = new SmsGateApp(smx.url);
  const token = JSON.parse((await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`)).body.data.qr.payload)
    .token as string;
  t.is((await app.register({ token })).status, 201);
  t.is((await app.patchDevice()).status, 204);
  const stream = await app.events();
  t.teardown(() => stream.close());
  await eventually(async () => (await onlineOf(projectId)).get(app.id), 10_000, 'online');

  t.is((await smx.admin('DELETE', `/admin/devices/${app.id}`)).status, 200);
  await eventually(async () => stream.ended, 10_000, 'stream ended by the server');
  t.is((await app.pull()).status, 401);
  t.is((await app.patchDevice()).status, 401);
});
