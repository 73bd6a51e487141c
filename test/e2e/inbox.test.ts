/** Inbound SMS: what phones forward is stored once per SMS, per project, and listed newest first. */
import test from 'ava';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'inbox');

test('forwarded SMS appear in /v1/inbox once each, newest first, with stable cursor pages; other projects see none', async (t) => {
  const smx = current();
  const a = await createProject(smx, 'A');
  const b = await createProject(smx, 'B');
  const phone = await startPhone(t, await linkNewDevice(smx, a.projectId));
  await startPhone(t, await linkNewDevice(smx, b.projectId));

  const sms = Array.from({ length: 5 }, (_, i) => ({
    from: '+14155550777',
    body: `Your code is 10${i}`,
    receivedAt: new Date(Date.UTC(2026, 10, 22, 0, 0, i)).toISOString(),
    simSlot: 0,
  }));
  await phone.publishInbound(sms.slice(0, 3));
  await phone.publishInbound(sms.slice(2)); // #2 again (QoS 1 redelivery or a phone retry)
  const all = await eventually(
    async () => {
      const page = await smx.api(a.key, 'GET', '/v1/inbox?limit=200');
      return page.body.data.messages.length === 5 ? page.body.data.messages : null;
    },
    15_000,
    'five stored SMS',
  );
  t.deepEqual(all.map((m: { body: string }) => m.body).sort(), sms.map((m) => m.body).sort(), 'each SMS stored once');
  t.like(
    all.find((m: { body: string }) => m.body === 'Your code is 100'),
    { from: '+14155550777', simSlot: 0, receivedAt: sms[0]!.receivedAt },
  );
  t.true(all[0].id.startsWith('sms_'));

  const first = await smx.api(a.key, 'GET', '/v1/inbox?limit=2');
  const second = await smx.api(a.key, 'GET', `/v1/inbox?limit=2&cursor=${first.body.data.nextCursor}`);
  const third = await smx.api(a.key, 'GET', `/v1/inbox?limit=2&cursor=${second.body.data.nextCursor}`);
  const paged = [...first.body.data.messages, ...second.body.data.messages, ...third.body.data.messages].map(
    (m: { id: string }) => m.id,
  );
  t.deepEqual(
    paged,
    all.map((m: { id: string }) => m.id),
  );
  t.is(third.body.data.nextCursor, null);

  const other = await smx.api(b.key, 'GET', '/v1/inbox');
  t.deepEqual(other.body.data.messages, []);
  t.is((await smx.api(a.key, 'GET', '/v1/inbox?cursor=nope')).status, 400);
  t.is((await smx.api(a.key, 'GET', '/v1/inbox?limit=0')).status, 400);
});
