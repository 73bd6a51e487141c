import { useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { formatTime, fromLocalInput } from '../format.js';
import { useLoad } from '../hooks.js';
import { href, navigate } from '../router.js';
import { MESSAGE_STATUSES, type Message, type Project } from '../types.js';
import { Badge, Button, Card, Empty, ErrorNotice, Field, Loading, useTitle } from '../ui/components.js';

interface Filters {
  status: string;
  kind: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { status: '', kind: '', from: '', to: '' };
const PAGE_SIZE = 25;

/** The message log: the API's filters (status, kind, creation time range) and cursor pages. */
export function MessagesPage({ project }: { project: Project }) {
  useTitle(`Messages · ${project.name}`);
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // The cursors of the pages before this one, to go back; undefined = the newest page.
  const [cursors, setCursors] = useState<Array<string | undefined>>([]);
  const [cursor, setCursor] = useState<string>();

  const page = useLoad(
    () =>
      get<{ messages: Message[]; nextCursor: string | null }>(`/admin/projects/${seg(project.id)}/messages`, {
        limit: PAGE_SIZE,
        cursor,
        status: filters.status,
        kind: filters.kind,
        from: fromLocalInput(filters.from),
        to: fromLocalInput(filters.to),
      }),
    [project.id, cursor, filters],
  );

  const apply = (event: Event) => {
    event.preventDefault();
    setCursors([]);
    setCursor(undefined);
    setFilters(draft);
  };
  const set = (name: keyof Filters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setDraft({ ...draft, [name]: e.currentTarget.value });
  const problem = (field: string) => page.error?.about(field);

  return (
    <div class="stack">
      <Card title="Filter">
        <form class="filters" onSubmit={apply} noValidate>
          <Field label="Status" error={problem('status')} id="status">
            <select value={draft.status} onChange={set('status')}>
              <option value="">any</option>
              {MESSAGE_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Kind" error={problem('kind')} id="kind">
            <select value={draft.kind} onChange={set('kind')}>
              <option value="">any</option>
              <option value="otp">OTP</option>
              <option value="sms">SMS</option>
            </select>
          </Field>
          <Field label="Created from" error={problem('from')} id="from">
            <input type="datetime-local" value={draft.from} onInput={set('from')} />
          </Field>
          <Field label="Created before" error={problem('to')} id="to">
            <input type="datetime-local" value={draft.to} onInput={set('to')} />
          </Field>
          <div class="actions">
            <Button type="submit" variant="primary">
              Apply
            </Button>
            <Button
              onClick={() => {
                setDraft(NO_FILTERS);
                setFilters(NO_FILTERS);
                setCursors([]);
                setCursor(undefined);
              }}
            >
              Clear
            </Button>
          </div>
        </form>
      </Card>
      <Card title="Message log" actions={<Button onClick={() => void page.reload()}>Refresh</Button>}>
        {page.error && page.error.code !== 'VALIDATION_FAILED' ? <ErrorNotice error={page.error} /> : null}
        {!page.data ? (
          page.loading ? (
            <Loading />
          ) : null
        ) : page.data.messages.length === 0 ? (
          <Empty>No messages{filters === NO_FILTERS ? ' yet. Send one from "Try it".' : ' match these filters.'}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table responsive clickable" data-testid="messages-table">
              <thead>
                <tr>
                  <th>Created</th>
                  <th>Kind</th>
                  <th>To</th>
                  <th>Status</th>
                  <th>Parts</th>
                  <th>Error</th>
                </tr>
              </thead>
              <tbody>
                {page.data.messages.map((m) => (
                  <tr key={m.messageId} onClick={() => navigate(href(project.id, 'messages', m.messageId))}>
                    <td data-label="Created">
                      <a href={href(project.id, 'messages', m.messageId)}>{formatTime(m.createdAt)}</a>
                    </td>
                    <td data-label="Kind">{m.kind.toUpperCase()}</td>
                    <td data-label="To" class="mono">
                      {m.to}
                    </td>
                    <td data-label="Status">
                      <Badge value={m.status} />
                    </td>
                    <td data-label="Parts">{m.parts}</td>
                    <td data-label="Error">{m.error}</td>
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
            disabled={!page.data?.nextCursor}
            onClick={() => {
              setCursors([...cursors, cursor]);
              setCursor(page.data?.nextCursor ?? undefined);
            }}
          >
            Older
          </Button>
        </div>
      </Card>
    </div>
  );
}
