import { useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { ApiKey, Device, Project } from '../types.js';
import { Button, Card, CopyField, Online, useTitle } from '../ui/components.js';
import { DEVICE_POLL_MS } from './devices.js';
import { LinkPhone } from './link-phone.js';

/** Start here: link a phone, send a test OTP, make an API key for the app — with where each stands. */
export function OverviewPage({ project }: { project: Project }) {
  useTitle(project.name);
  const [linking, setLinking] = useState(false);
  const devices = useLoad(
    () => get<{ devices: Device[] }>(`/admin/projects/${seg(project.id)}/devices`),
    [project.id],
    DEVICE_POLL_MS,
  );
  const keys = useLoad(() => get<{ apiKeys: ApiKey[] }>(`/admin/projects/${seg(project.id)}/api-keys`), [project.id]);
  const list = devices.data?.devices ?? [];
  const active = list.find((d) => d.active);
  const online = list.filter((d) => d.online).length;
  const origin = location.origin;
  return (
    <div class="stack">
      <Card
        title="1. Link a phone"
        class={list.length === 0 ? 'card-highlight' : undefined}
        actions={
          linking ? null : (
            <Button variant={list.length === 0 ? 'primary' : 'secondary'} onClick={() => setLinking(true)}>
              Link a phone
            </Button>
          )
        }
      >
        {devices.data ? (
          list.length === 0 ? (
            <p>No phone linked yet. The phone is what sends the SMS: link one by scanning a QR code.</p>
          ) : (
            <p data-testid="overview-phones">
              {list.length} phone{list.length === 1 ? '' : 's'} linked, {online} online.
              {active ? (
                <>
                  {' '}
                  Active: <strong>{active.name}</strong> <Online online={active.online} />
                </>
              ) : null}{' '}
              <a href={href(project.id, 'devices')}>See devices</a>
            </p>
          )
        ) : null}
        {linking ? (
          <LinkPhone project={project} onLinked={() => void devices.reload()} onClose={() => setLinking(false)} />
        ) : null}
      </Card>
      <Card title="2. Send a test OTP">
        <p>Send a code to your own number and watch it go from QUEUED to DELIVERED.</p>
        <a class={`btn ${list.length > 0 ? 'btn-primary' : 'btn-secondary'}`} href={href(project.id, 'try')}>
          Try it
        </a>
      </Card>
      <Card title="3. Connect your app">
        <p>
          Your backend calls the{' '}
          <a href="/docs" target="_blank" rel="noopener noreferrer">
            /v1 API
          </a>{' '}
          with a project API key{keys.data ? ` (this project has ${keys.data.apiKeys.length})` : ''}.{' '}
          <a href={href(project.id, 'keys')}>Create an API key</a>, then:
        </p>
        <CopyField
          label="send-otp example"
          value={`curl -X POST ${origin}/v1/send-otp -H "X-SMX-API-Key: $KEY" -H 'content-type: application/json' -d '{"to":"+4915112345678"}'`}
        />
        <CopyField
          label="verify-otp example"
          value={`curl -X POST ${origin}/v1/verify-otp -H "X-SMX-API-Key: $KEY" -H 'content-type: application/json' -d '{"verificationId":"ver_...","otp":"123456"}'`}
        />
      </Card>
    </div>
  );
}
