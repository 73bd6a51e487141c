/**
 * A TCP proxy in front of a real dependency (PostgreSQL, Redis, the MQTT broker) that a fault test
 * can break without stopping the shared service other test files use: refuse and drop connections
 * (the dependency is down), hold them silent (it hangs), or drop a connection right after a given
 * request went through (the commit happened, the answer never came back).
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

type Mode = 'up' | 'down' | 'silent';

export class FaultProxy {
  private mode: Mode = 'up';
  private readonly pairs = new Set<[Socket, Socket]>();
  private trap: { pattern: string; delayMs: number; sprung: (() => void) | undefined } | undefined;
  private server: Server;

  private constructor(
    private readonly targetPort: number,
    readonly port: number,
    server: Server,
  ) {
    this.server = server;
  }

  /** Listens on a free port of 127.0.0.1 and forwards to `targetPort` there. */
  static async start(targetPort: number): Promise<FaultProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new FaultProxy(targetPort, (server.address() as AddressInfo).port, server);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  private accept(client: Socket): void {
    client.setNoDelay(true);
    if (this.mode === 'down') return void client.destroy();
    const upstream = connect(this.targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.on('data', (chunk: Buffer) => {
      if (this.mode === 'up') client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (this.mode !== 'up') return;
      upstream.write(chunk);
      const trap = this.trap;
      if (trap && chunk.includes(trap.pattern)) {
        this.trap = undefined;
        // The request reached the server; what it answers never comes back.
        this.mode = 'silent';
        setTimeout(() => {
          drop();
          this.mode = 'up';
          trap.sprung?.();
        }, trap.delayMs);
      }
    });
  }

  /** The dependency is down: every connection is dropped and new ones are closed at once. */
  down(): void {
    this.mode = 'down';
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** The dependency hangs: connections stay open, nothing goes through either way. */
  silent(): void {
    this.mode = 'silent';
  }

  /** Back to forwarding (connections dropped while down stay dropped; clients reconnect). */
  up(): void {
    this.mode = 'up';
  }

  /**
   * Once the client sends bytes containing `pattern`: forward them, forward nothing more on any
   * connection for `delayMs` (the server finishes the request), then drop that connection and
   * resume. Resolves when the trap has been sprung.
   */
  dropAfterRequest(pattern: string, delayMs = 300): Promise<void> {
    return new Promise((resolve) => {
      this.trap = { pattern, delayMs, sprung: resolve };
    });
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
