/**
 * The operator console (issue 14) in a real headless Chromium against a real `smx start`: sign in
 * (a wrong token first), create a project, a webhook endpoint and an API key, open "Link a phone",
 * read the QR code off the screen and link the reference device with it, watch the device turn
 * online without a reload, send a test OTP from the console until DELIVERED, see the chart drawn
 * with data and the webhook's attempts with their status codes, get the API's validation message
 * next to a settings field, revoke the key, sign out. A device name, an SMS sender and an SMS text
 * holding `<img src=x onerror=alert(1)>` are shown as text and run nothing. The same pages on a
 * phone-sized screen. Screenshots go to test/browser/screenshots/ (not committed).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Page } from 'playwright-core';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from '../helpers/smx.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { chromiumPath, launchChromium, type Browser } from './chromium.js';
import { decodeQr } from './qr.js';
import { eventually } from '../helpers/eventually.js';

const SCREENSHOTS = join(process.cwd(), 'test/browser/screenshots');
const XSS = '<img src=x onerror=alert(1)>';
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

// Run in the page (by the test driver, not the page's own scripts): the DOM is not in the Node types.
type Win = { document: any; sessionStorage: any; __smxNoReload?: number };

/** `smx start` as a real process on free ports, PostgreSQL schema and Redis prefix of its own. */
async function startServer(t: ExecutionContext) {
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-console-'));
  const port = await freePort();
  const adminToken = `adm_${randomBytes(16).toString('hex')}`;
  const url = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_console_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-console-${id}`,
    SMX_SECRET: `console-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: adminToken,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(port),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_PUBLIC_URL: url,
    SMX_DATA_DIR: dataDir,
    // The webhook receiver of this test listens on loopback.
    SMX_WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
  };
  const server: SmxProcess = runSmx(['start'], env);
  t.teardown(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await Promise.race([
        new Promise((resolve) => server.once('exit', resolve)),
        new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
      ]);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    await cleanupTestSmx({
      redisPrefix: env.SMX_REDIS_PREFIX,
      smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
    } as never);
  });
  await eventually(
    async () =>
      (await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(3000) }).catch(() => null))?.status === 200,
    40_000,
    'smx start to be ready',
  ).catch((error: Error) => {
    throw new Error(`${error.message}; its output:\n${server.output()}`);
  });
  return { url, adminToken, output: () => server.output() };
}

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  // From the top, so the sticky bar is where a person sees it.
  await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

/** Signs in on a fresh tab, a wrong token first. */
async function signIn(page: Page, url: string, adminToken: string, prefix: string): Promise<void> {
  await page.goto(`${url}/console`);
  await page.getByLabel('Admin token').fill('not-the-admin-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That admin token is wrong').waitFor();
  await shot(page, `${prefix}-sign-in-wrong-token`);
  await page.getByLabel('Admin token').fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();
}

async function tab(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name, exact: true }).click();
}

async function confirm(
  page: Page,
  button: string,
  confirmLabel: string,
  scope?: ReturnType<Page['locator']>,
): Promise<void> {
  await (scope ?? page).getByRole('button', { name: button, exact: true }).first().click();
  await page.locator('dialog[open]').getByRole('button', { name: confirmLabel, exact: true }).click();
}

/** No element the page made from a phone's or sender's text: the payload stayed text. */
async function assertNoInjectedMarkup(t: ExecutionContext, page: Page, where: string): Promise<void> {
  const injected = await page.evaluate(
    () => (globalThis as unknown as Win).document.querySelectorAll('img[src="x"], img[onerror]').length,
  );
  t.is(injected, 0, `${where}: no <img> was made from text`);
}

test('operator console in Chromium: sign in, project, key, link a phone by its on-screen QR, live presence, test OTP to DELIVERED, chart, webhooks, revoke; hostile text stays text; phone-sized screens', async (t) => {
  t.timeout(90_000);
  const started = Date.now();
  const step = (what: string) => t.log(`${((Date.now() - started) / 1000).toFixed(1)} s  ${what}`);
  await mkdir(SCREENSHOTS, { recursive: true });

  // Fails at once, saying how to install it, when Debian's chromium is missing (never skipped).
  chromiumPath();
  const launching = launchChromium();
  launching.catch(() => undefined); // awaited below, after the server is up
  const { url, adminToken } = await startServer(t);
  const browser: Browser = await launching;
  t.teardown(() => browser.close());
  step('smx start ready, Chromium up');

  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const dialogs: string[] = [];
  const requests: Array<{ url: string; authorization?: string }> = [];
  const failedAssets: string[] = [];
  const watch = (page: Page) => {
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('request', (request) =>
      requests.push({ url: request.url(), authorization: request.headers().authorization }),
    );
    page.on('response', (response) => {
      if (new URL(response.url()).pathname.startsWith('/console') && response.status() >= 400)
        failedAssets.push(`${response.status()} ${response.url()}`);
    });
  };

  // ---- Desktop -----------------------------------------------------------------------------
  const page = await browser.newPage(DESKTOP);
  watch(page);
  const first = await page.goto(`${url}/console`);
  const headers = first!.headers();
  t.regex(
    headers['content-security-policy'] ?? '',
    /script-src 'self'(;|$)/,
    'strict CSP: scripts from the origin only',
  );
  t.notRegex(
    headers['content-security-policy'] ?? '',
    /unsafe-inline|unsafe-eval/,
    'no inline script or style, no eval',
  );
  t.regex(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
  t.is(headers['x-frame-options'], 'DENY', 'clickjacking: never framed');
  await shot(page, 'desktop-sign-in');
  await signIn(page, url, adminToken, 'desktop');
  step('signed in');

  // A project.
  await page.getByLabel('Project name').fill('Console shop');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByTestId('project-name').getByText('Console shop').waitFor();
  await shot(page, 'desktop-project-start');

  // A webhook endpoint first, so the events that follow are delivered to it.
  await tab(page, 'Webhooks');
  await page.getByLabel('URL').fill(`${receiver.url}/smx-events`);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = await page.getByTestId('webhook-secret').inputValue();
  t.regex(secret, /^whsec_/, 'the signing secret is shown once');
  await page.getByRole('button', { name: 'Done, I copied it' }).click();

  // An API key: shown once, works on /v1.
  await tab(page, 'API keys');
  await page.getByLabel('Name').fill('backend');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.getByTestId('new-api-key').inputValue();
  t.is((await fetch(`${url}/v1/status`, { headers: { 'x-smx-api-key': key } })).status, 200, 'the key shown works');
  await shot(page, 'desktop-api-key-created');
  await page.getByRole('button', { name: 'Done, I copied it' }).click();
  step('project, webhook endpoint and key created');

  // Link a phone: read the QR off the screen, link the reference device with what it says.
  await tab(page, 'Devices');
  await page.evaluate(() => {
    (globalThis as unknown as Win).__smxNoReload = 1;
  });
  await page.getByRole('button', { name: 'Link a phone' }).click();
  const qrImage = page.getByTestId('link-qr');
  await qrImage.waitFor();
  await t.notThrowsAsync(
    page
      .getByTestId('link-countdown')
      .filter({ hasText: /^(10:00|9:5\d)$/ })
      .waitFor({ timeout: 5000 }),
    'a countdown to the expiry',
  );
  t.regex((await page.getByTestId('link-code').textContent()) ?? '', /^\d{6}$/, 'the 6-digit link code beside it');
  await page.getByText('Using the SMSGate app').click();
  t.is(await page.getByTestId('smsgate-url').inputValue(), `${url}/compat/smsgate/mobile/v1`, 'the SMSGate app URL');
  await shot(page, 'desktop-link-a-phone');
  const payload = JSON.parse(decodeQr(await qrImage.screenshot())) as { v: number; server: string; token: string };
  t.is(payload.v, 1);
  t.is(payload.server, url, 'the QR carries the public URL');
  const deviceName = `Pixel ${XSS}`;
  const credentials = await linkDevice({
    server: payload.server,
    token: payload.token,
    name: deviceName,
    model: 'GP4BC',
    appVersion: '1.0.0',
    sims: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: true }],
  });
  await page.getByTestId('link-done').waitFor({ timeout: 15_000 });
  t.is(
    await page.getByTestId('linked-name').textContent(),
    deviceName,
    'the page noticed the link by itself and names the device as text',
  );
  const row = page.locator(`tr[data-device-id="${credentials.deviceId}"]`);
  await row.locator('[data-online="false"]').waitFor();
  step('linked by the on-screen QR');

  // The phone comes online: the table follows without a reload.
  const sent: OutboxMessage[] = [];
  const phone = new ReferenceDevice({
    credentials,
    report: { sent: true, delivered: true, deliveredDelayMs: 300 },
    battery: { battery: 87 },
    onSend: (m) => void sent.push(m),
  });
  t.teardown(() => phone.stop());
  await phone.start();
  await row.locator('[data-online="true"]').waitFor({ timeout: 15_000 });
  t.is(await page.evaluate(() => (globalThis as unknown as Win).__smxNoReload), 1, 'no reload happened');
  t.is(await row.getByTestId('device-name').textContent(), deviceName);
  await t.notThrowsAsync(row.getByText('87 %').waitFor({ timeout: 5000 }), 'battery from presence');
  await assertNoInjectedMarkup(t, page, 'devices');
  await shot(page, 'desktop-devices');
  step('device online, live');

  // Try it: a test OTP from the console, watched to DELIVERED.
  await tab(page, 'Try it');
  await page.getByLabel('To (phone number, with country code)').fill('+4915112345678');
  await page.getByRole('button', { name: 'Send OTP' }).click();
  await page.getByTestId('message-status').filter({ hasText: 'DELIVERED' }).waitFor({ timeout: 15_000 });
  t.true(
    sent.some((m) => m.to === '+4915112345678'),
    'the phone got the SMS',
  );
  for (const state of ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED']) {
    t.is(
      await page
        .locator(`.timeline-step[data-step="${state}"]`)
        .getAttribute('class')
        .then((c) => c?.includes('reached')),
      true,
      `${state} reached`,
    );
  }
  await shot(page, 'desktop-try-it-delivered');
  step('test OTP DELIVERED');

  // Messages: the log, a message's timeline, the verification (never the code).
  await tab(page, 'Messages');
  const table = page.getByTestId('messages-table');
  await table.getByText('+4915112345678').waitFor();
  await shot(page, 'desktop-messages');
  await table.locator('tbody tr').first().click();
  await page.locator('.timeline-step[data-step="DELIVERED"].reached').waitFor();
  await page.getByRole('link', { name: /^ver_/ }).click();
  await page.getByText('Verification to +4915112345678').waitFor();
  const code = /(?:code is|lautet|code:?)\s*(\w+)/i.exec(sent.find((m) => m.to === '+4915112345678')!.body)?.[1];
  if (code) t.false((await page.locator('main').innerText()).includes(code), 'the OTP code is nowhere on the page');
  await shot(page, 'desktop-verification');

  // Inbound SMS with markup in sender and text: shown as text, nothing runs.
  await phone.publishInbound([{ from: XSS, body: `Your parcel ${XSS} arrives today`, simSlot: 0 }]);
  await tab(page, 'Inbox');
  await page
    .getByTestId('inbox-body')
    .first()
    .filter({ hasText: `Your parcel ${XSS} arrives today` })
    .waitFor({ timeout: 10_000 });
  t.is(await page.getByTestId('inbox-from').first().textContent(), XSS, 'the sender as text');
  await assertNoInjectedMarkup(t, page, 'inbox');
  await shot(page, 'desktop-inbox');
  step('inbox: hostile text stays text');

  // Stats: the chart, drawn by Chart.js, with data in it.
  await tab(page, 'Stats');
  const chart = page.getByTestId('stats-chart');
  await chart.waitFor();
  await eventually(async () => Number(await chart.getAttribute('data-plotted')) > 0, 10_000, 'the chart has data');
  const painted = await eventually(
    async () => {
      const count = await page.evaluate(() => {
        const canvas = (globalThis as unknown as Win).document.querySelector('[data-testid="stats-chart"] canvas');
        if (!canvas || canvas.width === 0) return 0;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
          .data as Uint8ClampedArray;
        let drawn = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) drawn++;
        return drawn;
      });
      return count > 1000 ? count : undefined;
    },
    10_000,
    'the canvas to be drawn',
  );
  t.true(painted > 1000, 'Chart.js drew on the canvas');
  t.regex((await page.getByTestId('tile-conversion').textContent()) ?? '', /%/, 'the conversion rate');
  await shot(page, 'desktop-stats');
  step('chart drawn');

  // Webhooks: the endpoint's attempts with their status codes; disable it.
  await tab(page, 'Webhooks');
  await eventually(async () => receiver.received.length > 0, 10_000, 'a webhook delivery');
  await page.getByRole('button', { name: 'Deliveries' }).click();
  await page.getByTestId('deliveries-table').getByText('200', { exact: true }).first().waitFor({ timeout: 10_000 });
  await shot(page, 'desktop-webhooks');
  await confirm(page, 'Disable', 'Disable');
  await page.locator('[data-status="disabled"]').waitFor();

  // Settings: the API's own message next to the field; then a valid change.
  await tab(page, 'Settings');
  await page.getByLabel('Code length').fill('3');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const codeLength = page.locator('[data-field="codeLength"] .field-error');
  await codeLength.waitFor();
  t.regex((await codeLength.textContent()) ?? '', /codeLength/, 'the API validation message is at its field');
  await shot(page, 'desktop-settings-invalid');
  await page.getByLabel('Code length').fill('8');
  await page.getByLabel('Name', { exact: true }).fill('Console shop (renamed)');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Saved.').waitFor();
  await page.getByTestId('project-name').getByText('Console shop (renamed)').waitFor();

  // Revoke the key: refused at once.
  await tab(page, 'API keys');
  await confirm(page, 'Revoke', 'Revoke key');
  await page.getByTestId('keys-table').waitFor({ state: 'detached' });
  t.is(
    (await fetch(`${url}/v1/status`, { headers: { 'x-smx-api-key': key } })).status,
    401,
    'the revoked key is refused',
  );
  step('webhook disabled, settings validated, key revoked');

  // Metrics, through the console (a bearer header a link cannot send).
  await page.getByRole('navigation', { name: 'Tools' }).getByRole('link', { name: 'Metrics' }).click();
  await page.getByTestId('metrics-text').getByText(/smx_/).first().waitFor();

  // ---- Phone-sized screen --------------------------------------------------------------------
  const mobile = await browser.newPage(PHONE);
  watch(mobile);
  await signIn(mobile, url, adminToken, 'phone');
  await shot(mobile, 'phone-projects');
  await mobile.getByRole('link', { name: /Console shop/ }).click();
  await mobile.getByRole('button', { name: 'Link a phone' }).click();
  await mobile.getByTestId('link-qr').waitFor();
  const box = await mobile.getByTestId('link-qr').boundingBox();
  t.true(
    box !== null && box.width >= 250 && box.x >= 0 && box.x + box.width <= PHONE.width,
    'the QR is large and fits a phone screen',
  );
  JSON.parse(decodeQr(await mobile.getByTestId('link-qr').screenshot()));
  await shot(mobile, 'phone-link-a-phone');
  await tab(mobile, 'Devices');
  await mobile.locator(`tr[data-device-id="${credentials.deviceId}"] [data-online="true"]`).waitFor();
  await assertNoInjectedMarkup(t, mobile, 'devices on a phone');
  await shot(mobile, 'phone-devices');
  await tab(mobile, 'Try it');
  await mobile.getByLabel('SMS text').check();
  await mobile.getByLabel('To (phone number, with country code)').fill('+4915112345679');
  await mobile.getByLabel('Text', { exact: true }).fill('Hello from the console');
  await mobile.getByRole('button', { name: 'Send SMS' }).click();
  await mobile.getByTestId('message-status').filter({ hasText: 'DELIVERED' }).waitFor({ timeout: 15_000 });
  await shot(mobile, 'phone-try-it-delivered');
  for (const [name, file] of [
    ['Messages', 'phone-messages'],
    ['Stats', 'phone-stats'],
    ['Inbox', 'phone-inbox'],
  ] as const) {
    await tab(mobile, name);
    await mobile.locator('.card').first().waitFor();
    if (name === 'Stats')
      await eventually(
        async () => Number(await mobile.getByTestId('stats-chart').getAttribute('data-plotted')) > 0,
        10_000,
        'the chart on a phone',
      );
    else await mobile.locator('table').first().waitFor();
    await shot(mobile, file);
  }
  const overflow = await mobile.evaluate(() => (globalThis as unknown as Win).document.documentElement.scrollWidth);
  t.true(overflow <= PHONE.width + 1, `no sideways scrolling on a phone (${overflow}px wide)`);
  step('phone-sized screens');

  // Sign out: the token leaves the tab.
  await page.bringToFront();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  t.is(
    await page.evaluate(() => (globalThis as unknown as Win).sessionStorage.length),
    0,
    'sign out clears sessionStorage',
  );
  t.is(await page.evaluate(() => (globalThis as unknown as Win).document.cookie), '', 'no cookie');

  // The token only ever travelled in the Authorization header.
  t.false(
    requests.some((r) => r.url.includes(adminToken)),
    'the admin token never appears in a URL',
  );
  const adminCalls = requests.filter((r) => new URL(r.url).pathname.startsWith('/admin/'));
  t.true(adminCalls.length > 20);
  t.true(
    adminCalls.every((r) => r.authorization?.startsWith('Bearer ')),
    'every admin call carries a bearer header',
  );
  t.deepEqual(dialogs, [], 'no script ran from text (no alert)');
  t.deepEqual(failedAssets, [], 'every console asset loaded');
  // The refused sign-in (401) and the refused settings (400) log "Failed to load resource" (expected);
  // anything else is a fault, CSP violations included.
  t.deepEqual(
    browser.problems.filter((p) => !/Failed to load resource: the server responded with a status of 40[01]/.test(p)),
    [],
    'no page error, console error or CSP violation',
  );
  step('done');
});
