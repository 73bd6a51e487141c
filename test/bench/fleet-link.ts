/**
 * The fleet's project and its phones: a project with round-robin routing and an API key, then N
 * link tokens and N links, `parallel` requests at a time, counting every answer that is not 201.
 *
 * SMX limits `POST /v1/devices/link` to 600 requests per client address per minute
 * (core/http/rate-limits.ts). Real phones link from addresses of their own, so by default the
 * links are spread over loopback source addresses (127.0.x.y; all of 127/8 reaches the loopback
 * listener on Linux), at most {@link LINKS_PER_SOURCE} per address; FLEET_LINK_FROM=single links
 * everything from 127.0.0.1 (then expect 429s past 600 a minute).
 */
import { Agent, request } from 'node:http';
import type { LinkResult } from '../../protocol/payloads.js';
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
export async function inParallel<T, R>(
  items: readonly T[],
  parallel: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
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

export async function createProject(
  client: SmxClient,
  name: string,
  routing?: string,
): Promise<{ projectId: string; apiKey: string }> {
  const project = SmxClient.expect(
    'create project',
    await client.admin<{ id: string }>('POST', '/admin/projects', { name }),
    201,
  );
  if (routing)
    SmxClient.expect('set routing', await client.admin('PATCH', `/admin/projects/${project.id}`, { routing }), 200);
  const key = SmxClient.expect(
    'create api key',
    await client.admin<{ key: string }>('POST', `/admin/projects/${project.id}/api-keys`, { name }),
    201,
  );
  return { projectId: project.id, apiKey: key.key };
}

/** Links per source address: under the route's 600 per address per minute, whatever the pace. */
export const LINKS_PER_SOURCE = 500;

/** The loopback address the `index`-th link comes from. */
function sourceAddress(index: number, spread: boolean): string {
  if (!spread) return '127.0.0.1';
  const k = Math.floor(index / LINKS_PER_SOURCE);
  return `127.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;
}

const agents = new Map<string, Agent>();

/** POSTs JSON from a given local address; resolves with the status and parsed body (status 0: no answer). */
function postFrom(
  localAddress: string,
  url: string,
  body: unknown,
): Promise<{ status: number; body: { data?: LinkResult } | undefined }> {
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ keepAlive: true, maxSockets: 32 })));
  const text = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: { data?: LinkResult } | undefined;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', () => resolve({ status: 0, body: undefined }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: undefined }));
    req.end(text);
  });
}

/** Links `count` phones to a new round-robin project, `parallel` requests at a time. */
export async function linkFleet(
  client: SmxClient,
  count: number,
  parallel: number,
  name = `fleet of ${count}`,
): Promise<LinkedFleet> {
  const spread = (process.env.FLEET_LINK_FROM ?? 'spread') !== 'single';
  const { projectId, apiKey } = await createProject(client, name, 'round-robin');
  const errors: Record<string, number> = {};
  const tally = (what: string, status: number) =>
    (errors[`${what} ${status}`] = (errors[`${what} ${status}`] ?? 0) + 1);

  let started = Date.now();
  const tokenBar = bar(`${name}: link tokens`, count, 'tokens');
  let done = 0;
  const tokens = await inParallel(Array.from({ length: count }), parallel, async () => {
    const answer = await client
      .admin<{ token: string }>('POST', `/admin/projects/${projectId}/link-tokens`)
      .catch(() => ({ status: 0, body: undefined }));
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
    const answer = await postFrom(sourceAddress(i, spread), `${client.baseUrl}/v1/devices/link`, {
      token,
      name: `fleet phone ${i}`,
      model: 'bench',
      appVersion: 'fleet-bench',
    });
    linkBar.update(++done);
    if (answer.status !== 201 || !answer.body?.data) return void tally('link', answer.status);
    return answer.body.data;
  });
  linkBar.stop();
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
  const linksS = (Date.now() - started) / 1000;
  const devices = links
    .filter((l): l is LinkResult => l !== undefined)
    .map((l) => ({ deviceId: l.deviceId, url: l.mqtt.url, password: l.mqtt.password }));
  return { projectId, apiKey, devices, tokensS, linksS, errors };
}

/** Sets every device's pace (0 = unpaced), `parallel` at a time; returns the non-200 answers. */
export async function setPace(
  client: SmxClient,
  deviceIds: readonly string[],
  perMinute: number,
  parallel: number,
): Promise<number> {
  let failed = 0;
  await inParallel(deviceIds, parallel, async (id) => {
    const answer = await client
      .admin('PATCH', `/admin/devices/${id}`, { sendRatePerMinute: perMinute })
      .catch(() => ({ status: 0 }));
    if (answer.status !== 200) failed++;
  });
  return failed;
}
