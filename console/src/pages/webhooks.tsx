import { useState } from 'preact/hooks';
import { del, get, post, seg } from '../api.js';
import { formatDateTime, formatTime } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import { type Project, WEBHOOK_EVENTS, type Webhook, type WebhookAttempt } from '../types.js';
import {
  Badge,
  Button,
  Card,
  ConfirmButton,
  Empty,
  ErrorNotice,
  Field,
  Loading,
  OtherProblems,
  ShownOnce,
  useTitle,
} from '../ui/components.js';

/** Webhook endpoints: create (secret shown once), disable, delete, and each one's delivery attempts. */
export function WebhooksPage({ project }: { project: Project }) {
  useTitle(`Webhooks · ${project.name}`);
  const base = `/admin/projects/${seg(project.id)}/webhooks`;
  const hooks = useLoad(() => get<{ webhooks: Webhook[] }>(base), [project.id]);
  const [secret, setSecret] = useState<string>();
  const [open, setOpen] = useState<string>();
  return (
    <div class="stack">
      <CreateWebhook
        base={base}
        onCreated={(s) => {
          setSecret(s);
          void hooks.reload();
        }}
      />
      {secret ? (
        <ShownOnce
          title="Signing secret of the new endpoint"
          value={secret}
          testId="webhook-secret"
          onDone={() => setSecret(undefined)}
        />
      ) : null}
      <Card title="Endpoints">
        <ErrorNotice error={hooks.error} />
        {!hooks.data ? (
          <Loading />
        ) : hooks.data.webhooks.length === 0 ? (
          <Empty>No endpoints. SMX signs every event it posts to them (Standard Webhooks).</Empty>
        ) : (
          <ul class="hook-list">
            {hooks.data.webhooks.map((h) => (
              <li key={h.id} class="hook">
                <div class="hook-head">
                  <div>
                    <strong class="mono break">{h.url}</strong>
                    <div class="muted small">
                      {h.events.includes('*') ? 'all events' : h.events.join(', ')} · since{' '}
                      {formatDateTime(h.createdAt)}
                    </div>
                    {h.enabled ? (
                      <Badge value="enabled" tone="good" />
                    ) : (
                      <>
                        <Badge value="disabled" tone="warn" /> <span class="muted small">{h.disabledReason ?? ''}</span>
                      </>
                    )}
                  </div>
                  <div class="actions">
                    <Button onClick={() => setOpen(open === h.id ? undefined : h.id)}>
                      {open === h.id ? 'Hide deliveries' : 'Deliveries'}
                    </Button>
                    {h.enabled ? (
                      <ConfirmButton
                        label="Disable"
                        variant="secondary"
                        title="Disable this endpoint?"
                        confirmLabel="Disable"
                        body={
                          <p>
                            No more events are sent to it and its pending retries are dropped. Its delivery log stays.
                          </p>
                        }
                        onConfirm={async () => {
                          await post(`${base}/${seg(h.id)}/disable`);
                          await hooks.reload();
                        }}
                      />
                    ) : null}
                    <ConfirmButton
                      label="Delete"
                      title="Delete this endpoint?"
                      confirmLabel="Delete"
                      body={<p>The endpoint and its delivery log are deleted; pending deliveries to it are dropped.</p>}
                      onConfirm={async () => {
                        await del(`${base}/${seg(h.id)}`);
                        await hooks.reload();
                      }}
                    />
                  </div>
                </div>
                {open === h.id ? <Deliveries path={`${base}/${seg(h.id)}/deliveries`} /> : null}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

function CreateWebhook({ base, onCreated }: { base: string; onCreated: (secret: string) => void }) {
  const [url, setUrl] = useState('');
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>([]);
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const created = await action.run(() =>
      post<Webhook & { secret: string }>(base, { url: url.trim(), events: all ? ['*'] : events }),
    );
    if (created) {
      setUrl('');
      onCreated(created.secret);
    }
  };
  return (
    <Card title="New endpoint">
      <form class="form" onSubmit={submit} noValidate>
        <Field
          label="URL"
          error={action.error?.about('url')}
          id="url"
          hint="An https URL on the internet (private addresses are refused unless SMX_WEBHOOK_ALLOW_PRIVATE=true)."
        >
          <input
            type="url"
            name="webhook-url"
            placeholder="https://example.com/smx-events"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </Field>
        <fieldset class="events">
          <legend class="field-label">Events</legend>
          <label>
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /> All events
          </label>
          {all
            ? null
            : WEBHOOK_EVENTS.map((name) => (
                <label key={name}>
                  <input
                    type="checkbox"
                    checked={events.includes(name)}
                    onChange={(e) =>
                      setEvents(e.currentTarget.checked ? [...events, name] : events.filter((x) => x !== name))
                    }
                  />{' '}
                  <span class="mono">{name}</span>
                </label>
              ))}
          {action.error?.about('events') ? <p class="field-error">{action.error.about('events')}</p> : null}
        </fieldset>
        <OtherProblems error={action.error} fields={['url', 'events']} />
        <div class="actions">
          <Button type="submit" variant="primary" busy={action.busy}>
            Add endpoint
          </Button>
        </div>
      </form>
    </Card>
  );
}

function Deliveries({ path }: { path: string }) {
  const [cursor, setCursor] = useState<string>();
  const page = useLoad(
    () => get<{ deliveries: WebhookAttempt[]; nextCursor: string | null }>(path, { limit: 20, cursor }),
    [path, cursor],
  );
  if (page.error) return <ErrorNotice error={page.error} />;
  if (!page.data) return <Loading />;
  if (page.data.deliveries.length === 0) return <Empty>No delivery attempts yet.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table responsive" data-testid="deliveries-table">
        <thead>
          <tr>
            <th>When</th>
            <th>Event</th>
            <th>Attempt</th>
            <th>Result</th>
            <th>Status code</th>
            <th>Time</th>
            <th>Next try</th>
          </tr>
        </thead>
        <tbody>
          {page.data.deliveries.map((d) => (
            <tr key={`${d.eventId}:${d.attempt}`}>
              <td data-label="When">{formatTime(d.at)}</td>
              <td data-label="Event">
                <span class="mono">{d.type}</span>
                <div class="muted small mono">{d.eventId}</div>
              </td>
              <td data-label="Attempt">{d.attempt}</td>
              <td data-label="Result">
                {d.succeeded ? (
                  <Badge value="ok" tone="good" />
                ) : (
                  <>
                    <Badge value="failed" tone="bad" /> <span class="small">{d.error ?? ''}</span>
                  </>
                )}
              </td>
              <td data-label="Status code" class="mono">
                {d.statusCode ?? '—'}
              </td>
              <td data-label="Time">{d.durationMs} ms</td>
              <td data-label="Next try">{d.nextAttemptAt ? formatTime(d.nextAttemptAt) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data.nextCursor ? (
        <div class="pager">
          <Button onClick={() => setCursor(page.data?.nextCursor ?? undefined)}>Older</Button>
        </div>
      ) : null}
    </div>
  );
}
