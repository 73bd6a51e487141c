import { useState } from 'preact/hooks';
import { apiText } from '../api.js';
import { useLoad } from '../hooks.js';
import { Button, Card, ErrorNotice, Loading, useTitle } from '../ui/components.js';

/**
 * /metrics needs the admin token as a bearer header, which a plain link cannot send: the console
 * fetches it and shows the Prometheus text here (as text).
 */
export function MetricsPage() {
  useTitle('Metrics');
  const metrics = useLoad(() => apiText('/metrics'), []);
  const [filter, setFilter] = useState('smx_');
  const lines = (metrics.data ?? '').split('\n').filter((line) => !filter || line.includes(filter));
  return (
    <div class="page">
      <div class="page-head">
        <h1>Metrics</h1>
        <p class="muted">
          The Prometheus text of <code>/metrics</code> (scrape it with{' '}
          <code>Authorization: Bearer &lt;admin token&gt;</code>). Queues:{' '}
          <a href="/admin/queues" target="_blank" rel="noopener noreferrer">
            Bull Board
          </a>{' '}
          (password: the admin token).
        </p>
      </div>
      <Card title="/metrics" actions={<Button onClick={() => void metrics.reload()}>Refresh</Button>}>
        <label class="field">
          <span class="field-label">Show lines containing</span>
          <input value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
        <ErrorNotice error={metrics.error} />
        {metrics.data === undefined ? (
          <Loading />
        ) : (
          <pre class="metrics" data-testid="metrics-text">
            {lines.join('\n')}
          </pre>
        )}
      </Card>
    </div>
  );
}
