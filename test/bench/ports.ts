/** Free loopback TCP ports, found by binding :0 and closing again. */
import { createServer, type Server } from 'node:net';

/**
 * `count` distinct free ports on 127.0.0.1. All are held open until every one is known, so the
 * same port is never handed out twice; 1883 (Mosquitto) can never come out of the kernel's
 * ephemeral range, but is excluded explicitly anyway.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = createServer();
      servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      });
      if (port > 0 && port !== 1883 && !ports.includes(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
