/**
 * The phone fleet, run as a child process of the bench so the phones have an event loop (and a
 * core, when the OS gives it one) of their own instead of sharing the load generator's.
 *
 * Each phone is the reference device (a real MQTT client speaking device-protocol.md) reporting
 * `sent` and `delivered`. The child records, per message id, the Date.now() at which the phone's
 * onSend fired; the bench reads counts while it waits and the full (id, time) list for latency.
 */
import { ReferenceDevice } from '../../device/reference-device.js';
import type { LinkResult } from '../../protocol/payloads.js';
import { serveIpc } from './ipc.js';

export interface PhoneCount {
  /** Distinct message ids received since the last reset. */
  count: number;
  /** onSend calls for an id already received (should stay 0: the device de-duplicates). */
  duplicates: number;
  /** Outbox copies of an id the phone had already taken (it skips them): publishes the server sent twice. */
  copies: number;
  firstAt: number | null;
  lastAt: number | null;
  /** Of the ids given to `expect` since the last reset, how many were received. */
  expectedReceived: number;
}

const devices: ReferenceDevice[] = [];
let received = new Map<string, number>();
let duplicates = 0;
let copies = 0;
let firstAt: number | null = null;
let lastAt: number | null = null;
let expected = new Set<string>();
let expectedReceived = 0;
const logLines: string[] = [];

function onSend(id: string): void {
  const now = Date.now();
  if (received.has(id)) {
    duplicates++;
    return;
  }
  received.set(id, now);
  if (expected.has(id)) expectedReceived++;
  firstAt ??= now;
  lastAt = now;
}

serveIpc({
  /** Connects one reference device per credentials entry; resolves when all are subscribed. */
  async start(args: { devices: LinkResult[] }) {
    for (const credentials of args.devices) {
      const device = new ReferenceDevice({
        credentials,
        report: { sent: true, delivered: true },
        onSend: (message) => onSend(message.id),
        log: (line) => {
          if (line.startsWith('skipped ')) copies++;
          logLines.push(`${credentials.deviceId}: ${line}`);
          if (logLines.length > 200) logLines.shift();
        },
      });
      devices.push(device);
      await device.start();
    }
    return { started: devices.length };
  },
  reset() {
    received = new Map();
    duplicates = 0;
    copies = 0;
    firstAt = null;
    lastAt = null;
    expected = new Set();
    expectedReceived = 0;
    return true;
  },
  /** Adds ids to watch for (counts those already received). */
  expect(args: { ids: string[] }) {
    for (const id of args.ids) {
      if (expected.has(id)) continue;
      expected.add(id);
      if (received.has(id)) expectedReceived++;
    }
    return expected.size;
  },
  count(): PhoneCount {
    return { count: received.size, duplicates, copies, firstAt, lastAt, expectedReceived };
  },
  /** Every (id, receivedAt) since the last reset. */
  dump(): Array<[string, number]> {
    return [...received.entries()];
  },
  connected() {
    return devices.map((d) => ({ deviceId: d.deviceId, connected: d.connected }));
  },
  log() {
    return [...logLines];
  },
  async stop() {
    await Promise.all(devices.map((d) => d.stop()));
    return true;
  },
});
