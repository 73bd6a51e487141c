import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (up: boolean) => {
      socket.destroy();
      done(up);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * For `smx start` with REDIS_URL unset and nothing on 127.0.0.1:6379: starts `redis-server` from
 * PATH as a child process keeping its data under the data dir. Returns null if none is on PATH.
 */
export async function startLocalRedis(dataDir: string, port = 6379): Promise<ChildProcess | null> {
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '60 1', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const spawned = await new Promise<boolean>((done) => {
    child.once('spawn', () => done(true));
    child.once('error', () => done(false));
  });
  if (!spawned) return null;
  for (let i = 0; i < 50; i++) {
    if (await isListening('127.0.0.1', port)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  return null;
}
