import { useState } from 'preact/hooks';
import { del, get, patch, post, seg } from '../api.js';
import { ago, formatDateTime } from '../format.js';
import { useAction, useLoad, useNow } from '../hooks.js';
import type { Device, Project } from '../types.js';
import { Badge, Button, Card, ConfirmButton, Empty, ErrorNotice, Loading, Online, useTitle } from '../ui/components.js';
import { LinkPhone } from './link-phone.js';

/** Presence is polled this often (the issue asks for 5 s or less). */
export const DEVICE_POLL_MS = 3000;

/** The project's phones, live: role, transport, presence, battery, SIMs, pace; activate, pace, unlink. */
export function DevicesPage({ project }: { project: Project }) {
  useTitle(`Devices · ${project.name}`);
  const [linking, setLinking] = useState(false);
  const devices = useLoad(
    () => get<{ devices: Device[] }>(`/admin/projects/${seg(project.id)}/devices`),
    [project.id],
    DEVICE_POLL_MS,
  );
  const list = devices.data?.devices;
  return (
    <div class="stack">
      <Card
        title="Phones"
        actions={
          linking ? null : (
            <Button variant="primary" onClick={() => setLinking(true)}>
              Link a phone
            </Button>
          )
        }
      >
        {linking ? (
          <LinkPhone project={project} onLinked={() => void devices.reload()} onClose={() => setLinking(false)} />
        ) : null}
        <ErrorNotice error={devices.error} />
        {!list ? (
          <Loading />
        ) : list.length === 0 ? (
          <Empty>No phone is linked to this project yet. Link one to start sending.</Empty>
        ) : (
          <DeviceTable devices={list} onChange={() => void devices.reload()} />
        )}
        <p class="muted small">Updates by itself every {DEVICE_POLL_MS / 1000} s.</p>
      </Card>
    </div>
  );
}

export function DeviceTable({ devices, onChange }: { devices: Device[]; onChange: () => void }) {
  const now = useNow(5000);
  return (
    <div class="table-wrap">
      <table class="table responsive" data-testid="devices-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Transport</th>
            <th>Online</th>
            <th>Last seen</th>
            <th>Battery</th>
            <th>SIMs</th>
            <th>Send rate</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {devices.map((d) => (
            <DeviceRow key={d.id} device={d} now={now} onChange={onChange} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DeviceRow({ device: d, now, onChange }: { device: Device; now: number; onChange: () => void }) {
  const [rate, setRate] = useState<string>();
  const action = useAction();
  const path = `/admin/devices/${seg(d.id)}`;
  const saveRate = async (event: Event) => {
    event.preventDefault();
    const done = await action.run(() =>
      patch<Device>(path, { sendRatePerMinute: rate === undefined || rate === '' ? NaN : Number(rate) }),
    );
    if (done) {
      setRate(undefined);
      onChange();
    }
  };
  return (
    <tr data-device-id={d.id}>
      <td data-label="Name">
        <strong class="device-name" data-testid="device-name">
          {d.name}
        </strong>
        <div class="muted small">
          {[d.model, d.appVersion ? `app ${d.appVersion}` : null].filter(Boolean).join(' · ') || '—'}
        </div>
        <div class="muted small mono">{d.id}</div>
      </td>
      <td data-label="Role">
        <Badge value={d.status} />
      </td>
      <td data-label="Transport">{d.transport === 'smsgate' ? 'SMSGate' : 'MQTT'}</td>
      <td data-label="Online">
        <Online online={d.online} />
      </td>
      <td data-label="Last seen" title={formatDateTime(d.lastSeenAt)}>
        {d.online ? 'now' : ago(d.lastSeenAt, now)}
      </td>
      <td data-label="Battery">{d.battery === null ? '—' : `${d.battery} %`}</td>
      <td data-label="SIMs">
        {d.sims.length === 0 ? (
          '—'
        ) : (
          <ul class="sims">
            {d.sims.map((s) => (
              <li key={s.slot}>
                <span class="muted">SIM {s.slot + 1}</span> {s.number ?? 'number unknown'}
                {s.carrier ? ` · ${s.carrier}` : ''}
                {s.rentable ? ' · rentable' : ''}
              </li>
            ))}
          </ul>
        )}
      </td>
      <td data-label="Send rate">
        <form class="rate-form" onSubmit={saveRate} noValidate>
          <input
            type="number"
            min={0}
            step={1}
            aria-label={`Send rate of ${d.name}, SMS per minute (0 = no limit)`}
            value={rate ?? String(d.sendRatePerMinute)}
            onInput={(e) => setRate(e.currentTarget.value)}
          />
          <span class="muted small">/min</span>
          {rate !== undefined && rate !== String(d.sendRatePerMinute) ? (
            <Button type="submit" busy={action.busy}>
              Save
            </Button>
          ) : null}
        </form>
        {action.error ? (
          <p class="field-error">{action.error.about('sendRatePerMinute') ?? action.error.message}</p>
        ) : null}
      </td>
      <td data-label="" class="row-actions">
        {d.active ? null : (
          <Button
            onClick={async () => {
              if (await action.run(() => post(`${path}/activate`))) onChange();
            }}
          >
            Make active
          </Button>
        )}
        <ConfirmButton
          label="Unlink"
          title={`Unlink ${d.name}?`}
          body={
            <p>
              Its credentials stop working at once and it is disconnected. Its queued messages go to another phone of
              the project when there is one. To use it again, link it anew.
            </p>
          }
          confirmLabel="Unlink"
          onConfirm={async () => {
            if (await action.run(() => del(path))) onChange();
          }}
        />
      </td>
    </tr>
  );
}
