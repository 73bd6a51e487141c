import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from '../api.js';

/**
 * Small building blocks. Everything shown is passed as text children: Preact renders strings as
 * text nodes, never as HTML, so a device name or an SMS text cannot become markup.
 */

type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type'> & {
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  busy?: boolean;
  type?: 'button' | 'submit';
};

export function Button({
  variant = 'secondary',
  busy,
  children,
  type = 'button',
  disabled,
  class: extra,
  ...rest
}: ButtonProps) {
  return (
    <button
      {...rest}
      type={type}
      class={`btn btn-${variant}${extra ? ` ${String(extra)}` : ''}`}
      disabled={Boolean(disabled) || busy}
      aria-busy={busy ? 'true' : undefined}
    >
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/** A labelled input with the API's message for that field under it. */
export function Field({
  label,
  error,
  hint,
  children,
  id,
}: {
  label: string;
  error?: string;
  hint?: ComponentChildren;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <div class={`field${error ? ' field-invalid' : ''}`} data-field={id}>
      <label>
        <span class="field-label">{label}</span>
        {children}
      </label>
      {error ? (
        <p class="field-error" role="alert">
          {error}
        </p>
      ) : hint ? (
        <p class="field-hint">{hint}</p>
      ) : null}
    </div>
  );
}

/** An error answer: its message, and its code and request id for the logs. */
export function ErrorNotice({ error, title }: { error: ApiError | undefined; title?: string }) {
  if (!error) return null;
  const fields = error.details.filter((d) => d.message);
  return (
    <div class="notice notice-error" role="alert">
      <strong>{title ?? error.message}</strong>
      {title ? <p>{error.message}</p> : null}
      {fields.length > 0 && error.code !== 'VALIDATION_FAILED' ? (
        <ul>
          {fields.map((d) => (
            <li key={`${d.field}:${d.message}`}>{d.message}</li>
          ))}
        </ul>
      ) : null}
      <p class="muted small">
        {error.code}
        {error.requestId ? ` · ${error.requestId}` : ''}
      </p>
    </div>
  );
}

/** Validation details that name no field the form shows. */
export function OtherProblems({ error, fields }: { error: ApiError | undefined; fields: string[] }) {
  if (!error) return null;
  if (error.code !== 'VALIDATION_FAILED') return <ErrorNotice error={error} />;
  const others = error.details.filter(
    (d) => !fields.some((f) => d.field === f || d.field?.startsWith(`${f}.`) || d.field?.startsWith(`${f}[`)),
  );
  if (others.length === 0)
    return (
      <p class="form-summary" role="alert">
        Please correct the fields marked in red.
      </p>
    );
  return (
    <div class="notice notice-error" role="alert">
      <strong>{error.message}</strong>
      <ul>
        {others.map((d) => (
          <li key={`${d.field}:${d.message}`}>{d.message}</li>
        ))}
      </ul>
    </div>
  );
}

async function copyText(text: string, fallback: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain-HTTP LAN addresses are no secure context: no Clipboard API. Select it for the user.
    fallback?.select();
    return document.execCommand?.('copy') ?? false;
  }
}

export function CopyButton({
  text,
  label = 'Copy',
  target,
}: {
  text: string;
  label?: string;
  target?: () => HTMLInputElement | null;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <Button
      variant="secondary"
      onClick={async () => {
        if (await copyText(text, target?.() ?? null)) {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        }
      }}
    >
      {copied ? 'Copied' : label}
    </Button>
  );
}

/** A value to copy (a key, a URL): a read-only field and a copy button. */
export function CopyField({ value, label, testId }: { value: string; label: string; testId?: string }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <div class="copy-field">
      <input
        ref={input}
        readOnly
        value={value}
        aria-label={label}
        data-testid={testId}
        onFocus={(e) => e.currentTarget.select()}
      />
      <CopyButton text={value} target={() => input.current} />
    </div>
  );
}

/** A secret the API shows once (an API key, a webhook secret). */
export function ShownOnce({
  title,
  value,
  testId,
  onDone,
}: {
  title: string;
  value: string;
  testId?: string;
  onDone: () => void;
}) {
  return (
    <div class="notice notice-secret" role="status">
      <strong>{title}</strong>
      <p>Copy it now: SMX keeps only a hash of it and will not show it again.</p>
      <CopyField value={value} label={title} testId={testId} />
      <div class="actions">
        <Button onClick={onDone}>Done, I copied it</Button>
      </div>
    </div>
  );
}

/** A button that asks first, in a modal dialog. */
export function ConfirmButton({
  label,
  title,
  body,
  confirmLabel,
  onConfirm,
  variant = 'danger',
}: {
  label: string;
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => Promise<unknown> | void;
  variant?: 'danger' | 'secondary' | 'primary';
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <Button
        variant={variant === 'danger' ? 'ghost' : variant}
        class={variant === 'danger' ? 'danger-text' : undefined}
        onClick={() => dialog.current?.showModal()}
      >
        {label}
      </Button>
      <dialog ref={dialog} class="dialog" aria-label={title}>
        <h3>{title}</h3>
        <div class="dialog-body">{body}</div>
        <div class="actions">
          <Button onClick={() => dialog.current?.close()}>Cancel</Button>
          <Button
            variant={variant}
            busy={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
              } finally {
                setBusy(false);
                dialog.current?.close();
              }
            }}
          >
            {confirmLabel}
          </Button>
        </div>
      </dialog>
    </>
  );
}

const STATUS_TONE: Record<string, string> = {
  QUEUED: 'neutral',
  DISPATCHED: 'info',
  SENT: 'info',
  DELIVERED: 'good',
  FAILED: 'bad',
  EXPIRED: 'warn',
  PENDING: 'neutral',
  VERIFIED: 'good',
  CANCELED: 'warn',
  active: 'good',
  standby: 'neutral',
  canceled: 'warn',
  expired: 'warn',
};

export function Badge({ value, tone }: { value: string; tone?: string }) {
  return (
    <span class={`badge badge-${tone ?? STATUS_TONE[value] ?? 'neutral'}`} data-status={value}>
      {value}
    </span>
  );
}

export function Online({ online }: { online: boolean }) {
  return (
    <span class={`presence ${online ? 'presence-on' : 'presence-off'}`} data-online={String(online)}>
      {online ? 'online' : 'offline'}
    </span>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Loading() {
  return (
    <p class="muted loading">
      <span class="spinner" aria-hidden="true" /> Loading…
    </p>
  );
}

export function Card({
  title,
  actions,
  children,
  class: extra,
}: {
  title?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <section class={`card${extra ? ` ${extra}` : ''}`}>
      {title || actions ? (
        <header class="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions ? <div class="actions">{actions}</div> : null}
        </header>
      ) : null}
      {children}
    </section>
  );
}

/** Keeps the document title in step with the view. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · SMX console`;
  }, [title]);
}
