import { useEffect, useState } from 'preact/hooks';
import { clearToken, onSignedOut, storedToken } from './api.js';
import { MetricsPage } from './pages/metrics.js';
import { ProjectShell } from './pages/project-shell.js';
import { ProjectsPage } from './pages/projects.js';
import { SignIn } from './pages/sign-in.js';
import { navigate, useRoute } from './router.js';

/** The console: sign-in until the admin token is accepted, then projects and their views. */
export function App() {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  const [notice, setNotice] = useState<string>();
  const route = useRoute();

  useEffect(
    () =>
      onSignedOut((reason) => {
        setNotice(reason);
        setSignedIn(false);
      }),
    [],
  );

  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          setNotice(undefined);
          setSignedIn(true);
        }}
      />
    );
  }

  const signOut = () => {
    clearToken();
    setNotice('Signed out. The admin token was removed from this tab.');
    setSignedIn(false);
    navigate('#/');
  };

  return (
    <div class="layout">
      <header class="topbar">
        <a class="brand" href="#/">
          <span class="brand-mark" aria-hidden="true" />
          SMX <span class="brand-sub">console</span>
        </a>
        <nav class="toplinks" aria-label="Tools">
          <a href="#/">Projects</a>
          <a href="/docs" target="_blank" rel="noopener noreferrer">
            API docs
          </a>
          <a
            href="/admin/queues"
            target="_blank"
            rel="noopener noreferrer"
            title="Bull Board asks for a password: the admin token"
          >
            Queues
          </a>
          <a href="#/metrics">Metrics</a>
        </nav>
        <button type="button" class="btn btn-ghost signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main class="main">
        {route.name === 'project' ? (
          <ProjectShell key={route.projectId} projectId={route.projectId} tab={route.tab} itemId={route.itemId} />
        ) : route.name === 'metrics' ? (
          <MetricsPage />
        ) : (
          <ProjectsPage />
        )}
      </main>
    </div>
  );
}
