import { useEffect, useState } from 'preact/hooks';
import { del, patch, seg } from '../api.js';
import { useAction } from '../hooks.js';
import { navigate } from '../router.js';
import type { Project } from '../types.js';
import { Button, Card, ConfirmButton, Field, OtherProblems, useTitle } from '../ui/components.js';

const ROUTINGS = ['active-device', 'failover', 'round-robin', 'prefix'];
const LANGUAGES = ['en', 'de', 'es', 'fr', 'it', 'pt', 'ru'];

type Form = Record<string, string>;

const NUMBER_FIELDS = ['otpLeaseSeconds', 'codeLength', 'ttl', 'maxAttempts'] as const;
const LIMIT_FIELDS = [
  'perNumber',
  'perNumberWindowSeconds',
  'perProjectPerMinute',
  'perCountryPrefixWindowSeconds',
  'resendsPerVerification',
  'resendIntervalSeconds',
] as const;

function formOf(p: Project): Form {
  const s = p.settings;
  const form: Form = {
    name: p.name,
    routing: s.routing,
    codeType: s.codeType,
    defaultLanguage: s.defaultLanguage,
    allowedCountries: s.allowedCountries.join(', '),
    perCountryPrefix: Object.entries(s.rateLimits.perCountryPrefix)
      .map(([prefix, limit]) => `${prefix}=${limit}`)
      .join('\n'),
  };
  for (const f of NUMBER_FIELDS) form[f] = String(s[f]);
  for (const f of LIMIT_FIELDS) form[`rateLimits.${f}`] = String(s.rateLimits[f]);
  return form;
}

/** A whole number as a number; anything else as typed, so the API's own message names the problem. */
function numberOrRaw(value: string): number | string {
  return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
}

/** "+234=50" lines (or commas) to { "+234": 50 }. */
function prefixLimits(text: string): Record<string, number | string | null> {
  const limits: Record<string, number | string | null> = {};
  for (const entry of text
    .split(/[\n,]+/)
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [prefix, limit] = entry.split(/\s*[=:]\s*/);
    limits[prefix!] = limit === undefined ? null : numberOrRaw(limit);
  }
  return limits;
}

function patchOf(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: form.name,
    routing: form.routing,
    codeType: form.codeType,
    defaultLanguage: form.defaultLanguage,
    allowedCountries: form
      .allowedCountries!.split(/[\s,]+/)
      .filter(Boolean)
      .map((c) => c.toUpperCase()),
  };
  for (const f of NUMBER_FIELDS) body[f] = numberOrRaw(form[f]!);
  const rateLimits: Record<string, unknown> = { perCountryPrefix: prefixLimits(form.perCountryPrefix!) };
  for (const f of LIMIT_FIELDS) rateLimits[f] = numberOrRaw(form[`rateLimits.${f}`]!);
  body.rateLimits = rateLimits;
  return body;
}

/** Rename the project and change its settings; the API's validation messages appear at their fields. */
export function SettingsPage({ project, onChange }: { project: Project; onChange: () => void }) {
  useTitle(`Settings · ${project.name}`);
  const [form, setForm] = useState<Form>(() => formOf(project));
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const remove = useAction();
  // After a refused save, the first field the API named gets the focus (and scrolls into view).
  useEffect(() => {
    if (action.error?.code === 'VALIDATION_FAILED')
      document
        .querySelector<HTMLElement>('.field-invalid input, .field-invalid select, .field-invalid textarea')
        ?.focus();
  }, [action.error]);
  const error = (field: string) =>
    action.error?.about(field === 'perCountryPrefix' ? 'rateLimits.perCountryPrefix' : field);
  const bind = (field: string) => ({
    name: field,
    value: form[field] ?? '',
    onInput: (e: { currentTarget: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement }) => {
      setSaved(false);
      setForm({ ...form, [field]: e.currentTarget.value });
    },
  });

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaved(false);
    const updated = await action.run(() => patch<Project>(`/admin/projects/${seg(project.id)}`, patchOf(form)));
    if (updated) {
      setForm(formOf(updated));
      setSaved(true);
      onChange();
    }
  };

  const number = (field: string, label: string, hint?: string) => (
    <Field label={label} error={error(field)} hint={hint} id={field}>
      <input type="text" inputMode="numeric" {...bind(field)} />
    </Field>
  );

  const shown = ['name', 'routing', 'codeType', 'defaultLanguage', 'allowedCountries', 'rateLimits', ...NUMBER_FIELDS];
  return (
    <div class="stack">
      <form class="stack" onSubmit={submit} noValidate data-testid="settings-form">
        <Card title="Project">
          <Field label="Name" error={error('name')} id="name">
            <input {...bind('name')} maxLength={200} />
          </Field>
        </Card>
        <Card title="Routing">
          <div class="grid-2">
            <Field
              label="Routing strategy"
              error={error('routing')}
              id="routing"
              hint="active-device, failover, round-robin, prefix, or one a plugin registers."
            >
              <input {...bind('routing')} list="routings" />
            </Field>
            {number(
              'otpLeaseSeconds',
              'OTP lease (seconds)',
              'How long a phone has to report an OTP sent before it is re-routed; 0 = never.',
            )}
          </div>
          <datalist id="routings">
            {ROUTINGS.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </Card>
        <Card title="OTP defaults">
          <div class="grid-2">
            {number('codeLength', 'Code length', '4-12')}
            <Field label="Code type" error={error('codeType')} id="codeType">
              <select {...bind('codeType')}>
                <option value="numeric">numeric</option>
                <option value="alpha">alpha</option>
                <option value="alphanumeric">alphanumeric</option>
              </select>
            </Field>
            {number('ttl', 'Lifetime (seconds)', '60-1800')}
            {number('maxAttempts', 'Attempts', '1-10')}
            <Field
              label="Default language"
              error={error('defaultLanguage')}
              id="defaultLanguage"
              hint="When the number's country gives none."
            >
              <select {...bind('defaultLanguage')}>
                {LANGUAGES.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </Field>
          </div>
        </Card>
        <Card title="Limits">
          <div class="grid-2">
            {number('rateLimits.perNumber', 'OTPs per number per window')}
            {number('rateLimits.perNumberWindowSeconds', 'Per-number window (seconds)')}
            {number('rateLimits.perProjectPerMinute', 'Sends per minute (project)', '0 = no limit')}
            {number('rateLimits.resendsPerVerification', 'Resends per verification')}
            {number('rateLimits.resendIntervalSeconds', 'Seconds between resends')}
            {number('rateLimits.perCountryPrefixWindowSeconds', 'Prefix window (seconds)')}
          </div>
          <Field
            label="OTPs per destination prefix per window"
            error={error('perCountryPrefix')}
            id="perCountryPrefix"
            hint='One per line, e.g. "+234=50". 0 refuses the prefix.'
          >
            <textarea rows={3} {...bind('perCountryPrefix')} />
          </Field>
          <Field
            label="Allowed destination countries"
            error={error('allowedCountries')}
            id="allowedCountries"
            hint="ISO codes, e.g. DE, AT. Empty = all countries."
          >
            <input {...bind('allowedCountries')} placeholder="all countries" />
          </Field>
        </Card>
        <OtherProblems error={action.error} fields={shown} />
        <div class="actions">
          <Button type="submit" variant="primary" busy={action.busy}>
            Save settings
          </Button>
          {saved ? (
            <span class="saved" role="status">
              Saved.
            </span>
          ) : null}
        </div>
      </form>
      <Card title="Delete project" class="card-danger">
        <p>Deletes the project and everything it owns: keys, devices (unlinked at once), messages, webhooks.</p>
        {remove.error ? <p class="field-error">{remove.error.message}</p> : null}
        <ConfirmButton
          label="Delete this project"
          title={`Delete "${project.name}"?`}
          confirmLabel="Delete project"
          body={<p>This cannot be undone. Its phones are unlinked and its API keys stop working.</p>}
          onConfirm={async () => {
            if (await remove.run(() => del(`/admin/projects/${seg(project.id)}`))) navigate('#/');
          }}
        />
      </Card>
    </div>
  );
}
