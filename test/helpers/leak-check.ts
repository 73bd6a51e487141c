/**
 * Fails a test file that leaves something open. Loaded into every ava worker through the "require"
 * list of package.json's "ava" block (each test file runs in a child process of its own).
 *
 * Once ava is done with the file (every test, hook and teardown has run), a process that closed
 * what it opened has nothing left to keep it alive and exits by itself. This module waits for that
 * with an unref'd timer, which can only fire while something else still holds the event loop: a
 * socket, a server, a child process or a timer that was not cleared. When it fires after the grace
 * (teardown may still be closing connections), it prints what is open and exits with 1, which ava
 * reports as the file failing ("exited with a non-zero exit code: 1").
 *
 * SMX_LEAK_TRACE=1 also records where each socket, server, child process and timer was created,
 * and prints the stack of those still open (slower: a stack per resource).
 */
import { createHook } from 'node:async_hooks';
import type { ChildProcess } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { setTimeout as timer } from 'node:timers';
import { registerCompletionHandler } from 'ava';

/** How long teardown may take to release what it closed (sockets finish closing, children exit). */
const GRACE_MS = Number(process.env.SMX_LEAK_GRACE_MS ?? 2_000);
/** How often the open resources are looked at during the grace (only while something holds the loop). */
const POLL_MS = 100;

type Handle = { constructor?: { name?: string }; hasRef?: () => boolean };
const activeHandles = (): Handle[] => (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();

/** stdio is the runner's, not the test's. */
function isStdio(handle: Handle): boolean {
  return (
    handle === (process.stdin as unknown) ||
    handle === (process.stdout as unknown) ||
    handle === (process.stderr as unknown) ||
    handle === (process.channel as unknown)
  );
}

/** One line per open handle, saying what and where, so a leak report names its socket or server. */
function describe(handle: Handle): string {
  const kind = handle.constructor?.name ?? 'handle';
  if (kind === 'Socket' || kind === 'TLSSocket') {
    const s = handle as unknown as Socket;
    if (s.remotePort !== undefined)
      return `${kind} ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`;
    return `${kind} (not connected${s.connecting ? ', connecting' : ''})`;
  }
  if (kind === 'Server') {
    const address = (handle as unknown as Server).address();
    return `Server listening on ${typeof address === 'string' ? address : address ? `${address.address}:${address.port}` : '?'}`;
  }
  if (kind === 'ChildProcess') {
    const child = handle as unknown as ChildProcess;
    return `ChildProcess pid ${child.pid} (${child.spawnargs.slice(0, 3).join(' ')})`;
  }
  return kind;
}

/** process.getActiveResourcesInfo()'s names of the handle classes stdio uses. */
const RESOURCE_NAMES: Record<string, string> = { Pipe: 'PipeWrap', TTY: 'TTYWrap', TCP: 'TCPSocketWrap' };

/** What keeps the process alive besides stdio: the resource kinds with their counts, and a line per handle. */
function openResources(): { kinds: string[]; handles: string[] } {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const handles = activeHandles().filter((h) => !isStdio(h) && h.hasRef?.() !== false);
  // stdio pipes and TTYs are listed as resources too; take them out of the counts.
  for (const h of activeHandles().filter(isStdio)) {
    const wrap = (h as { _handle?: { constructor?: { name?: string } } })._handle?.constructor?.name;
    const kind = wrap === undefined ? undefined : (RESOURCE_NAMES[wrap] ?? wrap);
    if (kind && counts.has(kind)) counts.set(kind, counts.get(kind)! - 1);
  }
  const kinds = [...counts].filter(([, n]) => n > 0).map(([kind, n]) => (n > 1 ? `${kind} ×${n}` : kind));
  return { kinds, handles: handles.map(describe) };
}

/** Creation stacks of resources (SMX_LEAK_TRACE=1 only). */
const traced = new Map<number, { type: string; stack: string; resource: WeakRef<object> }>();
const TRACED_TYPES = new Set([
  'Timeout',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'PROCESSWRAP',
  'TLSWRAP',
  'UDPWRAP',
]);
if (process.env.SMX_LEAK_TRACE === '1') {
  createHook({
    init(asyncId, type, _trigger, resource) {
      if (!TRACED_TYPES.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      traced.set(asyncId, { type, stack, resource: new WeakRef(resource) });
    },
    destroy(asyncId) {
      traced.delete(asyncId);
    },
  }).enable();
}

function stillOpen(resource: object | undefined, type: string): boolean {
  if (!resource) return false;
  if (type === 'Timeout') {
    const t = resource as { hasRef?: () => boolean; _destroyed?: boolean; _idleTimeout?: number };
    return t.hasRef?.() === true && t._destroyed !== true && t._idleTimeout !== -1;
  }
  const h = resource as { hasRef?: () => boolean };
  return typeof h.hasRef !== 'function' || h.hasRef();
}

function traces(): string[] {
  return [...traced.values()]
    .filter((r) => stillOpen(r.resource.deref(), r.type))
    .map((r) => {
      // The frames of the code that opened it, without node's own.
      const frames = r.stack
        .split('\n')
        .slice(2)
        .filter((line) => !/\(node:|at node:/.test(line));
      return `  ${r.type} created\n${frames
        .slice(0, 8)
        .map((line) => `    ${line.trim()}`)
        .join('\n')}`;
    });
}

registerCompletionHandler(() => {
  const deadline = Date.now() + GRACE_MS;
  const look = () => {
    if (Date.now() < deadline) {
      timer(look, POLL_MS).unref();
      return;
    }
    // Still running after the grace: something holds the event loop.
    const { kinds, handles } = openResources();
    const lines = [
      `leak check: the test file left ${kinds.length > 0 ? kinds.join(', ') : 'something (not listed by process.getActiveResourcesInfo)'} open ${GRACE_MS} ms after its last teardown`,
      ...handles.map((h) => `  ${h}`),
      ...(process.env.SMX_LEAK_TRACE === '1'
        ? traces()
        : ['  (run with SMX_LEAK_TRACE=1 to see where each was created)']),
    ];
    process.stderr.write(`${lines.join('\n')}\n`, () => process.exit(1));
  };
  timer(look, POLL_MS).unref();
});
