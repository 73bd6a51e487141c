import { useState } from 'preact/hooks';
import { del, get, post, seg } from '../api.js';
import { ago, formatDateTime } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import type { ApiKey, Project } from '../types.js';
import {
  Button,
  Card,
  ConfirmButton,
  Empty,
  ErrorNotice,
  Field,
  Loading,
  ShownOnce,
  useTitle,
} from '../ui/components.js';

/** A project's API keys: create (the key is shown once), list with when each was last used, revoke. */
export function KeysPage({ project }: { project: Project }) {
  useTitle(`API keys · ${project.name}`);
  const base = `/admin/projects/${seg(project.id)}/api-keys`;
  const keys = useLoad(() => get<{ apiKeys: ApiKey[] }>(base), [project.id]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<ApiKey & { key: string }>();
  const action = useAction();
  const revoke = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const key = await action.run(() => post<ApiKey & { key: string }>(base, { name: name.trim() }));
    if (key) {
      setName('');
      setCreated(key);
      void keys.reload();
    }
  };

  return (
    <div class="stack">
      <Card title="New API key">
        <p class="muted">
          Your backend sends it as <code>X-SMX-API-Key</code> on the{' '}
          <a href="/docs" target="_blank" rel="noopener noreferrer">
            /v1 API
          </a>
          . It reaches this project only.
        </p>
        <form class="inline-form" onSubmit={submit} noValidate>
          <Field
            label="Name"
            error={
              action.error?.about('name') ??
              (action.error && action.error.code !== 'VALIDATION_FAILED' ? action.error.message : undefined)
            }
            id="name"
          >
            <input
              name="key-name"
              placeholder="backend"
              maxLength={200}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
          <Button type="submit" variant="primary" busy={action.busy}>
            Create key
          </Button>
        </form>
      </Card>
      {created ? (
        <ShownOnce
          title={`API key "${created.name}"`}
          value={created.key}
          testId="new-api-key"
          onDone={() => setCreated(undefined)}
        />
      ) : null}
      <Card title="Keys">
        <ErrorNotice error={keys.error ?? revoke.error} />
        {!keys.data ? (
          <Loading />
        ) : keys.data.apiKeys.length === 0 ? (
          <Empty>No keys. Create one for each app or environment.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table responsive" data-testid="keys-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Key starts with</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {keys.data.apiKeys.map((k) => (
                  <tr key={k.id} data-key-id={k.id}>
                    <td data-label="Name">
                      <strong data-testid="key-name">{k.name}</strong>
                      <div class="muted small mono">{k.id}</div>
                    </td>
                    <td data-label="Key starts with" class="mono">
                      {k.prefix}…
                    </td>
                    <td data-label="Created">{formatDateTime(k.createdAt)}</td>
                    <td data-label="Last used" title={formatDateTime(k.lastUsedAt)}>
                      {ago(k.lastUsedAt)}
                    </td>
                    <td data-label="" class="row-actions">
                      <ConfirmButton
                        label="Revoke"
                        title={`Revoke "${k.name}"?`}
                        body={<p>Requests with this key are refused at once (401). This cannot be undone.</p>}
                        confirmLabel="Revoke key"
                        onConfirm={async () => {
                          if (await revoke.run(() => del(`${base}/${seg(k.id)}`))) await keys.reload();
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="muted small">"Last used" is kept to the minute.</p>
      </Card>
    </div>
  );
}
