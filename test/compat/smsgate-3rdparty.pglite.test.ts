/** The SMSGate 3rd-party surface on embedded PGlite: its migration, the state SQL (lateral join, bool_or), ids, cancel and JWT revocation. */
import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { linkNewDevice, useSmx } from '../helpers/smx.js';
import { newProject, raw, withPhone } from './smsgate-3rdparty-helpers.js';

const current = useSmx(test, 'smsgate-3rdparty-pglite', { db: 'pglite' });

test('PGlite: send to two numbers until Delivered, list by state with X-Total-Count, 409 on a reused id, cancel, revoke a JWT', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  await withPhone(t, smx, p.projectId);
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'pglite-1', message: 'hi', phoneNumbers: ['+4915112345001', '+4915112345002'] },
  });
  t.is(sent.status, 202, sent.text);
  t.is(
    (
      await raw(smx, 'POST', '/messages', {
        auth: p.auth,
        body: { id: 'pglite-1', message: 'hi', phoneNumbers: ['+4915112345001'] },
      })
    ).status,
    409,
  );
  await eventually(
    async () =>
      (await raw(smx, 'GET', '/messages?state=Delivered', { auth: p.auth })).headers.get('x-total-count') === '1',
    15_000,
    'Delivered',
  );
  const state = await raw(smx, 'GET', '/messages/pglite-1', { auth: p.auth });
  t.deepEqual(Object.keys(state.json.states).sort(), ['Delivered', 'Pending', 'Processed', 'Sent']);

  const idle = await newProject(smx, 'idle');
  await linkNewDevice(smx, idle.projectId);
  const queued = await raw(smx, 'POST', '/messages', {
    auth: idle.auth,
    body: { message: 'later', phoneNumbers: ['+4915112345001'] },
  });
  t.is((await raw(smx, 'DELETE', `/messages/${queued.json.id}`, { auth: idle.auth })).json.state, 'Cancelled');
  t.is((await raw(smx, 'GET', '/messages?state=Cancelled', { auth: idle.auth })).headers.get('x-total-count'), '1');

  const token = await raw(smx, 'POST', '/auth/token', { auth: p.auth, body: { scopes: ['messages:list'] } });
  t.is((await raw(smx, 'GET', '/messages', { auth: `Bearer ${token.json.access_token}` })).status, 200);
  t.is((await raw(smx, 'DELETE', `/auth/token/${token.json.id}`, { auth: p.auth })).status, 204);
  t.is((await raw(smx, 'GET', '/messages', { auth: `Bearer ${token.json.access_token}` })).status, 401);
});
