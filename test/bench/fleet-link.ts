/**
 * The fleet's project and its phones: a project with round-robin routing and an API key, then N
 * link tokens and N links, `parallel` requests at a time, counting every answer that is not 201.
 */
import type { LinkResult } from '../../device/types.js';
import type { FleetCredentials } from './fleet-phones.js';
import { SmxClient } from './http-client.js';
import { bar } from './progress.js';

export interface LinkedFleet {
  projectId: string;
  apiKey: string;
  devices: FleetCredentials[];
  /** Seconds for the N link tokens and for the N links. */
  tokensS: number;
  linksS: number;
  /** Answers other than 201, by `status code` (token creation and linking together). */
  errors: Record<string, number>;
}

/** Runs `work` over `items`, `parallel` at a time. */
export async function inParallel<T, R>(items: readonly T[], parallel: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

export async function createProject(client: SmxClient, name: string, routing?: string): Promise<{ projectId: string; apiKey: string }> {
  const project = SmxClient.expect('create project', await client.admin<{ id: string }>('POST', '/admin/projects', { name }), 201);
  if (routing) SmxClient.expect('set routing', await client.admin('PATCH', `/admin/projects/${project.id}`, { routing }), 200);
  const key = SmxClient.expect('create api key', await client.admin<{ key: string }>('POST', `/admin/projects/${project.id}/api-keys`, { name }), 201);
  return { projectId: project.id, apiKey: key.key };
}

/** Links `count` phones to a new round-robin project, `parallel` requests at a time. */
export async function linkFleet(client: SmxClient, count: number, parallel: number, name = `fleet of ${count}`): Promise<LinkedFleet> {
  const { projectId, apiKey } = await createProject(client, name, 'round-robin');
  const errors: Record<string, number> = {};
  const tally = (what: string, status: number) => (errors[`${what} ${status}`] = (errors[`${what} ${status}`] ?? 0) + 1);

  let started = Date.now();
  const tokenBar = bar(`${name}: link tokens`, count, 'tokens');
  let done = 0;
  const tokens = await inParallel(Array.from({ length: count }), parallel, async () => {
    const answer = await client.admin<{ token: string }>('POST', `/admin/projects/${projectId}/link-tokens`).catch(() => ({ status: 0, body: undefined }));
    tokenBar.update(++done);
    if (answer.status !== 201 || !answer.body?.data.token) return void tally('link-token', answer.status);
    return answer.body.data.token;
  });
  tokenBar.stop();
  const tokensS = (Date.now() - started) / 1000;

  started = Date.now();
  done = 0;
  const linkBar = bar(`${name}: links`, count, 'phones');
  const links = await inParallel(tokens, parallel, async (token, i) => {
    if (token === undefined) return undefined;
    const answer = await client.call<LinkResult>('POST', '/v1/devices/link', { token, name: `fleet phone ${i}`, model: 'bench', appVersion: 'fleet-bench' }, {}).catch(() => ({ status: 0, body: undefined }));
    linkBar.update(++done);
    if (answer.status !== 201 || !answer.body?.data) return void tally('link', answer.status);
    return answer.body.data;
  });
  linkBar.stop();
  const linksS = (Date.now() - started) / 1000;
  const devices = links.filter((l): l is LinkResult => l !== undefined).map((l) => ({ deviceId: l.deviceId, url: l.mqtt.url, password: l.mqtt.password }));
  return { projectId, apiKey, devices, tokensS, linksS, errors };
}

/** Sets every device's pace (0 = unpaced), `parallel` at a time; returns the non-200 answers. */
export async function setPace(client: SmxClient, deviceIds: readonly string[], perMinute: number, parallel: number): Promise<number> {
  let failed = 0;
  await inParallel(deviceIds, parallel, async (id) => {
    const answer = await client.admin('PATCH', `/admin/devices/${id}`, { sendRatePerMinute: perMinute }).catch(() => ({ status: 0 }));
    if (answer.status !== 200) failed++;
  });
  return failed;
}
