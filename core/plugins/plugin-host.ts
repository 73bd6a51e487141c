import { isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';
import type { PluginConfig, PluginContext, PluginRequest, PluginRoute, SmxPlugin } from '../plugin-api.js';
import { Router } from '../delivery/router.js';
import { redactUrl } from '../redis.js';
import type { RuntimeConfig } from '../secrets.js';
import { projectOf } from '../http/auth.js';
import { ok } from '../http/envelope.js';
import { responses } from '../http/openapi.js';
import type { RouteModule } from '../http/server.js';
import { HookRunner } from '../hook-runner.js';

const PLUGIN_ANSWER = { nullable: true, description: "What the plugin's handler returned (null for nothing)." };

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Plugin names become URL segments and log fields: keep them plain. */
const NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/i;

/** A plugin that could not be loaded or set up; `smx start` prints it (and its cause) as one line. */
export class PluginError extends Error {
  override name = 'PluginError';
}

interface LoadedRoute extends PluginRoute {
  plugin: string;
}

/**
 * Loads plugins and gives each its `ctx`. The composition root loads the built-ins first, then
 * `SMX_PLUGINS` in order, before the HTTP server is built (plugin routes join the /v1 scope).
 */
export class PluginHost {
  /** Plugin name → where it came from (for the duplicate-name error). */
  private readonly loaded = new Map<string, string>();
  private readonly routes: LoadedRoute[] = [];
  private routesTaken = false;
  private readonly router: Router;
  private readonly hooks: HookRunner;
  private readonly config: PluginConfig;
  private readonly log: Logger;

  /** What plugins reach is named here: the router, the hook runner, a trimmed config and the logger. */
  constructor(deps: { router: Router; hooks: HookRunner; config: RuntimeConfig; logger: Logger }) {
    this.router = deps.router;
    this.hooks = deps.hooks;
    this.config = pluginConfig(deps.config);
    this.log = deps.logger;
  }

  /** Names of the plugins set up so far, in order. */
  names(): string[] {
    return [...this.loaded.keys()];
  }

  /** Imports each specifier (a path relative to the working directory, an absolute path or a package name) and sets it up. */
  async load(specifiers: readonly string[]): Promise<void> {
    for (const specifier of specifiers) {
      const module = await importPlugin(specifier);
      await this.install(module.default ?? module, specifier);
    }
  }

  /** Sets up one plugin object (the built-ins are passed in directly). */
  async install(candidate: unknown, source: string): Promise<void> {
    const plugin = validate(candidate, source);
    const previous = this.loaded.get(plugin.name);
    if (previous !== undefined)
      throw new PluginError(`plugin name "${plugin.name}" is used twice: by ${previous} and by ${source}`);
    this.loaded.set(plugin.name, source);
    try {
      await plugin.setup(this.context(plugin.name));
    } catch (error) {
      throw new PluginError(`plugin "${plugin.name}" failed to set up`, { cause: error });
    }
    this.log.info({ plugin: plugin.name, version: plugin.version ?? null, source }, 'plugin loaded');
  }

  /** The /v1 route module holding every plugin route; after this, plugins can add no more routes. */
  routeModule(): RouteModule {
    this.routesTaken = true;
    const routes = [...this.routes];
    return async (app: FastifyInstance) => {
      for (const route of routes) {
        app.route({
          method: route.method,
          url: `/plugins/${route.plugin}${route.url === '/' ? '' : route.url}`,
          // The plugin's answer is documented as any JSON unless its schema says more.
          schema: {
            tags: ['plugins'],
            security: [{ apiKey: [] }],
            response: responses({ 200: PLUGIN_ANSWER }, [400, 401, 404]),
            ...(route.schema ?? {}),
          },
          handler: async (request) => ok((await route.handler(toPluginRequest(request))) ?? null),
        });
      }
    };
  }

  private context(name: string): PluginContext {
    const log = this.log.child({ plugin: name });
    return {
      name,
      routing: {
        register: (strategy, fn) => {
          if (typeof fn !== 'function') throw new Error(`routing strategy "${strategy}" needs a function`);
          this.router.register(strategy, fn);
        },
        // A copy: the router's snapshot is shared by every strategy call.
        devices: async (projectId) => structuredClone(await this.router.devicesOf(projectId)),
      },
      hooks: { on: (hook, fn) => this.hooks.add(name, hook, fn) },
      http: {
        route: (route) => {
          if (this.routesTaken) throw new Error('routes can only be added during setup');
          if (
            !route ||
            !METHODS.has(route.method) ||
            typeof route.url !== 'string' ||
            !route.url.startsWith('/') ||
            typeof route.handler !== 'function'
          ) {
            throw new Error(`invalid route: needs { method: ${[...METHODS].join('|')}, url: '/...', handler }`);
          }
          this.routes.push({ ...route, plugin: name });
        },
      },
      config: this.config,
      log,
    };
  }
}

/**
 * The configuration plugins see: the fields `PluginConfig` lists, picked one by one (a new core
 * setting is not shown to plugins until the contract names it), without secrets, the URLs without
 * their passwords, frozen.
 */
function pluginConfig(config: RuntimeConfig): PluginConfig {
  return Object.freeze({
    httpPort: config.httpPort,
    host: config.host,
    publicUrl: config.publicUrl,
    mqttPublicUrl: config.mqttPublicUrl,
    redisUrl: redactUrl(config.redisUrl),
    redisPrefix: config.redisPrefix,
    databaseUrl: config.databaseUrl === undefined ? undefined : redactUrl(config.databaseUrl),
    databaseSchema: config.databaseSchema,
    dataDir: config.dataDir,
    plugins: Object.freeze([...config.plugins]),
    logLevel: config.logLevel,
    workerConcurrency: config.workerConcurrency,
  });
}

function validate(candidate: unknown, source: string): SmxPlugin {
  const p = candidate as Partial<SmxPlugin> | null;
  if (
    !p ||
    typeof p !== 'object' ||
    typeof p.name !== 'string' ||
    p.name.trim() === '' ||
    typeof p.setup !== 'function'
  ) {
    throw new PluginError(
      `plugin ${source}: the default export must be { name: string, setup(ctx) } (use definePlugin from smx/plugin-api)`,
    );
  }
  if (!NAME.test(p.name))
    throw new PluginError(
      `plugin ${source}: name "${p.name}" must be letters, digits, ".", "_" or "-" (it becomes a URL segment)`,
    );
  return p as SmxPlugin;
}

/** Paths resolve against the working directory; package names first from SMX itself, then from the working directory. */
async function importPlugin(specifier: string): Promise<{ default?: unknown }> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier) || specifier.startsWith('file:');
  try {
    if (isPath) return await import(specifier.startsWith('file:') ? specifier : pathToFileURL(resolve(specifier)).href);
    try {
      return await import(specifier);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      const fromCwd = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
      return await import(pathToFileURL(fromCwd).href);
    }
  } catch (error) {
    throw new PluginError(`plugin ${specifier}: cannot import it (${(error as Error).message})`, { cause: error });
  }
}

function toPluginRequest(request: FastifyRequest): PluginRequest {
  return {
    projectId: projectOf(request),
    params: (request.params ?? {}) as Record<string, string>,
    query: (request.query ?? {}) as Record<string, unknown>,
    body: request.body,
    headers: request.headers,
    log: request.log,
  };
}
