import { useState } from 'preact/hooks';
import { api, ApiError, storeToken } from '../api.js';
import { Button, Field, useTitle } from '../ui/components.js';

/**
 * Sign in with the admin token SMX printed at its first start (also in `var/admin-token`). It is
 * checked against the API before it is kept (in this tab's sessionStorage only).
 */
export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: () => void }) {
  useTitle('Sign in');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) {
      setError('Paste the admin token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api('GET', '/admin/projects', { token: value });
      storeToken(value);
      onSignedIn();
    } catch (caught) {
      const refused = caught instanceof ApiError && (caught.status === 401 || caught.status === 403);
      setError(refused ? 'That admin token is wrong: SMX refused it.' : (caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form class="card signin-card" onSubmit={submit} autocomplete="off" noValidate>
        <h1>
          <span class="brand-mark" aria-hidden="true" /> SMX console
        </h1>
        <p>
          Paste the <strong>admin token</strong> SMX printed when it first started. It is also in{' '}
          <code>var/admin-token</code> next to where you ran <code>npm start</code>.
        </p>
        {notice ? (
          <p class="notice notice-info" role="status">
            {notice}
          </p>
        ) : null}
        <Field label="Admin token" error={error} id="token">
          <input
            type="password"
            name="admin-token"
            autocomplete="off"
            spellcheck={false}
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            autoFocus
            required
          />
        </Field>
        <Button variant="primary" type="submit" busy={busy}>
          Sign in
        </Button>
        <p class="muted small">
          Kept only in this browser tab (sessionStorage) and sent only as an Authorization header. Sign out, or close
          the tab, to forget it.
        </p>
      </form>
    </div>
  );
}
