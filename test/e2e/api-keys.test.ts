/** API keys: listed without secrets, with the time they were last used. */
import test from 'ava';
import { createProject, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'api-keys');

test('a key shows lastUsedAt once it was used, and its list never holds the key', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const before = (await smx.admin('GET', `/admin/projects/${projectId}/api-keys`)).body.data.apiKeys;
  t.is(before.length, 1);
  t.is(before[0].lastUsedAt, null);
  t.false(JSON.stringify(before).includes(key));

  const started = Date.now();
  t.is((await smx.api(key, 'GET', '/v1/status')).status, 200);
  const used = await eventually(
    async () => {
      const [info] = (await smx.admin('GET', `/admin/projects/${projectId}/api-keys`)).body.data.apiKeys;
      return info.lastUsedAt ? info : undefined;
    },
    5_000,
    'lastUsedAt written',
  );
  t.true(Date.parse(used.lastUsedAt) >= started - 1000);
});
