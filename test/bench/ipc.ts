/**
 * Request/answer over the Node IPC channel between the bench and its helper children (phones,
 * ceiling server): the parent `fork`s a file and awaits `request(cmd, args)`; the child answers
 * with `serveIpc(handlers)`. Advanced serialization carries large arrays cheaply.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LogCollector } from './child-logs.js';

interface Request {
  rid: number;
  cmd: string;
  args: unknown;
}
interface Answer {
  rid: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export type Handlers = Record<string, (args: any) => unknown>;

/** Child side: answers each request with its handler's (awaited) result. */
export function serveIpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this file runs as a forked child of the bench');
  process.on('message', (message: Request) => {
    const handler = handlers[message.cmd];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        const result = await handler(message.args);
        process.send!({ rid: message.rid, ok: true, result } satisfies Answer);
      } catch (err) {
        process.send!({ rid: message.rid, ok: false, error: (err as Error).stack ?? String(err) } satisfies Answer);
      }
    })();
  });
  // The bench went away (crash, Ctrl-C): do not outlive it.
  process.on('disconnect', () => process.exit(0));
}

/** Parent side: a forked helper child. */
export class IpcChild {
  readonly logs = new LogCollector();
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private alive = true;

  private constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    this.logs.attach(child.stdout, 'stdout');
    this.logs.attach(child.stderr, 'stderr');
    child.on('message', (answer: Answer) => {
      const waiter = this.pending.get(answer.rid);
      if (!waiter) return;
      this.pending.delete(answer.rid);
      if (answer.ok) waiter.resolve(answer.result);
      else waiter.reject(new Error(`${name}: ${answer.error}`));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.alive = false;
        for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited (${code ?? signal})`));
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** Forks `file` (a URL relative to the caller, e.g. `new URL('./phones.js', import.meta.url)`). */
  static fork(file: URL, name: string, env: NodeJS.ProcessEnv = {}): IpcChild {
    const child = fork(fileURLToPath(file), [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    return new IpcChild(child, name);
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<T>(cmd: string, args?: unknown): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`));
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ rid, cmd, args } satisfies Request);
    });
  }

  /** Asks nicely (`stop` command, if it has one), then SIGTERM, then SIGKILL. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    const timers = [
      setTimeout(() => this.child.kill('SIGTERM'), graceMs),
      setTimeout(() => this.child.kill('SIGKILL'), graceMs * 2),
    ];
    await this.request('stop').catch(() => undefined);
    if (this.alive) this.child.disconnect?.();
    await this.exited;
    for (const t of timers) clearTimeout(t);
  }
}
