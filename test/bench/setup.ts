/** The bench's project: a project, an API key and one linked phone with pacing off. */
import { linkDevice } from '../../device/link.js';
import { SmxClient } from './http-client.js';

export async function setupProject(
  client: SmxClient,
): Promise<{ projectId: string; apiKey: string; credentials: Awaited<ReturnType<typeof linkDevice>> }> {
  const project = SmxClient.expect(
    'create project',
    await client.admin<{ id: string }>('POST', '/admin/projects', { name: 'bench' }),
    201,
  );
  const key = SmxClient.expect(
    'create api key',
    await client.admin<{ key: string }>('POST', `/admin/projects/${project.id}/api-keys`, { name: 'bench' }),
    201,
  );
  const link = SmxClient.expect(
    'link token',
    await client.admin<{ qr: { payload: string } }>('POST', `/admin/projects/${project.id}/link-tokens`),
    201,
  );
  const qr = JSON.parse(link.qr.payload) as { server: string; token: string };
  const credentials = await linkDevice({ server: qr.server, token: qr.token, name: 'bench phone' });
  SmxClient.expect(
    'unlimited send rate',
    await client.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 }),
    200,
  );
  return { projectId: project.id, apiKey: key.key, credentials };
}
