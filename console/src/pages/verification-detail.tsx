import { get, seg } from '../api.js';
import { formatDateTime } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { Project, Verification } from '../types.js';
import { Badge, Card, ErrorNotice, Loading, useTitle } from '../ui/components.js';

/** One OTP challenge (the API never gives its code, so neither does the console). */
export function VerificationDetail({ project, verificationId }: { project: Project; verificationId: string }) {
  useTitle(`Verification ${verificationId}`);
  const verification = useLoad(
    () => get<Verification>(`/admin/projects/${seg(project.id)}/verifications/${seg(verificationId)}`),
    [project.id, verificationId],
    3000,
  );
  const v = verification.data;
  return (
    <div class="stack">
      <p>
        <a href={href(project.id, 'messages')}>← Message log</a>
      </p>
      <ErrorNotice error={verification.error} />
      {!v ? (
        verification.error ? null : (
          <Loading />
        )
      ) : (
        <Card title={`Verification to ${v.to}`}>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={v.status} />
            </dd>
            <dt>Verification id</dt>
            <dd class="mono">{v.verificationId}</dd>
            <dt>Attempts</dt>
            <dd>
              {v.attempts} of {v.maxAttempts}
            </dd>
            <dt>Country</dt>
            <dd>
              {v.countryIso ?? '—'}
              {v.numberValid ? '' : ' (number not valid)'}
            </dd>
            {v.test ? (
              <>
                <dt>Test number</dt>
                <dd>yes: no SMS, fixed code</dd>
              </>
            ) : null}
            <dt>Message</dt>
            <dd>
              {v.messageId ? (
                <a class="mono" href={href(project.id, 'messages', v.messageId)}>
                  {v.messageId}
                </a>
              ) : (
                '—'
              )}
            </dd>
            <dt>Device</dt>
            <dd class="mono">{v.deviceId ?? '—'}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(v.createdAt)}</dd>
            <dt>Expires</dt>
            <dd>{formatDateTime(v.expiresAt)}</dd>
            {v.verifiedAt ? (
              <>
                <dt>Verified</dt>
                <dd>{formatDateTime(v.verifiedAt)}</dd>
              </>
            ) : null}
            {v.canceledAt ? (
              <>
                <dt>Canceled</dt>
                <dd>{formatDateTime(v.canceledAt)}</dd>
              </>
            ) : null}
            {v.metadata ? (
              <>
                <dt>Metadata</dt>
                <dd>
                  <pre class="json">{JSON.stringify(v.metadata, null, 2)}</pre>
                </dd>
              </>
            ) : null}
          </dl>
          <p class="muted small">The code is stored only as a keyed hash: nobody, the console included, can read it.</p>
        </Card>
      )}
    </div>
  );
}
