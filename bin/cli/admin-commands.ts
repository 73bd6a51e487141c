/**
 * `smx projects`, `smx keys` and `smx devices`: the operator's admin API from the terminal,
 * against a running server, with the admin token of `--admin-token`, SMX_ADMIN_TOKEN or
 * `$SMX_DATA_DIR/admin-token`. `--json` prints the API's `data` for scripts.
 */
import { Command } from 'commander';
import { cliName, resolveAdminToken, resolveServer, withServerOptions, type CliIo } from './conventions.js';
import { call, type Call } from './http.js';
import { printJson, printTable, when } from './output.js';

interface AdminOptions {
  server?: string;
  adminToken?: string;
  json?: boolean;
}

interface Project {
  id: string;
  name: string;
  createdAt: string;
}
interface ApiKey {
  id: string;
  projectId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  key?: string;
}
interface Device {
  id: string;
  name: string;
  status: string;
  online: boolean;
  lastSeenAt: string | null;
  transport: string;
  sims: Array<{ number: string | null }>;
}

/** A command of the admin API: `--server`, `--admin-token` and `--json` come with it. */
function adminCommand(name: string, description: string): Command {
  return withServerOptions(new Command(name).description(description)).option(
    '--json',
    "print the API's answer as JSON (for scripts)",
  );
}

async function admin<T>(io: CliIo, options: AdminOptions, request: Omit<Call, 'headers'>): Promise<T> {
  const token = await resolveAdminToken(io, options.adminToken);
  const answer = await call<T>(resolveServer(io, options.server), {
    ...request,
    headers: { authorization: `Bearer ${token}` },
  });
  return answer.data;
}

const id = (value: string) => encodeURIComponent(value);

export function projectsCommand(io: CliIo): Command {
  const projects = new Command('projects').description('create and list projects (tenants)');
  projects.addCommand(
    adminCommand('create', 'create a project')
      .argument('<name>', 'the project\'s name, e.g. "My app"')
      .action(async (name: string, options: AdminOptions) => {
        const project = await admin<Project>(io, options, { method: 'POST', path: '/admin/projects', body: { name } });
        if (options.json) return printJson(io, project);
        io.out(`Created project ${project.id} "${project.name}".`);
        io.out(`Next: ${cliName(io)} keys create ${project.id}    (an API key for your backend)`);
        io.out(`      ${cliName(io)} link ${project.id}           (a QR code for the phone)`);
      }),
  );
  projects.addCommand(
    adminCommand('list', 'list the projects').action(async (options: AdminOptions) => {
      const { projects: list } = await admin<{ projects: Project[] }>(io, options, {
        method: 'GET',
        path: '/admin/projects',
      });
      if (options.json) return printJson(io, list);
      if (list.length === 0) return io.out(`No projects yet. Create one: ${cliName(io)} projects create "My app"`);
      printTable(
        io,
        ['ID', 'NAME', 'CREATED'],
        list.map((p) => [p.id, p.name, when(p.createdAt)]),
      );
    }),
  );
  return projects;
}

export function keysCommand(io: CliIo): Command {
  const keys = new Command('keys').description("create, list and revoke a project's API keys");
  keys.addCommand(
    adminCommand('create', 'create an API key (the key is shown once)')
      .argument('<projectId>', 'the project (prj_...)')
      .option('--name <name>', 'what the key is for', 'backend')
      .action(async (projectId: string, options: AdminOptions & { name: string }) => {
        const key = await admin<ApiKey>(io, options, {
          method: 'POST',
          path: `/admin/projects/${id(projectId)}/api-keys`,
          body: { name: options.name },
        });
        if (options.json) return printJson(io, key);
        io.out(`API key ${key.id} "${key.name}" for ${key.projectId}. It is shown this once; keep it now:`);
        io.out(`  ${key.key}`);
      }),
  );
  keys.addCommand(
    adminCommand('list', "list a project's API keys (never the keys themselves)")
      .argument('<projectId>', 'the project (prj_...)')
      .action(async (projectId: string, options: AdminOptions) => {
        const { apiKeys } = await admin<{ apiKeys: ApiKey[] }>(io, options, {
          method: 'GET',
          path: `/admin/projects/${id(projectId)}/api-keys`,
        });
        if (options.json) return printJson(io, apiKeys);
        if (apiKeys.length === 0) return io.out(`No API keys. Create one: ${cliName(io)} keys create ${projectId}`);
        printTable(
          io,
          ['ID', 'NAME', 'PREFIX', 'CREATED', 'LAST USED'],
          apiKeys.map((k) => [k.id, k.name, k.prefix, when(k.createdAt), when(k.lastUsedAt)]),
        );
      }),
  );
  keys.addCommand(
    adminCommand('revoke', 'revoke an API key at once')
      .argument('<projectId>', 'the project (prj_...)')
      .argument('<keyId>', "the key's id (key_...), as `keys list` shows it")
      .action(async (projectId: string, keyId: string, options: AdminOptions) => {
        const done = await admin<{ id: string; revoked: boolean }>(io, options, {
          method: 'DELETE',
          path: `/admin/projects/${id(projectId)}/api-keys/${id(keyId)}`,
        });
        if (options.json) return printJson(io, done);
        io.out(`Revoked ${done.id}: requests with it are refused from now on.`);
      }),
  );
  return keys;
}

export function devicesCommand(io: CliIo): Command {
  const devices = new Command('devices').description("list and unlink a project's phones");
  devices.addCommand(
    adminCommand('list', "list a project's linked phones with their presence")
      .argument('<projectId>', 'the project (prj_...)')
      .action(async (projectId: string, options: AdminOptions) => {
        const { devices: list } = await admin<{ devices: Device[] }>(io, options, {
          method: 'GET',
          path: `/admin/projects/${id(projectId)}/devices`,
        });
        if (options.json) return printJson(io, list);
        if (list.length === 0) return io.out(`No phones linked. Link one: ${cliName(io)} link ${projectId}`);
        printTable(
          io,
          ['ID', 'NAME', 'STATUS', 'ONLINE', 'LAST SEEN', 'SIMS'],
          list.map((d) => [
            d.id,
            d.name,
            `${d.status} (${d.transport})`,
            d.online ? 'yes' : 'no',
            when(d.lastSeenAt),
            d.sims.map((s) => s.number ?? '?').join(' ') || '-',
          ]),
        );
      }),
  );
  devices.addCommand(
    adminCommand('unlink', 'unlink a phone: its credentials stop working at once')
      .argument('<deviceId>', 'the device (dev_...), as `devices list` shows it')
      .action(async (deviceId: string, options: AdminOptions) => {
        const done = await admin<{ id: string; unlinked: boolean }>(io, options, {
          method: 'DELETE',
          path: `/admin/devices/${id(deviceId)}`,
        });
        if (options.json) return printJson(io, done);
        io.out(`Unlinked ${done.id}.`);
      }),
  );
  return devices;
}
