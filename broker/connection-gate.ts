/**
 * What every MQTT connection passes before and while aedes serves it (issue 10), for the TCP and
 * the WebSocket listener alike:
 * - per-source admission ({@link SourceLimits}): a connection over the rate or the cap on
 *   unauthenticated connections is closed at once;
 * - the packet size guard (packet-guard.ts): {@link MAX_PACKET_BYTES_BEFORE_AUTH} until aedes
 *   emits 'client' (CONNECT accepted), then the limit of the client's role.
 * The CONNECT timeout is aedes's own `connectTimeout`.
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { Logger } from '../core/index.js';
import type { ClientRoles } from './auth.js';
import {
  MAX_DEVICE_PACKET_BYTES,
  MAX_INTERNAL_PACKET_BYTES,
  MAX_PACKET_BYTES_BEFORE_AUTH,
  guardPacketSizes,
  type FrameScanner,
} from './packet-guard.js';
import { RefusalLog, SourceLimits, sourceKey, type Admission } from './source-limits.js';

export interface ConnectionGateOptions {
  /** SMX_MQTT_MAX_PENDING_PER_SOURCE */
  maxPendingPerSource: number;
  /** SMX_MQTT_CONNECT_RATE_PER_SOURCE */
  connectRatePerSource: number;
  roles: ClientRoles;
  log: Logger;
}

interface Guarded {
  scanner: FrameScanner;
  admission: Admission;
}

export class ConnectionGate {
  readonly limits: SourceLimits;
  private readonly refusals: RefusalLog;
  private readonly guarded = new WeakMap<object, Guarded>();
  private readonly roles: ClientRoles;

  constructor(options: ConnectionGateOptions) {
    this.limits = new SourceLimits({
      maxPending: options.maxPendingPerSource,
      ratePerSecond: options.connectRatePerSource,
    });
    this.refusals = new RefusalLog(options.log);
    this.roles = options.roles;
  }

  /**
   * Admits a new connection from `address`; its pending slot is given back when `socket` closes
   * (or when it authenticates). Null: refused, and the caller destroys the socket.
   */
  admit(address: string | undefined, socket: EventEmitter): Admission | null {
    const source = sourceKey(address);
    const admission = this.limits.admit(source);
    if (typeof admission === 'string') {
      this.refusals.note(
        admission === 'rate' ? 'connection rate per source' : 'unauthenticated connections per source',
        { source },
      );
      return null;
    }
    socket.once('close', admission.settle);
    return admission;
  }

  /** Puts the packet size guard on `conn`, the stream aedes is about to read. */
  guard(conn: Duplex, admission: Admission): void {
    const scanner = guardPacketSizes(conn, MAX_PACKET_BYTES_BEFORE_AUTH, (error) =>
      this.refusals.note(`packet ${error.violation}`, {
        source: admission.source,
        announced: error.announced,
        limit: error.limit,
      }),
    );
    this.guarded.set(conn, { scanner, admission });
  }

  /** aedes 'client': the CONNECT was accepted. The packet limit becomes the role's; the pending slot is given back. */
  authenticated(client: Client): void {
    const entry = this.guarded.get(client.conn);
    if (!entry) return;
    entry.scanner.limit =
      this.roles.get(client)?.kind === 'internal' ? MAX_INTERNAL_PACKET_BYTES : MAX_DEVICE_PACKET_BYTES;
    entry.admission.settle();
  }

  close(): void {
    this.limits.close();
  }
}
