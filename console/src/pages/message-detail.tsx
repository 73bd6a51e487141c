import { useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { formatDateTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { Message, Project } from '../types.js';
import { Card, ErrorNotice, Loading, useTitle } from '../ui/components.js';
import { isFinal, StatusTimeline } from '../ui/timeline.js';

/** One message: its fields, its text (custom SMS only; an OTP's never) and its status timeline, live until final. */
export function MessageDetail({ project, messageId }: { project: Project; messageId: string }) {
  useTitle(`Message ${messageId}`);
  // Re-read while the message moves; a final state ends the polling.
  const [final, setFinal] = useState(false);
  const message = useLoad(
    async () => {
      const read = await get<Message>(`/admin/projects/${seg(project.id)}/messages/${seg(messageId)}`);
      setFinal(isFinal(read.status));
      return read;
    },
    [project.id, messageId],
    final ? undefined : 1500,
  );
  const m = message.data;
  return (
    <div class="stack">
      <p>
        <a href={href(project.id, 'messages')}>← Message log</a>
      </p>
      <ErrorNotice error={message.error} />
      {!m ? (
        <Loading />
      ) : (
        <Card title={`${m.kind === 'otp' ? 'OTP message' : 'SMS'} to ${m.to}`}>
          <StatusTimeline message={m} />
          <dl class="facts">
            <dt>Message id</dt>
            <dd class="mono">{m.messageId}</dd>
            {m.kind === 'sms' ? (
              <>
                <dt>Text</dt>
                <dd class="sms-text" data-testid="message-text">
                  {m.message ?? ''}
                </dd>
              </>
            ) : (
              <>
                <dt>Text</dt>
                <dd class="muted">An OTP's text holds its code: never shown.</dd>
              </>
            )}
            <dt>Parts</dt>
            <dd>{m.parts}</dd>
            <dt>Device</dt>
            <dd class="mono">
              {m.deviceId ?? '—'}
              {m.simSlot !== null ? ` (SIM ${m.simSlot + 1})` : ''}
            </dd>
            {m.verificationId ? (
              <>
                <dt>Verification</dt>
                <dd>
                  <a class="mono" href={href(project.id, 'verifications', m.verificationId)}>
                    {m.verificationId}
                  </a>
                </dd>
              </>
            ) : null}
            {m.batchId ? (
              <>
                <dt>Batch</dt>
                <dd class="mono">{m.batchId}</dd>
              </>
            ) : null}
            {m.error ? (
              <>
                <dt>Error</dt>
                <dd>{m.error}</dd>
              </>
            ) : null}
            <dt>Expires</dt>
            <dd>{formatDateTime(m.expiresAt)}</dd>
            {m.metadata ? (
              <>
                <dt>Metadata</dt>
                <dd>
                  <pre class="json">{JSON.stringify(m.metadata, null, 2)}</pre>
                </dd>
              </>
            ) : null}
          </dl>
        </Card>
      )}
    </div>
  );
}
