/**
 * What the SMSGate 3rd-party tests share: the npm client (every installed version) with the
 * HttpClient its README shows, raw HTTP calls, and a project with a linked reference phone.
 */
import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import type { ReferenceDeviceOptions } from '../../device/reference-device.js';
import { linkNewDevice, startPhone, type TestSmx } from '../helpers/smx.js';

export const BASE = '/compat/smsgate/3rdparty/v1';

/** The part of the npm client's `Client` the tests call (3.0.0's names). */
export interface SmsGateClient {
  send(message: Record<string, unknown>, options?: { skipPhoneValidation?: boolean }): Promise<any>;
  getState(id: string): Promise<any>;
  getDevices(): Promise<any[]>;
  deleteDevice(id: string): Promise<unknown>;
  getHealth(): Promise<any>;
  getWebhooks(): Promise<any[]>;
  registerWebhook(request: Record<string, unknown>): Promise<any>;
  deleteWebhook(id: string): Promise<unknown>;
  getSettings(): Promise<any>;
  updateSettings(settings: Record<string, unknown>): Promise<any>;
  patchSettings(settings: Record<string, unknown>): Promise<any>;
  getLogs(from?: Date, to?: Date): Promise<unknown>;
}

export interface HttpClient {
  get(url: string, headers?: Record<string, string>): Promise<unknown>;
  post(url: string, body: unknown, headers?: Record<string, string>): Promise<unknown>;
  put(url: string, body: unknown, headers?: Record<string, string>): Promise<unknown>;
  patch(url: string, body: unknown, headers?: Record<string, string>): Promise<unknown>;
  delete(url: string, headers?: Record<string, string>): Promise<unknown>;
}

type ClientConstructor = new (login: string, password: string, http: HttpClient, baseUrl?: string) => SmsGateClient;

/** The HttpClient of the client's README (3.0.0 requires one): throws `HTTP error <status>: <body>` on non-2xx. */
export const fetchHttpClient: HttpClient = {
  get: (url, h) => call('GET', url, h),
  post: (url, b, h) => call('POST', url, h, b),
  put: (url, b, h) => call('PUT', url, h, b),
  patch: (url, b, h) => call('PATCH', url, h, b),
  delete: (url, h) => call('DELETE', url, h),
};

async function call(method: string, url: string, headers?: Record<string, string>, body?: unknown): Promise<unknown> {
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  if (!r.ok) throw new Error(`HTTP error ${r.status}: ${await r.text()}`);
  return (r.headers.get('content-type') ?? '').includes('application/json') ? r.json() : r.text();
}

/**
 * Every installed version of the npm client: `android-sms-gateway` (3.0.0) and, when installed,
 * the newest one under the alias `android-sms-gateway-latest`.
 */
export async function clientVersions(): Promise<Array<{ name: string; Client: ClientConstructor }>> {
  const out: Array<{ name: string; Client: ClientConstructor }> = [];
  for (const name of ['android-sms-gateway', 'android-sms-gateway-latest']) {
    let mod: { default?: unknown; Client?: unknown };
    try {
      mod = (await import(name)) as typeof mod;
    } catch (error) {
      if (name === 'android-sms-gateway') throw error;
      continue;
    }
    const Client = (typeof mod.default === 'function' ? mod.default : mod.Client) as ClientConstructor;
    out.push({ name, Client });
  }
  return out;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** A raw call to the surface (`path` below BASE), as client-go or curl makes it. */
export async function raw(
  smx: TestSmx,
  method: string,
  path: string,
  options: { auth?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {
    ...(options.auth ? { authorization: options.auth } : {}),
    ...options.headers,
  };
  if (options.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const r = await fetch(`${smx.url}${BASE}${path}`, {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export interface Project {
  projectId: string;
  key: string;
  keyId: string;
  auth: string;
}

/** A project with an API key (its id too). */
export async function newProject(smx: TestSmx, name = 'SMSGate user'): Promise<Project> {
  const project = await smx.admin('POST', '/admin/projects', { name });
  const created = await smx.admin('POST', `/admin/projects/${project.body.data.id}/api-keys`, { name: 'smsgate' });
  const projectId = project.body.data.id as string;
  const key = created.body.data.key as string;
  return { projectId, key, keyId: created.body.data.id as string, auth: basic(projectId, key) };
}

/** Links the reference device to the project, unpaced, and starts it. */
export async function withPhone(
  t: ExecutionContext,
  smx: TestSmx,
  projectId: string,
  options: Partial<ReferenceDeviceOptions> = {},
) {
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const phone = await startPhone(t, credentials, options);
  return { credentials, phone, deviceId: credentials.deviceId };
}

/**
 * HMAC-SHA256 from its definition (RFC 2104) over SHA-256, not node:crypto's HMAC: how a
 * receiver checks `X-Signature` independently of SMX's signing code.
 */
export function independentHmacHex(key: string, message: string): string {
  let k = Buffer.from(key, 'utf8');
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.concat([k, Buffer.alloc(64 - k.length)]);
  const ipad = Buffer.from(block.map((b) => b ^ 0x36));
  const opad = Buffer.from(block.map((b) => b ^ 0x5c));
  const inner = createHash('sha256')
    .update(Buffer.concat([ipad, Buffer.from(message, 'utf8')]))
    .digest();
  return createHash('sha256')
    .update(Buffer.concat([opad, inner]))
    .digest('hex');
}
