import { formatTime } from '../format.js';
import type { Message } from '../types.js';
import { Badge } from './components.js';

/** A message's states in order, with when each was reached (QUEUED → DISPATCHED → SENT → DELIVERED, or FAILED / EXPIRED). */
export function StatusTimeline({ message: m }: { message: Message }) {
  const steps: Array<{ status: string; at: string | null; note?: string }> = [
    { status: 'QUEUED', at: m.createdAt },
    { status: 'DISPATCHED', at: m.dispatchedAt },
    { status: 'SENT', at: m.sentAt },
    { status: 'DELIVERED', at: m.deliveredAt },
  ];
  if (m.status === 'FAILED' || m.status === 'EXPIRED') {
    const reached = steps.filter((s) => s.at !== null);
    reached.push({
      status: m.status,
      at: m.status === 'FAILED' ? m.failedAt : m.expiresAt,
      note: m.error ?? undefined,
    });
    steps.splice(0, steps.length, ...reached);
  }
  const final = m.status === 'DELIVERED' || m.status === 'FAILED' || m.status === 'EXPIRED';
  return (
    <div class="timeline-box">
      <p class="timeline-now">
        Status: <Badge value={m.status} />{' '}
        <span data-testid="message-status" class="sr-only">
          {m.status}
        </span>
        {final ? null : (
          <span class="muted small">
            {' '}
            <span class="spinner" aria-hidden="true" /> updating…
          </span>
        )}
      </p>
      <ol class="timeline" aria-label="Status timeline">
        {steps.map((s) => (
          <li
            key={s.status}
            class={`timeline-step ${s.at ? 'reached' : 'pending'} step-${s.status.toLowerCase()}`}
            data-step={s.status}
          >
            <span class="timeline-dot" aria-hidden="true" />
            <span class="timeline-label">{s.status}</span>
            <span class="timeline-time muted small">{s.at ? formatTime(s.at) : 'waiting'}</span>
            {s.note ? <span class="timeline-note small">{s.note}</span> : null}
          </li>
        ))}
      </ol>
    </div>
  );
}

export function isFinal(status: string): boolean {
  return status === 'DELIVERED' || status === 'FAILED' || status === 'EXPIRED';
}
