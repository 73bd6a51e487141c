/**
 * The ids this device must never send again (device-protocol.md §4 "At least once, de-duplicated"):
 * ids it has sent and ids the server canceled, each kept with the time it was added for at least
 * 24 hours. Optionally persisted to a JSON file so a restarted device still skips them.
 */
import { readFile } from 'node:fs/promises';
import { writeJsonPrivate } from './credentials-file.js';
import { isRecord } from './api-client.js';

/** The protocol's minimum retention: 24 hours. */
export const SENT_ID_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Why an id is remembered. */
export type SentIdReason = 'sent' | 'canceled';

export interface SentIdStoreOptions {
  /** JSON file to persist to; without it the store lives in memory only. */
  file?: string;
  /** How long an id is kept; values under 24 h are refused. @defaultValue SENT_ID_RETENTION_MS */
  retentionMs?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

interface Entry {
  at: number;
  reason: SentIdReason;
}

interface FileShape {
  v: 1;
  ids: Record<string, { at: number; reason: SentIdReason }>;
}

const PRUNE_EVERY_MS = 60_000;

/** A store of message ids already sent (or canceled), pruned after the retention period. */
export class SentIdStore {
  readonly file: string | undefined;
  readonly retentionMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  /** Writes are chained so two quick adds never race each other onto the disk. */
  private writing: Promise<void> = Promise.resolve();
  private lastPrune = 0;

  constructor(options: SentIdStoreOptions = {}) {
    const retentionMs = options.retentionMs ?? SENT_ID_RETENTION_MS;
    if (!Number.isFinite(retentionMs) || retentionMs < SENT_ID_RETENTION_MS) {
      throw new Error(`SentIdStore retentionMs must be at least ${SENT_ID_RETENTION_MS} (24 h), got ${retentionMs}`);
    }
    this.file = options.file;
    this.retentionMs = retentionMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates a store and loads its file if there is one. A missing file is an empty store; an
   * unreadable one throws, because silently forgetting could make the phone send an SMS twice.
   */
  static async open(options: SentIdStoreOptions = {}): Promise<SentIdStore> {
    const store = new SentIdStore(options);
    if (store.file !== undefined) await store.load();
    return store;
  }

  /** True when `id` was sent or canceled within the retention period. */
  has(id: string): boolean {
    return this.reasonOf(id) !== undefined;
  }

  /** Why `id` is remembered, or undefined. */
  reasonOf(id: string): SentIdReason | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (this.now() - entry.at > this.retentionMs) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.reason;
  }

  /**
   * Remembers ids. The in-memory set changes at once (so a duplicate arriving meanwhile is
   * skipped); the promise settles when the file, if any, is written.
   */
  async remember(ids: readonly string[], reason: SentIdReason): Promise<void> {
    const at = this.now();
    for (const id of ids) this.entries.set(id, { at, reason });
    // A full prune scans every id; once a minute keeps remember() cheap at tens of thousands of ids.
    if (at - this.lastPrune >= PRUNE_EVERY_MS) this.prune();
    await this.persist();
  }

  /** Forgets ids, e.g. when handing an SMS to the radio failed before anything went out. */
  async forget(ids: readonly string[]): Promise<void> {
    let changed = false;
    for (const id of ids) changed = this.entries.delete(id) || changed;
    if (changed) await this.persist();
  }

  /** Drops entries older than the retention period; returns how many were dropped. */
  prune(): number {
    this.lastPrune = this.now();
    const cutoff = this.lastPrune - this.retentionMs;
    let dropped = 0;
    for (const [id, entry] of this.entries) {
      if (entry.at < cutoff) {
        this.entries.delete(id);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Number of ids currently remembered (after pruning). */
  get size(): number {
    this.prune();
    return this.entries.size;
  }

  /** Resolves when every pending write has reached the file. */
  async flush(): Promise<void> {
    await this.writing;
  }

  private async load(): Promise<void> {
    const file = this.file as string;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`Cannot read sent-ids file ${file}`, { cause: err });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(
        `Sent-ids file ${file} is not JSON; fix or remove it (removing it may let the device send a message twice)`,
        { cause: err },
      );
    }
    const ids = isRecord(value) && isRecord(value.ids) ? value.ids : {};
    for (const [id, raw] of Object.entries(ids)) {
      if (!isRecord(raw) || typeof raw.at !== 'number') continue;
      this.entries.set(id, { at: raw.at, reason: raw.reason === 'canceled' ? 'canceled' : 'sent' });
    }
    this.prune();
  }

  private persist(): Promise<void> {
    const file = this.file;
    if (file === undefined) return Promise.resolve();
    // Each write snapshots the state at its turn, so the last write always holds the latest set.
    const next = this.writing.then(() => {
      const shape: FileShape = { v: 1, ids: {} };
      for (const [id, entry] of this.entries) shape.ids[id] = { at: entry.at, reason: entry.reason };
      return writeJsonPrivate(file, shape);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
