import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, seg } from '../api.js';
import { countdown } from '../format.js';
import { useNow } from '../hooks.js';
import { href } from '../router.js';
import type { Device, LinkCode, LinkToken, Project } from '../types.js';
import { Button, CopyField, ErrorNotice, Online } from '../ui/components.js';

/** Hosts a phone can never reach: the QR then points at the phone itself. */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/i;

/** How often the panel asks whether the phone has linked yet. */
const LINK_POLL_MS = 2000;

interface Showing {
  token: LinkToken;
  code: LinkCode;
  /** The server base URL the QR carries (SMX_PUBLIC_URL): what the phone must reach. */
  server: string;
  known: Set<string>;
}

/**
 * "Link a phone": a fresh single-use link token shown as a large QR code with a countdown to its
 * expiry, the 6-digit link code beside it, and the SMSGate app's URL. It watches the project's
 * devices and shows the new one as soon as the phone has linked, without a reload.
 */
export function LinkPhone({
  project,
  onLinked,
  onClose,
}: {
  project: Project;
  onLinked?: (device: Device) => void;
  onClose?: () => void;
}) {
  const [showing, setShowing] = useState<Showing>();
  const [linked, setLinked] = useState<Device>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const now = useNow(1000);
  const onLinkedRef = useRef(onLinked);
  onLinkedRef.current = onLinked;
  const devicesPath = `/admin/projects/${seg(project.id)}/devices`;

  const start = async () => {
    setBusy(true);
    setError(undefined);
    setLinked(undefined);
    try {
      const [{ devices }, token, code] = await Promise.all([
        get<{ devices: Device[] }>(devicesPath),
        post<LinkToken>(`/admin/projects/${seg(project.id)}/link-tokens`),
        post<LinkCode>(`/admin/projects/${seg(project.id)}/link-codes`),
      ]);
      const server = (JSON.parse(token.qr.payload) as { server: string }).server;
      setShowing({ token, code, server, known: new Set(devices.map((d) => d.id)) });
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void start();
    // One token per opening of the panel.
  }, [project.id]);

  // Watch for the phone: a device id that was not there when the token was made.
  useEffect(() => {
    if (!showing) return undefined;
    let stopped = false;
    const look = async () => {
      try {
        const { devices } = await get<{ devices: Device[] }>(devicesPath);
        if (stopped) return;
        const fresh = devices
          .filter((d) => !showing.known.has(d.id))
          .sort((a, b) => b.linkedAt.localeCompare(a.linkedAt))[0];
        if (fresh) {
          setLinked((before) => {
            if (!before) onLinkedRef.current?.(fresh);
            return fresh;
          });
        }
      } catch {
        // A failed look is retried at the next tick; the page shows API errors elsewhere.
      }
    };
    const timer = setInterval(() => void look(), LINK_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [showing, devicesPath]);

  if (error) {
    return (
      <div class="link-panel">
        <ErrorNotice error={error} title="Cannot create a link code" />
        <div class="actions">
          <Button onClick={() => void start()} busy={busy}>
            Try again
          </Button>
          {onClose ? (
            <Button variant="ghost" onClick={onClose}>
              Close
            </Button>
          ) : null}
        </div>
      </div>
    );
  }
  if (!showing)
    return (
      <div class="link-panel">
        <p class="muted">
          <span class="spinner" aria-hidden="true" /> Creating a link code…
        </p>
      </div>
    );

  if (linked) {
    return (
      <div class="link-panel link-done" data-testid="link-done" role="status">
        <p class="link-done-title">
          <span class="check" aria-hidden="true">
            ✓
          </span>{' '}
          Phone linked: <strong data-testid="linked-name">{linked.name}</strong>
        </p>
        <p>
          It is now the project's <strong>active</strong> phone
          {showing.known.size > 0 ? '; the phone that was active before stays linked as standby' : ''}.{' '}
          <Online online={linked.online} />
        </p>
        <div class="actions">
          <a class="btn btn-primary" href={href(project.id, 'try')}>
            Send a test OTP
          </a>
          <Button onClick={() => void start()} busy={busy}>
            Link another phone
          </Button>
          {onClose ? (
            <Button variant="ghost" onClick={onClose}>
              Close
            </Button>
          ) : null}
        </div>
      </div>
    );
  }

  const expired = new Date(showing.token.expiresAt).getTime() <= now;
  const smsgateUrl = `${showing.server.replace(/\/+$/, '')}/compat/smsgate/mobile/v1`;
  return (
    <div class="link-panel" data-testid="link-panel">
      <div class="link-grid">
        <figure class={`qr-frame${expired ? ' qr-expired' : ''}`}>
          <img
            class="qr"
            src={showing.token.qr.pngDataUrl}
            alt="QR code that links a phone to this project"
            data-testid="link-qr"
          />
          {expired ? (
            <div class="qr-overlay">
              <p>This code expired.</p>
              <Button variant="primary" onClick={() => void start()} busy={busy}>
                New QR code
              </Button>
            </div>
          ) : null}
          <figcaption class="muted small">
            {expired ? (
              'Expired'
            ) : (
              <>
                Expires in{' '}
                <strong class="mono" data-testid="link-countdown">
                  {countdown(showing.token.expiresAt, now)}
                </strong>
              </>
            )}{' '}
            · single use
          </figcaption>
        </figure>
        <div class="link-side">
          <h3>Scan it with the phone</h3>
          <ol class="steps">
            <li>In the phone's SMX gateway app, scan this QR code.</li>
            <li>Or type this link code in the app:</li>
          </ol>
          <p class="link-code" data-testid="link-code" aria-label="6-digit link code">
            {showing.code.code}
          </p>
          <p class="muted small">
            Code expires in {countdown(showing.code.expiresAt, now)}. The phone must reach{' '}
            <span class="mono">{showing.server}</span>; set <code>SMX_PUBLIC_URL</code> if it cannot.
          </p>
          {LOOPBACK.test(new URL(showing.server).hostname) ? (
            <p class="notice notice-warn" role="note" data-testid="loopback-warning">
              This address means "this computer": only a device on it (like the reference device) can use it, a phone
              cannot. For a phone, start SMX with <code>SMX_PUBLIC_URL</code> set to an address the phone reaches (e.g.{' '}
              <code>http://192.168.1.20:8080</code>) and make a new code.
            </p>
          ) : null}
          <p class="waiting" role="status">
            <span class="spinner" aria-hidden="true" /> Waiting for the phone… this page updates by itself.
          </p>
          <details class="reference">
            <summary>No phone at hand? Link the reference device from a terminal</summary>
            <p>In the SMX folder, run these two commands; the second prints every SMS it "sends":</p>
            <CopyField
              value={`npx smx device link '${showing.token.qr.payload}' --name "Reference phone"`}
              label="Link command"
            />
            <CopyField value="npx smx device run" label="Run command" />
          </details>
          <details class="smsgate">
            <summary>Using the SMSGate app (SMS Gateway for Android)?</summary>
            <p>
              In the app: <strong>Settings → Cloud server</strong>. Set <strong>API URL</strong> to:
            </p>
            <CopyField value={smsgateUrl} label="SMSGate API URL" testId="smsgate-url" />
            <p>
              and <strong>Private token</strong> to this link token (single use, same expiry):
            </p>
            <CopyField value={showing.token.token} label="Link token" />
            <p class="muted small">
              Release builds of the app talk HTTPS only: put SMX behind TLS and set <code>SMX_PUBLIC_URL</code> to the
              https address.
            </p>
          </details>
          {onClose ? (
            <div class="actions">
              <Button variant="ghost" onClick={onClose}>
                Cancel
              </Button>
            </div>
          ) : null}
        </div>
      </div>
    </div>
  );
}
