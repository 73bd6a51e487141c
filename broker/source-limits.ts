/**
 * Per-source admission of MQTT connections (issue 10): a token bucket of new connections per
 * second and a cap on connections that have not authenticated yet, both keyed by the source
 * address ({@link sourceKey}). A connection over either is closed at once, before aedes sees it.
 *
 * Phones reconnect after a restart all at once, and a fleet benchmark connects thousands of
 * phones from 127.0.0.1, hence a burst of 10 s of the rate and both values configurable
 * (SMX_MQTT_CONNECT_RATE_PER_SOURCE, SMX_MQTT_MAX_PENDING_PER_SOURCE).
 */
import ipaddr from 'ipaddr.js';
import type { Logger } from '../core/index.js';

/** Seconds of the rate a source may use at once. @defaultValue 10 */
export const CONNECT_BURST_SECONDS = 10;

/** How often sources with nothing pending and a full bucket are forgotten. @defaultValue 60 000 */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The key a source is counted under: the IPv4 address (IPv4-mapped IPv6 included), or the /64 of
 * an IPv6 address (one host usually holds a whole /64, so per-address keys would not limit it).
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  try {
    const ip = ipaddr.process(address);
    if (ip.kind() === 'ipv4') return ip.toString();
    const parts = (ip as ipaddr.IPv6).parts;
    return `${parts
      .slice(0, 4)
      .map((part) => part.toString(16))
      .join(':')}::/64`;
  } catch {
    return address;
  }
}

export interface SourceLimitsOptions {
  /** Connections per source that have not authenticated yet. */
  maxPending: number;
  /** New connections per second per source (bursts up to {@link CONNECT_BURST_SECONDS} of it). */
  ratePerSecond: number;
  now?: () => number;
}

interface Source {
  tokens: number;
  at: number;
  pending: number;
}

/** Why a connection was refused. */
export type Refusal = 'rate' | 'pending';

/** An admitted connection: `settle()` once it authenticated or closed (idempotent). */
export interface Admission {
  readonly source: string;
  settle(): void;
}

export class SourceLimits {
  private readonly sources = new Map<string, Source>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: SourceLimitsOptions) {
    this.capacity = Math.max(1, options.ratePerSecond * CONNECT_BURST_SECONDS);
    this.perMs = options.ratePerSecond / 1000;
    this.now = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  /** Takes a token and a pending slot for `source`, or says why not. Every attempt costs a token. */
  admit(source: string): Admission | Refusal {
    const now = this.now();
    let entry = this.sources.get(source);
    if (!entry) {
      entry = { tokens: this.capacity, at: now, pending: 0 };
      this.sources.set(source, entry);
    } else {
      entry.tokens = Math.min(this.capacity, entry.tokens + (now - entry.at) * this.perMs);
      entry.at = now;
    }
    if (entry.tokens < 1) return 'rate';
    entry.tokens -= 1;
    if (entry.pending >= this.options.maxPending) return 'pending';
    entry.pending++;
    const held = entry;
    let settled = false;
    return {
      source,
      settle: () => {
        if (settled) return;
        settled = true;
        held.pending--;
      },
    };
  }

  /** Connections of `source` not yet authenticated (for tests and metrics). */
  pending(source: string): number {
    return this.sources.get(source)?.pending ?? 0;
  }

  /** Forgets the sources that nothing distinguishes from a new one (nothing pending, bucket refilled). */
  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.sources) {
      if (entry.pending === 0 && entry.tokens + (now - entry.at) * this.perMs >= this.capacity)
        this.sources.delete(key);
    }
  }

  get size(): number {
    return this.sources.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/** How often a kind of refusal is logged at most (with the count since). @defaultValue 10 000 */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Logs refused connections without flooding: the first of a kind at once (warn), then at most one
 * line per kind per {@link REFUSAL_LOG_INTERVAL_MS} with how many were refused meanwhile.
 */
export class RefusalLog {
  private readonly kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  note(kind: string, details: Record<string, unknown>): void {
    const now = this.now();
    const entry = this.kinds.get(kind);
    if (entry && now - entry.loggedAt < REFUSAL_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    this.log.warn(
      { reason: kind, ...details, refusedSinceLastLine: entry?.suppressed ?? 0 },
      'mqtt connection refused',
    );
    this.kinds.set(kind, { loggedAt: now, suppressed: 0 });
  }
}
