/** PATCH /admin/projects/:id answers the whole project, as GET does. */
import test from 'ava';
import { createProject, useSmx } from '../helpers/smx.js';

const current = useSmx(test, 'projects-admin');

test('a PATCH of one setting answers every setting (defaults included), the same as a GET', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const patched = await smx.admin('PATCH', `/admin/projects/${projectId}`, {
    rateLimits: { resendIntervalSeconds: 5 },
  });
  t.is(patched.status, 200);
  const read = await smx.admin('GET', `/admin/projects/${projectId}`);
  t.deepEqual(patched.body.data.settings, read.body.data.settings);
  t.like(patched.body.data.settings, {
    codeLength: 6,
    ttl: 300,
    routing: 'active-device',
    otpLeaseSeconds: 30,
    rateLimits: { perNumber: 5, resendIntervalSeconds: 5 },
  });

  const renamed = await smx.admin('PATCH', `/admin/projects/${projectId}`, { name: 'Renamed' });
  t.is(renamed.body.data.name, 'Renamed');
  t.deepEqual(renamed.body.data.settings, read.body.data.settings, 'a rename changes no setting');
});
