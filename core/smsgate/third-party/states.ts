/**
 * SMSGate message states (contract §3) from SMX message statuses. Pure: the services read rows
 * and hand them here, and the unit tests drive these functions alone.
 */

/** The states of an SMSGate message and of each of its recipients. */
export const PROCESS_STATES = [
  'Pending',
  'Processed',
  'Sent',
  'Delivered',
  'Failed',
  'Cancelling',
  'Cancelled',
] as const;
export type ProcessState = (typeof PROCESS_STATES)[number];

export function isProcessState(value: unknown): value is ProcessState {
  return typeof value === 'string' && (PROCESS_STATES as readonly string[]).includes(value);
}

/** The error a withdrawal by `DELETE /messages/{id}` stores on SMX's message (FAILED). */
export const CANCELED_ERROR = 'CANCELED';

/** What SMX knows of one recipient: its message (null when SMX refused the recipient). */
export interface RecipientRow {
  phoneNumber: string;
  /** Why SMX refused the recipient (an SMX error code), when it has no message. */
  refused: string | null;
  message: {
    status: string;
    error: string | null;
    createdAt: Date;
    dispatchedAt: Date | null;
    sentAt: Date | null;
    deliveredAt: Date | null;
    failedAt: Date | null;
    /** The last change (an expiry sets no failed time). */
    updatedAt: Date;
  } | null;
}

export interface RecipientState {
  phoneNumber: string;
  state: ProcessState;
  error?: string;
}

/**
 * One recipient's state (contract §8.3): QUEUED → Pending, DISPATCHED → Processed, SENT → Sent,
 * DELIVERED → Delivered, FAILED → Failed with SMX's error code (Cancelled when it was withdrawn
 * by a cancel), EXPIRED → Failed `EXPIRED`. A recipient SMX refused is Failed with the reason.
 */
export function recipientState(r: RecipientRow): RecipientState {
  const m = r.message;
  if (!m) return { phoneNumber: r.phoneNumber, state: 'Failed', error: r.refused ?? 'REFUSED' };
  switch (m.status) {
    case 'QUEUED':
      return { phoneNumber: r.phoneNumber, state: 'Pending' };
    case 'DISPATCHED':
      return { phoneNumber: r.phoneNumber, state: 'Processed' };
    case 'SENT':
      return { phoneNumber: r.phoneNumber, state: 'Sent' };
    case 'DELIVERED':
      return { phoneNumber: r.phoneNumber, state: 'Delivered' };
    case 'FAILED':
      if (m.error === CANCELED_ERROR) return { phoneNumber: r.phoneNumber, state: 'Cancelled' };
      return { phoneNumber: r.phoneNumber, state: 'Failed', error: m.error ?? 'FAILED' };
    default:
      return { phoneNumber: r.phoneNumber, state: 'Failed', error: m.error ?? m.status };
  }
}

/**
 * The message's state from its recipients' (the app's `MessageWithRecipients.state`): any
 * Pending → Pending; any Cancelling → Cancelling; any Cancelled → Cancelled; any Processed →
 * Processed; all Failed → Failed; all Delivered → Delivered; otherwise Sent (so one Delivered and
 * one Failed is Sent).
 */
export function aggregateState(states: readonly ProcessState[]): ProcessState {
  for (const first of ['Pending', 'Cancelling', 'Cancelled', 'Processed'] as const)
    if (states.includes(first)) return first;
  if (states.length > 0 && states.every((s) => s === 'Failed')) return 'Failed';
  if (states.length > 0 && states.every((s) => s === 'Delivered')) return 'Delivered';
  return 'Sent';
}

/** The same rule as SQL over a column of recipient states (for list filters and counts). */
export function aggregateStateSql(column: string): string {
  return `case
    when bool_or(${column} = 'Pending') then 'Pending'
    when bool_or(${column} = 'Cancelling') then 'Cancelling'
    when bool_or(${column} = 'Cancelled') then 'Cancelled'
    when bool_or(${column} = 'Processed') then 'Processed'
    when bool_and(${column} = 'Failed') then 'Failed'
    when bool_and(${column} = 'Delivered') then 'Delivered'
    else 'Sent' end`;
}

/** recipientState as SQL, over `messages` aliased `m` (null when refused) and the recipient row `r`. */
export const RECIPIENT_STATE_SQL = `case
    when m.id is null then 'Failed'
    when m.status = 'QUEUED' then 'Pending'
    when m.status = 'DISPATCHED' then 'Processed'
    when m.status = 'SENT' then 'Sent'
    when m.status = 'DELIVERED' then 'Delivered'
    when m.status = 'FAILED' and m.error = '${CANCELED_ERROR}' then 'Cancelled'
    else 'Failed' end`;

/**
 * `states`: when the message as a whole first reached each state. Every recipient's recorded
 * moves are replayed in time order through {@link aggregateState}; the message is Pending from
 * `createdAt`.
 */
export function stateHistory(createdAt: Date, rows: readonly RecipientRow[]): Partial<Record<ProcessState, string>> {
  const moves: Array<{ at: number; index: number; state: ProcessState }> = [];
  const current: ProcessState[] = rows.map((r) => (r.message ? 'Pending' : 'Failed'));
  rows.forEach((r, index) => {
    const m = r.message;
    if (!m) return;
    const add = (at: Date | null, state: ProcessState) => {
      if (at) moves.push({ at: new Date(at).getTime(), index, state });
    };
    add(m.dispatchedAt, 'Processed');
    add(m.sentAt, 'Sent');
    add(m.deliveredAt, 'Delivered');
    const final = recipientState(r).state;
    if (final === 'Failed' || final === 'Cancelled') add(m.failedAt ?? m.updatedAt, final);
  });
  // Stable by time, then by the order of a message's own moves (dispatched < sent < delivered/failed).
  moves.sort((a, b) => a.at - b.at);
  const history: Partial<Record<ProcessState, string>> = {};
  let state = aggregateState(current);
  history[state] = createdAt.toISOString();
  for (const move of moves) {
    current[move.index] = move.state;
    const next = aggregateState(current);
    if (next !== state) {
      state = next;
      history[state] ??= new Date(move.at).toISOString();
    }
  }
  return history;
}
