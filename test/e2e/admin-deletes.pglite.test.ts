/**
 * Deleting what does not exist, or what belongs to another project, is 404 on the embedded
 * database too (knex-pglite once answered every delete with its raw result, so "nothing
 * deleted" was never seen and these answered 200).
 */
import test from 'ava';
import { createProject, useSmx } from '../helpers/smx.js';

const current = useSmx(test, 'admin-deletes-pglite', { db: 'pglite', env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true' } });

test("unknown project, another project's webhook, API key and test number: 404 NOT_FOUND; the real ones delete once", async (t) => {
  const smx = current();
  const a = await createProject(smx, 'A');
  const b = await createProject(smx, 'B');

  t.is((await smx.admin('DELETE', '/admin/projects/prj_AAAAAAAAAAAAAAAAAAAAAA')).body.error?.code, 'NOT_FOUND');

  const hook = await smx.admin('POST', `/admin/projects/${a.projectId}/webhooks`, { url: 'http://127.0.0.1:9/smx' });
  t.is(hook.status, 201, JSON.stringify(hook.body));
  const hookId = hook.body.data.id as string;
  t.is((await smx.admin('DELETE', `/admin/projects/${b.projectId}/webhooks/${hookId}`)).status, 404);
  t.is((await smx.admin('DELETE', `/admin/projects/${a.projectId}/webhooks/${hookId}`)).status, 200);
  t.is(
    (await smx.admin('DELETE', `/admin/projects/${a.projectId}/webhooks/${hookId}`)).status,
    404,
    'a second delete finds nothing',
  );

  const keys = (await smx.admin('GET', `/admin/projects/${a.projectId}/api-keys`)).body.data;
  const keyId = keys.apiKeys[0].id as string;
  t.is((await smx.admin('DELETE', `/admin/projects/${b.projectId}/api-keys/${keyId}`)).status, 404);

  t.is(
    (await smx.admin('DELETE', `/admin/projects/${a.projectId}/test-numbers/${encodeURIComponent('+15555550100')}`))
      .status,
    404,
  );

  t.is((await smx.admin('DELETE', `/admin/projects/${b.projectId}`)).status, 200);
  t.is((await smx.admin('DELETE', `/admin/projects/${b.projectId}`)).status, 404);
});
