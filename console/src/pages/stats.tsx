import { useEffect, useRef, useState } from 'preact/hooks';
import { get, seg } from '../api.js';
import { fromLocalInput, percent, toLocalInput } from '../format.js';
import { useLoad } from '../hooks.js';
import type { Project, StatsReport } from '../types.js';
import { Button, Card, ErrorNotice, Field, Loading, useTitle } from '../ui/components.js';
import type { Series } from './chart.js';

type Preset = '24h' | '7d' | '30d' | '90d' | 'custom';
const PRESETS: Record<Exclude<Preset, 'custom'>, { label: string; hours: number; interval: 'hour' | 'day' }> = {
  '24h': { label: 'Last 24 hours, per hour', hours: 24, interval: 'hour' },
  '7d': { label: 'Last 7 days, per hour', hours: 24 * 7, interval: 'hour' },
  '30d': { label: 'Last 30 days, per day', hours: 24 * 30, interval: 'day' },
  '90d': { label: 'Last 90 days, per day', hours: 24 * 90, interval: 'day' },
};
type Kind = 'all' | 'otp' | 'sms';

interface Range {
  from?: string;
  to?: string;
  interval: 'hour' | 'day';
}

function presetRange(preset: Exclude<Preset, 'custom'>): Range {
  const { hours, interval } = PRESETS[preset];
  return { from: new Date(Date.now() - hours * 3_600_000).toISOString(), interval };
}

const COLORS = { sent: '#1f5eff', delivered: '#14804a', failed: '#c62828', verified: '#8e44ad' };

/** Sent / delivered / failed / verified per hour or day over a chosen range, and the OTP conversion rate. */
export function StatsPage({ project }: { project: Project }) {
  useTitle(`Stats · ${project.name}`);
  const [preset, setPreset] = useState<Preset>('24h');
  const [kind, setKind] = useState<Kind>('all');
  const [range, setRange] = useState<Range>(() => presetRange('24h'));
  const [custom, setCustom] = useState(() => ({
    from: toLocalInput(new Date(Date.now() - 7 * 86_400_000)),
    to: toLocalInput(new Date()),
    interval: 'day' as 'hour' | 'day',
  }));
  const report = useLoad(
    () =>
      get<StatsReport>(`/admin/projects/${seg(project.id)}/stats`, {
        from: range.from,
        to: range.to,
        interval: range.interval,
      }),
    [project.id, range],
  );

  const choose = (value: Preset) => {
    setPreset(value);
    if (value !== 'custom') setRange(presetRange(value));
  };
  const applyCustom = (event: Event) => {
    event.preventDefault();
    setRange({ from: fromLocalInput(custom.from), to: fromLocalInput(custom.to), interval: custom.interval });
  };
  const r = report.data;
  return (
    <div class="stack">
      <Card>
        <div class="filters">
          <Field label="Period" id="preset">
            <select value={preset} onChange={(e) => choose(e.currentTarget.value as Preset)}>
              {Object.entries(PRESETS).map(([value, p]) => (
                <option key={value} value={value}>
                  {p.label}
                </option>
              ))}
              <option value="custom">Custom…</option>
            </select>
          </Field>
          <Field label="Messages" id="kind">
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
              <option value="all">OTP and SMS</option>
              <option value="otp">OTP only</option>
              <option value="sms">SMS only</option>
            </select>
          </Field>
          <div class="actions">
            <Button onClick={() => (preset === 'custom' ? void report.reload() : setRange(presetRange(preset)))}>
              Refresh
            </Button>
          </div>
        </div>
        {preset === 'custom' ? (
          <form class="filters" onSubmit={applyCustom} noValidate>
            <Field label="From" error={report.error?.about('from')} id="from">
              <input
                type="datetime-local"
                value={custom.from}
                onInput={(e) => setCustom({ ...custom, from: e.currentTarget.value })}
              />
            </Field>
            <Field label="To" error={report.error?.about('to')} id="to">
              <input
                type="datetime-local"
                value={custom.to}
                onInput={(e) => setCustom({ ...custom, to: e.currentTarget.value })}
              />
            </Field>
            <Field label="Per" error={report.error?.about('interval')} id="interval">
              <select
                value={custom.interval}
                onChange={(e) => setCustom({ ...custom, interval: e.currentTarget.value as 'hour' | 'day' })}
              >
                <option value="hour">hour</option>
                <option value="day">day</option>
              </select>
            </Field>
            <div class="actions">
              <Button type="submit" variant="primary">
                Show
              </Button>
            </div>
          </form>
        ) : null}
      </Card>
      {report.error && report.error.code !== 'VALIDATION_FAILED' ? <ErrorNotice error={report.error} /> : null}
      {!r ? (
        report.loading ? (
          <Loading />
        ) : null
      ) : (
        <>
          <Totals report={r} />
          <Card title={`${kind === 'otp' ? 'OTP' : kind === 'sms' ? 'SMS' : 'OTP and SMS'} per ${r.interval}`}>
            <StatsChart report={r} kind={kind} />
            <p class="muted small">
              Counted in UTC {r.interval}s from {new Date(r.from).toLocaleString()} to {new Date(r.to).toLocaleString()}
              .
            </p>
          </Card>
        </>
      )}
    </div>
  );
}

function Totals({ report: r }: { report: StatsReport }) {
  const o = r.totals.otp;
  const s = r.totals.sms;
  const tiles: Array<[string, string, string?]> = [
    ['Conversion rate', percent(o.conversionRate), 'conversion'],
    ['OTP requested', String(o.requested)],
    ['OTP verified', String(o.verified)],
    ['OTP delivered', String(o.delivered)],
    ['OTP failed', String(o.failed)],
    ['SMS sent', String(s.sent)],
    ['SMS delivered', String(s.delivered)],
    ['SMS failed', String(s.failed)],
  ];
  return (
    <div class="tiles">
      {tiles.map(([label, value, id]) => (
        <div class="tile" key={label} data-testid={id ? `tile-${id}` : undefined}>
          <span class="tile-value">{value}</span>
          <span class="tile-label">{label}</span>
        </div>
      ))}
    </div>
  );
}

function labelOf(start: string, interval: 'hour' | 'day', multiDay: boolean): string {
  const d = new Date(start);
  if (interval === 'day') return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const hour = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return multiDay ? `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${hour}` : hour;
}

function seriesOf(r: StatsReport, kind: Kind): Series[] {
  const pick = (f: (b: StatsReport['series'][number]) => { otp: number; sms: number }) =>
    r.series.map((b) => {
      const v = f(b);
      return kind === 'otp' ? v.otp : kind === 'sms' ? v.sms : v.otp + v.sms;
    });
  const series: Series[] = [
    { label: 'sent', color: COLORS.sent, values: pick((b) => ({ otp: b.otp.sent, sms: b.sms.sent })) },
    {
      label: 'delivered',
      color: COLORS.delivered,
      values: pick((b) => ({ otp: b.otp.delivered, sms: b.sms.delivered })),
    },
    { label: 'failed', color: COLORS.failed, values: pick((b) => ({ otp: b.otp.failed, sms: b.sms.failed })) },
  ];
  if (kind !== 'sms')
    series.push({ label: 'verified', color: COLORS.verified, values: r.series.map((b) => b.otp.verified) });
  return series;
}

/** The chart (Chart.js, loaded on first use). */
function StatsChart({ report, kind }: { report: StatsReport; kind: Kind }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<{ update(labels: string[], series: Series[]): void; destroy(): void }>(undefined);
  const [failed, setFailed] = useState<string>();
  const multiDay = report.series.length > 24;
  const labels = report.series.map((b) => labelOf(b.start, report.interval, multiDay));
  const series = seriesOf(report, kind);
  const plotted = series.reduce((sum, s) => sum + s.values.reduce((a, b) => a + b, 0), 0);

  useEffect(() => {
    let alive = true;
    if (chart.current) {
      chart.current.update(labels, series);
      return undefined;
    }
    import('./chart.js')
      .then(({ drawChart }) => {
        if (alive && canvas.current && !chart.current) chart.current = drawChart(canvas.current, labels, series);
      })
      .catch((error: Error) => setFailed(error.message));
    return () => {
      alive = false;
    };
  }, [report, kind]);

  useEffect(() => () => chart.current?.destroy(), []);

  return (
    <div
      class="chart-box"
      data-testid="stats-chart"
      data-plotted={String(plotted)}
      data-buckets={String(labels.length)}
    >
      {failed ? <p class="field-error">The chart could not be drawn: {failed}</p> : null}
      <canvas
        ref={canvas}
        role="img"
        aria-label={`Chart of ${series.map((s) => s.label).join(', ')} per ${report.interval}`}
      />
    </div>
  );
}
