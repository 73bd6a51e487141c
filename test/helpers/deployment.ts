/**
 * A deployment of real `smx` child processes for one test (process model, crash and fault tests):
 * its own PostgreSQL schema, Redis prefix, data dir, secret, admin token and free ports, shared by
 * every process it starts; all killed and cleaned up at the test's teardown.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { linkDevice } from '../../device/link.js';
import type { LinkResult } from '../../protocol/payloads.js';
import { exited, freePort, runSmx, type SmxProcess } from './processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from './smx.js';
import { eventually } from './eventually.js';

export interface Answer {
  status: number;
  body: any;
}

export class Deployment {
  readonly children: SmxProcess[] = [];
  readonly base: string;

  private constructor(
    readonly env: Record<string, string>,
    readonly adminToken: string,
  ) {
    this.base = `http://127.0.0.1:${env.SMX_HTTP_PORT}`;
  }

  /** Settles the environment (every port free, `extra` on top) and registers the clean-up on `t`. */
  static async create(t: ExecutionContext, name: string, extra: Record<string, string> = {}): Promise<Deployment> {
    const id = randomBytes(4).toString('hex');
    const dataDir = await mkdtemp(join(tmpdir(), `smx-${name}-`));
    const adminToken = `adm_${randomBytes(16).toString('hex')}`;
    const slug = name
      .replace(/[^a-z0-9]/gi, '_')
      .toLowerCase()
      .slice(0, 20);
    const env: Record<string, string> = {
      DATABASE_URL: PG_URL,
      SMX_DATABASE_SCHEMA: `t_${slug}_${id}`,
      REDIS_URL,
      SMX_REDIS_PREFIX: `smxt-${slug}-${id}`,
      SMX_SECRET: `${slug}-secret-${id}-0123456789`,
      SMX_ADMIN_TOKEN: adminToken,
      SMX_HOST: '127.0.0.1',
      SMX_HTTP_PORT: String(await freePort()),
      SMX_MQTT_PORT: String(await freePort()),
      SMX_MQTT_WS_PORT: String(await freePort()),
      SMX_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      ...extra,
    };
    const deployment = new Deployment(env, adminToken);
    t.teardown(async () => {
      for (const child of deployment.children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(deployment.children.map(exited));
      await cleanupTestSmx({
        redisPrefix: env.SMX_REDIS_PREFIX,
        smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
      } as never);
      await rm(dataDir, { recursive: true, force: true });
    });
    return deployment;
  }

  /** Starts `smx <role>` with the deployment's environment (and `env` on top); killed at teardown. */
  start(role: string, env: Record<string, string> = {}): SmxProcess {
    const child = runSmx([role], { ...this.env, ...env });
    this.children.push(child);
    return child;
  }

  /** Runs `smx migrate` to its end; throws with its output when it fails. */
  async migrate(): Promise<void> {
    const child = runSmx(['migrate'], this.env);
    if ((await exited(child)) !== 0) throw new Error(`smx migrate failed:\n${child.output()}`);
  }

  /** Waits until the API answers /health/ready 200; on failure the error carries every process's output. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await eventually(
      async () =>
        (await fetch(`${this.base}/health/ready`, { signal: AbortSignal.timeout(5000) }).catch(() => null))?.status ===
        200,
      timeoutMs,
      'smx to be ready',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; output:\n${this.children.map((c) => c.output()).join('\n---\n')}`);
    });
  }

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  admin(method: string, path: string, body?: unknown): Promise<Answer> {
    return this.call(method, path, body, { authorization: `Bearer ${this.adminToken}` });
  }

  /** A project with an API key. */
  async project(name: string): Promise<{ projectId: string; key: string }> {
    const project = await this.admin('POST', '/admin/projects', { name });
    const key = await this.admin('POST', `/admin/projects/${project.body.data.id}/api-keys`, { name: 'test key' });
    if (key.status !== 201) throw new Error(`project ${name}: ${project.status} ${key.status}`);
    return { projectId: project.body.data.id, key: key.body.data.key };
  }

  /** Links a new phone to the project (`sendRatePerMinute` 0 unless given). */
  async linkPhone(projectId: string, name: string, sendRatePerMinute = 0): Promise<LinkResult> {
    const token = await this.admin('POST', `/admin/projects/${projectId}/link-tokens`);
    const credentials = await linkDevice({ server: this.base, token: token.body.data.token, name });
    await this.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute });
    return credentials;
  }
}
