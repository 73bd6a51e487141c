/** The built-in routing strategies with several real reference devices, and choosing one per project. */
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import type { LinkResult } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'routing-strategies');

interface Phone {
  credentials: LinkResult;
  received: OutboxMessage[];
}

/** Links `names` in order (the last one linked is the active device); starts those in `online`. */
async function projectWithPhones(t: ExecutionContext, names: string[], online: string[]) {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const phones: Record<string, Phone> = {};
  for (const name of names) {
    const credentials = await linkNewDevice(smx, projectId, name);
    await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
    phones[name] = { credentials, received: [] };
  }
  for (const name of online)
    await startPhone(t, phones[name]!.credentials, { onSend: (m) => void phones[name]!.received.push(m) });
  // Presence is the broker's to say: wait until SMX sees them online before routing on it.
  await eventually(
    async () => {
      const list = await smx.admin('GET', `/admin/projects/${projectId}/devices`);
      const devices = (list.body.data.devices ?? list.body.data) as Array<{ id: string; online: boolean }>;
      return online.every((name) => devices.find((d) => d.id === phones[name]!.credentials.deviceId)?.online);
    },
    10_000,
    'phones online',
  );
  return { projectId, key, phones };
}

async function useStrategy(projectId: string, routing: string) {
  // Changing the project also drops the router's one-second device snapshot.
  const patched = await current().admin('PATCH', `/admin/projects/${projectId}`, { routing });
  if (patched.status !== 200) throw new Error(`PATCH routing: ${patched.status} ${JSON.stringify(patched.body)}`);
}

async function send(key: string, to: string, message: string) {
  const sent = await current().api(key, 'POST', '/v1/send-sms', { to, message });
  if (sent.status !== 201) throw new Error(`send-sms: ${sent.status} ${JSON.stringify(sent.body)}`);
  return sent.body.data as { messageId: string; deviceId: string };
}

test('failover: the active device is offline, the online standby gets the message', async (t) => {
  const { projectId, key, phones } = await projectWithPhones(t, ['standby', 'primary'], ['standby']);
  const sentDefault = await send(key, '+4915112345678', 'default strategy');
  t.is(sentDefault.deviceId, phones.primary!.credentials.deviceId, 'active-device waits for the offline active phone');

  await useStrategy(projectId, 'failover');
  const sent = await send(key, '+4915112345678', 'failover');
  t.is(sent.deviceId, phones.standby!.credentials.deviceId);
  const got = await eventually(async () => phones.standby!.received.find((m) => m.id === sent.messageId));
  t.is(got.body, 'failover');
});

test('failover: the active device online keeps getting the messages', async (t) => {
  const { projectId, key, phones } = await projectWithPhones(t, ['standby', 'primary'], ['standby', 'primary']);
  await useStrategy(projectId, 'failover');
  const sent = await send(key, '+4915112345678', 'to the primary');
  t.is(sent.deviceId, phones.primary!.credentials.deviceId);
  await eventually(async () => phones.primary!.received.find((m) => m.id === sent.messageId));
});

test('round-robin: messages spread evenly over the online phones, none to the offline one', async (t) => {
  const { projectId, key, phones } = await projectWithPhones(t, ['a', 'offline', 'b'], ['a', 'b']);
  await useStrategy(projectId, 'round-robin');
  const sent = [];
  for (let i = 0; i < 6; i++) sent.push(await send(key, '+4915112345678', `rr ${i}`));
  const a = phones.a!.credentials.deviceId;
  const b = phones.b!.credentials.deviceId;
  t.is(sent.filter((s) => s.deviceId === a).length, 3);
  t.is(sent.filter((s) => s.deviceId === b).length, 3);
  await eventually(async () => phones.a!.received.length + phones.b!.received.length === 6, 10_000, 'all six sent');
  t.is(phones.a!.received.length, 3);
  t.is(phones.b!.received.length, 3);
});

test('prefix: the SIM whose number matches the destination sends it; no match goes to the active device', async (t) => {
  const smx = current();
  const { projectId, key, phones } = await projectWithPhones(
    t,
    ['dual-sim', 'uk', 'active'],
    ['dual-sim', 'uk', 'active'],
  );
  const setSims = (name: string, sims: Array<{ slot: number; number: string }>) =>
    smx.admin('PATCH', `/admin/devices/${phones[name]!.credentials.deviceId}`, { sims });
  t.is(
    (
      await setSims('dual-sim', [
        { slot: 0, number: '+14155550100' },
        { slot: 1, number: '+4915100000000' },
      ])
    ).status,
    200,
  );
  t.is((await setSims('uk', [{ slot: 0, number: '+447400000000' }])).status, 200);
  await useStrategy(projectId, 'prefix');

  const de = await send(key, '+4915112345678', 'to germany');
  t.is(de.deviceId, phones['dual-sim']!.credentials.deviceId);
  t.is((await eventually(async () => phones['dual-sim']!.received.find((m) => m.id === de.messageId))).simSlot, 1);

  const us = await send(key, '+14155550123', 'to the us');
  t.is(us.deviceId, phones['dual-sim']!.credentials.deviceId);
  t.is((await eventually(async () => phones['dual-sim']!.received.find((m) => m.id === us.messageId))).simSlot, 0);

  const uk = await send(key, '+447400123456', 'to the uk');
  t.is(uk.deviceId, phones.uk!.credentials.deviceId);
  t.is((await eventually(async () => phones.uk!.received.find((m) => m.id === uk.messageId))).simSlot, 0);

  const fr = await send(key, '+33612345678', 'to france');
  t.is(fr.deviceId, phones.active!.credentials.deviceId);
  t.is((await eventually(async () => phones.active!.received.find((m) => m.id === fr.messageId))).simSlot, null);
});

test('PATCH routing: an unknown strategy is 400 VALIDATION_FAILED on routing; a built-in one is kept', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const unknown = await smx.admin('PATCH', `/admin/projects/${projectId}`, { routing: 'no-such-strategy' });
  t.is(unknown.status, 400);
  t.is(unknown.body.error.code, 'VALIDATION_FAILED');
  t.is(unknown.body.error.details[0]!.field, 'routing');
  t.regex(unknown.body.error.details[0]!.message, /active-device, failover, round-robin, prefix/);
  for (const name of ['active-device', 'failover', 'round-robin', 'prefix']) {
    const ok = await smx.admin('PATCH', `/admin/projects/${projectId}`, { routing: name });
    t.is(ok.status, 200, name);
    t.is(ok.body.data.settings.routing, name);
  }
});
