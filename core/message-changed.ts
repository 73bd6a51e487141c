import type { MessageStatus, RoutingMessage } from './plugin-api.js';

/** An OTP's SMS, or a custom one. */
export type MessageKind = RoutingMessage['kind'];

/**
 * The one event of delivery: a message's status changed. MessageTransitions returns these from
 * every change it commits, and writes them into the outbox in the same statement; everything that
 * follows a message reads this shape:
 * - the hourly stats, counted by that same statement (so /v1/stats always adds up);
 * - the process metrics and the plugins' `afterStatus` hook, right after the commit (DeviceEvents);
 * - webhooks and the SMSGate surfaces, from the outbox relay: after the commit, at least once,
 *   even when the process died in between (OutboxRelay; each receiver de-duplicates by event id).
 */
export interface MessageChanged {
  id: string;
  projectId: string;
  kind: MessageKind;
  /** The phone it was routed to (null: none yet). */
  deviceId: string | null;
  /** The new status. */
  status: MessageStatus;
  /** The error code of a FAILED or EXPIRED message. */
  error: string | null;
  /** When it happened (the phone's time for its own reports, when believable). */
  at: Date;
  /** The per-request callback URL of the message, if it has one. */
  callbackUrl: string | null;
  /** Who made the change: the phone's report, or SMX (hand-over, expiry, withdrawal, refusal). */
  origin: 'phone' | 'smx';
}

/** The columns a change statement returns for {@link changedFromRow}. */
export const CHANGED_COLUMNS = ['id', 'project_id', 'kind', 'device_id', 'callback_url'] as const;

/** `returning ${changedReturning('m')}`: {@link CHANGED_COLUMNS} of the table alias. */
export function changedReturning(alias: string): string {
  return CHANGED_COLUMNS.map((c) => `${alias}.${c}`).join(', ');
}

/** A row of a change statement (the {@link changedReturning} columns). */
export interface ChangedRow {
  id: string;
  project_id: string;
  kind: MessageKind;
  device_id: string | null;
  callback_url: string | null;
}

export function changedFromRow(
  row: ChangedRow,
  status: MessageStatus,
  at: Date | string,
  origin: MessageChanged['origin'],
  error: string | null = null,
): MessageChanged {
  return {
    id: row.id,
    projectId: row.project_id,
    kind: row.kind,
    deviceId: row.device_id,
    status,
    error,
    at: new Date(at),
    callbackUrl: row.callback_url,
    origin,
  };
}
