/** The webhook SSRF guard's address rules, the retry schedule, and the webhook config variables. */
import test from 'ava';
import { ConfigError, loadConfig } from '../../core/config.js';
import { retryDelayMs, WEBHOOK_ATTEMPTS } from '../../core/webhooks/retry.js';
import { isBlockedAddress, urlProblem } from '../../core/webhooks/url-guard.js';

test('loopback, private, link-local, CGNAT, unique-local, metadata and mapped forms are blocked; public addresses are not', (t) => {
  for (const address of [
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::10.0.0.1', 'not-an-ip',
  ]) t.true(isBlockedAddress(address), address);
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) t.false(isBlockedAddress(address), address);
});

test('urlProblem: scheme, credentials and literal private hosts, lifted by allowPrivate', (t) => {
  const strict = { allowPrivate: false, httpsOnly: true };
  t.is(urlProblem('https://hooks.example.com/x', strict), null);
  t.regex(urlProblem('http://hooks.example.com/x', strict)!, /https/);
  t.regex(urlProblem('https://user:pw@hooks.example.com/x', strict)!, /credentials/);
  t.regex(urlProblem('https://[::1]/x', strict)!, /loopback/);
  t.regex(urlProblem('not a url', strict)!, /absolute/);
  t.is(urlProblem('http://127.0.0.1:9/x', { allowPrivate: true, httpsOnly: false }), null);
  t.is(urlProblem('http://hooks.example.com/x', { allowPrivate: false, httpsOnly: false }), null);
});

test('the retry schedule grows, is capped, and spans about a day at the default base', (t) => {
  const delays = Array.from({ length: WEBHOOK_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1, 10_000, 'evt_x'));
  const total = delays.reduce((a, b) => a + b, 0);
  t.true(total > 20 * 3_600_000 && total < 27 * 3_600_000, `total ${total / 3_600_000} h`);
  t.true(delays.every((d) => d <= 10_000 * 1440 * 1.2));
  t.true(delays[0]! >= 8_000 && delays[0]! <= 12_000);
  t.is(retryDelayMs(3, 10_000, 'evt_x'), retryDelayMs(3, 10_000, 'evt_x'), 'the same delay for the same event and attempt');
});

test('SMX_WEBHOOK_ALLOW_PRIVATE and SMX_WEBHOOK_RETRY_BASE_MS are read and checked', (t) => {
  t.false(loadConfig({}).webhookAllowPrivate);
  t.is(loadConfig({}).webhookRetryBaseMs, 10_000);
  t.true(loadConfig({ SMX_WEBHOOK_ALLOW_PRIVATE: 'true' }).webhookAllowPrivate);
  t.is(loadConfig({ SMX_WEBHOOK_RETRY_BASE_MS: '250' }).webhookRetryBaseMs, 250);
  t.throws(() => loadConfig({ SMX_WEBHOOK_ALLOW_PRIVATE: 'maybe' }), { instanceOf: ConfigError, message: /SMX_WEBHOOK_ALLOW_PRIVATE/ });
  t.throws(() => loadConfig({ SMX_WEBHOOK_RETRY_BASE_MS: '0' }), { instanceOf: ConfigError, message: /SMX_WEBHOOK_RETRY_BASE_MS/ });
});
