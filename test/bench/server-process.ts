/**
 * SMX as a separate process: `node dist/bin/smx.js start` (API, broker and workers in one
 * process, as a small team runs it) with its own schema, Redis prefix, data dir and ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogCollector, type LogDigest } from './child-logs.js';
import { waitFor } from './http-client.js';

/** The repository root (this file runs as dist/test/bench/server-process.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface SmxProcessOptions {
  databaseUrl: string;
  schema: string;
  redisUrl: string;
  redisPrefix: string;
  adminToken: string;
  secret: string;
  httpPort: number;
  mqttPort: number;
  mqttWsPort: number;
  logLevel?: string;
}

export class SmxProcess {
  readonly url: string;
  readonly logs = new LogCollector();
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly options: SmxProcessOptions,
    private readonly dataDir: string,
  ) {
    this.url = `http://127.0.0.1:${options.httpPort}`;
    this.logs.attach(child.stdout, 'info');
    this.logs.attach(child.stderr, 'stderr');
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Spawns SMX and resolves once `/health/ready` answers 200 (or throws with its last log lines). */
  static async start(options: SmxProcessOptions, timeoutMs = 60_000): Promise<SmxProcess> {
    const dataDir = mkdtempSync(join(tmpdir(), 'smx-bench-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      SMX_DATABASE_SCHEMA: options.schema,
      REDIS_URL: options.redisUrl,
      SMX_REDIS_PREFIX: options.redisPrefix,
      SMX_ADMIN_TOKEN: options.adminToken,
      SMX_SECRET: options.secret,
      SMX_HOST: '127.0.0.1',
      SMX_HTTP_PORT: String(options.httpPort),
      // Loopback by address: QR payloads and the phones' MQTT URL then never depend on how "localhost" resolves.
      SMX_PUBLIC_URL: `http://127.0.0.1:${options.httpPort}`,
      SMX_MQTT_PORT: String(options.mqttPort),
      SMX_MQTT_WS_PORT: String(options.mqttWsPort),
      SMX_DATA_DIR: dataDir,
      // BENCH_SMX_LOG_LEVEL=debug: the log tail in the JSON report then shows what a slow shutdown waited for.
      LOG_LEVEL: options.logLevel ?? process.env.BENCH_SMX_LOG_LEVEL ?? 'warn',
    };
    // BENCH_SMX_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): node flags for SMX only, to profile it under the bench's load.
    const nodeArgs = (process.env.BENCH_SMX_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(REPO_ROOT, 'dist/bin/smx.js'), 'start'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const smx = new SmxProcess(child, options, dataDir);
    const ready = await waitFor(
      async () => {
        if (!smx.running) throw new Error('exited');
        const response = await fetch(`${smx.url}/health/ready`);
        await response.arrayBuffer();
        return response.status === 200;
      },
      timeoutMs,
      200,
    );
    if (!ready) {
      await smx.stop();
      throw new Error(
        `SMX did not become ready (exit code ${String(smx.exitCode)}):\n${smx.logs.digest().tail.join('\n')}`,
      );
    }
    return smx;
  }

  /** SIGTERM (graceful drain), SIGKILL after `graceMs`; removes the data dir. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    return this.exitCode ?? null;
  }

  logDigest(): LogDigest {
    return this.logs.digest();
  }
}
