import { useState } from 'preact/hooks';
import { get, post, seg } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { Message, Project, SmsAccepted, Verification } from '../types.js';
import { Button, Card, Field, OtherProblems, useTitle } from '../ui/components.js';
import { isFinal, StatusTimeline } from '../ui/timeline.js';

type Sent = { kind: 'otp'; verification: Verification } | { kind: 'sms'; sms: SmsAccepted };

/**
 * Send a real OTP or SMS from the console (POST /admin/projects/:id/send-otp|send-sms, the same
 * path as /v1) and watch its message move through its states.
 */
export function TryItPage({ project }: { project: Project }) {
  useTitle(`Try it · ${project.name}`);
  const [kind, setKind] = useState<'otp' | 'sms'>('otp');
  const [to, setTo] = useState('');
  const [text, setText] = useState('Hello from SMX');
  const [sent, setSent] = useState<Sent>();
  const action = useAction();
  const base = `/admin/projects/${seg(project.id)}`;

  const submit = async (event: Event) => {
    event.preventDefault();
    setSent(undefined);
    const result =
      kind === 'otp'
        ? await action.run(async () => ({
            kind: 'otp' as const,
            verification: await post<Verification>(`${base}/send-otp`, { to: to.trim() }),
          }))
        : await action.run(async () => ({
            kind: 'sms' as const,
            sms: await post<SmsAccepted>(`${base}/send-sms`, { to: to.trim(), message: text }),
          }));
    if (result) setSent(result);
  };

  const messageId = sent?.kind === 'otp' ? sent.verification.messageId : sent?.sms.messageId;
  return (
    <div class="stack">
      <Card title="Send a test">
        <form class="form" onSubmit={submit} noValidate>
          <fieldset class="segmented">
            <legend class="field-label">What</legend>
            <label>
              <input type="radio" name="kind" value="otp" checked={kind === 'otp'} onChange={() => setKind('otp')} />{' '}
              OTP code
            </label>
            <label>
              <input type="radio" name="kind" value="sms" checked={kind === 'sms'} onChange={() => setKind('sms')} />{' '}
              SMS text
            </label>
          </fieldset>
          <Field
            label="To (phone number, with country code)"
            error={
              action.error?.about('to') ??
              (action.error?.code === 'INVALID_PHONE_NUMBER' ? action.error.message : undefined)
            }
            id="to"
          >
            <input
              type="tel"
              name="to"
              autocomplete="tel"
              placeholder="+4915112345678"
              value={to}
              onInput={(e) => setTo(e.currentTarget.value)}
            />
          </Field>
          {kind === 'sms' ? (
            <Field label="Text" error={action.error?.about('message')} id="message">
              <textarea
                name="message"
                rows={3}
                maxLength={1600}
                value={text}
                onInput={(e) => setText(e.currentTarget.value)}
              />
            </Field>
          ) : (
            <p class="muted small">
              The project's template and code settings apply. The code is never shown here: it is in the SMS.
            </p>
          )}
          {action.error && action.error.code !== 'INVALID_PHONE_NUMBER' ? (
            <OtherProblems error={action.error} fields={['to', 'message']} />
          ) : null}
          {action.error?.code === 'DEVICE_NOT_LINKED' ? (
            <p>
              <a href={href(project.id, 'devices')}>Link a phone first.</a>
            </p>
          ) : null}
          <div class="actions">
            <Button variant="primary" type="submit" busy={action.busy}>
              {kind === 'otp' ? 'Send OTP' : 'Send SMS'}
            </Button>
          </div>
        </form>
      </Card>
      {sent ? (
        <Card title={sent.kind === 'otp' ? 'OTP sent' : 'SMS sent'} class="try-result">
          {sent.kind === 'otp' ? (
            <p>
              Verification{' '}
              <a class="mono" href={href(project.id, 'verifications', sent.verification.verificationId)}>
                {sent.verification.verificationId}
              </a>{' '}
              to {sent.verification.to}
              {sent.verification.test ? ' — a test number: no SMS is sent, it verifies with its fixed code.' : ''}
            </p>
          ) : (
            <p>
              To {sent.sms.to}, {sent.sms.parts} part{sent.sms.parts === 1 ? '' : 's'}.
            </p>
          )}
          {messageId ? <LiveMessage project={project} messageId={messageId} /> : null}
        </Card>
      ) : null}
    </div>
  );
}

/** A message, re-read every second until it reaches a final state. */
function LiveMessage({ project, messageId }: { project: Project; messageId: string }) {
  const [done, setDone] = useState(false);
  const message = useLoad(
    async () => {
      const m = await get<Message>(`/admin/projects/${seg(project.id)}/messages/${seg(messageId)}`);
      if (isFinal(m.status)) setDone(true);
      return m;
    },
    [messageId],
    done ? undefined : 1000,
  );
  if (!message.data) return null;
  return (
    <>
      <StatusTimeline message={message.data} />
      <p>
        <a href={href(project.id, 'messages', messageId)}>Message details</a>
      </p>
    </>
  );
}
