import { useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { formatDateTime, formatTime } from '../format.js';
import { useLoad } from '../hooks.js';
import type { InboundSms, Project, Rental } from '../types.js';
import { Badge, Button, Card, Empty, ErrorNotice, Loading, useTitle } from '../ui/components.js';

/**
 * SMS the project's phones received, and its active number rentals. The sender and the text come
 * from whoever sent the SMS: they are shown as text only.
 */
export function InboxPage({ project }: { project: Project }) {
  useTitle(`Inbox · ${project.name}`);
  const [cursors, setCursors] = useState<Array<string | undefined>>([]);
  const [cursor, setCursor] = useState<string>();
  const inbox = useLoad(
    () =>
      get<{ messages: InboundSms[]; nextCursor: string | null }>(`/admin/projects/${seg(project.id)}/inbox`, {
        limit: 25,
        cursor,
      }),
    [project.id, cursor],
    cursor ? undefined : 5000,
  );
  const rentals = useLoad(
    () => get<{ rentals: Rental[] }>(`/admin/projects/${seg(project.id)}/rentals`),
    [project.id],
    10_000,
  );
  return (
    <div class="stack">
      <Card title="Received SMS" actions={<Button onClick={() => void inbox.reload()}>Refresh</Button>}>
        <ErrorNotice error={inbox.error} />
        {!inbox.data ? (
          <Loading />
        ) : inbox.data.messages.length === 0 ? (
          <Empty>No SMS received yet. Phones forward the SMS they receive.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table responsive" data-testid="inbox-table">
              <thead>
                <tr>
                  <th>Received</th>
                  <th>From</th>
                  <th>Text</th>
                  <th>Device</th>
                </tr>
              </thead>
              <tbody>
                {inbox.data.messages.map((m) => (
                  <tr key={m.id}>
                    <td data-label="Received" title={formatDateTime(m.receivedAt)}>
                      {formatTime(m.receivedAt)}
                    </td>
                    <td data-label="From" class="mono" data-testid="inbox-from">
                      {m.from}
                    </td>
                    <td data-label="Text" class="sms-text" data-testid="inbox-body">
                      {m.body}
                    </td>
                    <td data-label="Device" class="mono small">
                      {m.deviceId}
                      {m.simSlot !== null ? ` · SIM ${m.simSlot + 1}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="pager">
          <Button
            disabled={cursors.length === 0}
            onClick={() => {
              const back = [...cursors];
              const previous = back.pop();
              setCursors(back);
              setCursor(previous);
            }}
          >
            Newer
          </Button>
          <span class="muted small">Page {cursors.length + 1}</span>
          <Button
            disabled={!inbox.data?.nextCursor}
            onClick={() => {
              setCursors([...cursors, cursor]);
              setCursor(inbox.data?.nextCursor ?? undefined);
            }}
          >
            Older
          </Button>
        </div>
      </Card>
      <Card title="Active rentals">
        <ErrorNotice error={rentals.error} />
        {!rentals.data ? (
          <Loading />
        ) : rentals.data.rentals.length === 0 ? (
          <Empty>
            No number is rented now. SIMs marked rentable (PATCH /admin/devices/:id) form the pool; apps rent them with
            POST /v1/rentals.
          </Empty>
        ) : (
          <div class="table-wrap">
            <table class="table responsive" data-testid="rentals-table">
              <thead>
                <tr>
                  <th>Number</th>
                  <th>Country</th>
                  <th>Service</th>
                  <th>Status</th>
                  <th>Rented</th>
                  <th>Ends</th>
                </tr>
              </thead>
              <tbody>
                {rentals.data.rentals.map((r) => (
                  <tr key={r.rentalId}>
                    <td data-label="Number" class="mono">
                      {r.number}
                    </td>
                    <td data-label="Country">{r.country}</td>
                    <td data-label="Service">{r.service ?? '—'}</td>
                    <td data-label="Status">
                      <Badge value={r.status} />
                    </td>
                    <td data-label="Rented">{formatTime(r.createdAt)}</td>
                    <td data-label="Ends">{formatTime(r.expiresAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
