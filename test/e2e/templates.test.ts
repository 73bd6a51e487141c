/** Per-project OTP templates: admin API, validation, and the project's text reaching the phone. */
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'templates');

test('GET lists all seven languages, built-in until a project sets its own', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const list = await smx.admin('GET', `/admin/projects/${projectId}/templates`);
  t.is(list.status, 200);
  t.deepEqual(
    list.body.data.templates.map((x: { language: string }) => x.language),
    ['en', 'de', 'es', 'fr', 'it', 'pt', 'ru'],
  );
  t.true(
    list.body.data.templates.every((x: { custom: boolean; text: string }) => !x.custom && x.text.includes('{{code}}')),
  );

  const put = await smx.admin('PUT', `/admin/projects/${projectId}/templates/fr`, {
    text: 'ACME : votre code {{pin}}',
  });
  t.is(put.status, 200, JSON.stringify(put.body));
  t.is(put.body.data.language, 'fr');
  t.is(put.body.data.text, 'ACME : votre code {{pin}}');
  t.truthy(Date.parse(put.body.data.updatedAt));

  const after = await smx.admin('GET', `/admin/projects/${projectId}/templates`);
  const fr = after.body.data.templates.find((x: { language: string }) => x.language === 'fr');
  t.deepEqual(fr, { language: 'fr', text: 'ACME : votre code {{pin}}', custom: true });

  const reset = await smx.admin('DELETE', `/admin/projects/${projectId}/templates/fr`);
  t.is(reset.status, 200);
  const again = await smx.admin('GET', `/admin/projects/${projectId}/templates`);
  t.false(again.body.data.templates.find((x: { language: string }) => x.language === 'fr').custom);
});

test('a template without {{code}}/{{pin}}, an unknown language, empty or too long text are refused', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const noPlaceholder = await smx.admin('PUT', `/admin/projects/${projectId}/templates/en`, {
    text: 'Your code is {{ token }}',
  });
  t.is(noPlaceholder.status, 400);
  t.is(noPlaceholder.body.error.code, 'VALIDATION_FAILED');
  t.is(noPlaceholder.body.error.details[0]!.field, 'text');
  const language = await smx.admin('PUT', `/admin/projects/${projectId}/templates/nl`, { text: 'Uw code {{code}}' });
  t.is(language.status, 400);
  t.is(language.body.error.details[0]!.field, 'language');
  const empty = await smx.admin('PUT', `/admin/projects/${projectId}/templates/en`, { text: '' });
  t.is(empty.status, 400);
  t.is(empty.body.error.details[0]!.field, 'text');
  const long = await smx.admin('PUT', `/admin/projects/${projectId}/templates/en`, {
    text: `{{code}}${'x'.repeat(1000)}`,
  });
  t.is(long.status, 400);
  const unknown = await smx.admin('PUT', '/admin/projects/prj_nope/templates/en', { text: '{{code}}' });
  t.is(unknown.status, 404);
  const list = await smx.admin('GET', `/admin/projects/${projectId}/templates`);
  t.true(
    list.body.data.templates.every((x: { custom: boolean }) => !x.custom),
    'nothing was stored',
  );
});

test('send-otp uses the project template for the chosen language; a request template still wins; a reset takes effect at once', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const received: OutboxMessage[] = [];
  await startPhone(t, await linkNewDevice(smx, projectId), { onSend: (m) => void received.push(m) });
  await smx.admin('PUT', `/admin/projects/${projectId}/templates/de`, {
    text: 'ACME-Code: {{code}}. Nicht weitergeben.',
  });
  await smx.admin('PUT', `/admin/projects/${projectId}/templates/en`, { text: 'ACME code {{pin}}' });

  const bodyOf = async (request: Record<string, unknown>) => {
    const sent = await smx.api(key, 'POST', '/v1/send-otp', request);
    t.is(sent.status, 201, JSON.stringify(sent.body));
    return (
      await eventually(
        async () => received.find((m) => m.id === sent.body.data.messageId),
        10_000,
        'the SMS on the phone',
      )
    ).body;
  };

  t.is(
    await bodyOf({ to: '+4915112345678', code: '424242' }),
    'ACME-Code: 424242. Nicht weitergeben.',
    'German by the +49 prefix, project text',
  );
  t.is(await bodyOf({ to: '+4915112345678', language: 'en', code: '111111' }), 'ACME code 111111');
  t.is(
    await bodyOf({ to: '+4915112345678', template: 'Request {{code}}', code: '222222' }),
    'Request 222222',
    'request template > project template',
  );
  t.is(
    await bodyOf({ to: '+4915112345678', language: 'fr', code: '333333' }),
    'Votre code de vérification est 333333',
    'no project text: built-in',
  );

  await smx.admin('DELETE', `/admin/projects/${projectId}/templates/de`);
  t.is(
    await bodyOf({ to: '+4915112345678', code: '444444' }),
    'Ihr Bestätigungscode lautet 444444',
    'reset evicts the cached template',
  );
});
