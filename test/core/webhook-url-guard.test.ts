/** The webhook SSRF guard's address rules, the retry schedule, and the webhook config variables. */
import { networkInterfaces } from 'node:os';
import test from 'ava';
import { ConfigError, loadConfig } from '../../core/config.js';
import { retryDelayMs, WEBHOOK_ATTEMPTS } from '../../core/webhooks/retry.js';
import {
  addressRefusal,
  canonicalAddress,
  isBlockedAddress,
  ownInterfaceAddresses,
  urlProblem,
} from '../../core/webhooks/url-guard.js';

/**
 * Every entry of the IANA IPv4 and IPv6 Special-Purpose Address Registries (as of 2025), with
 * addresses inside it: the first, one in the middle, the last where the block is small. Some
 * entries are "globally reachable" anycast services in IANA's table (192.0.0.9, 192.0.0.10,
 * 2001:1::1-3, AS112): a webhook has no business there, so they are refused as well.
 */
const IANA_SPECIAL: Array<[block: string, addresses: string[]]> = [
  ['0.0.0.0/8 "this network"', ['0.0.0.0', '0.1.2.3', '0.255.255.255']],
  ['10.0.0.0/8 private', ['10.0.0.0', '10.1.2.3', '10.255.255.255']],
  ['100.64.0.0/10 shared (CGNAT)', ['100.64.0.0', '100.100.100.200', '100.127.255.255']],
  ['127.0.0.0/8 loopback', ['127.0.0.1', '127.1.2.3', '127.255.255.255']],
  ['169.254.0.0/16 link-local (metadata)', ['169.254.0.1', '169.254.169.254', '169.254.255.255']],
  ['172.16.0.0/12 private', ['172.16.0.0', '172.20.1.1', '172.31.255.255']],
  ['192.0.0.0/24 IETF protocol assignments', ['192.0.0.0', '192.0.0.100', '192.0.0.255']],
  ['192.0.0.0/29 IPv4 service continuity (DS-Lite)', ['192.0.0.1', '192.0.0.7']],
  ['192.0.0.8/32 IPv4 dummy address', ['192.0.0.8']],
  ['192.0.0.9/32 PCP anycast', ['192.0.0.9']],
  ['192.0.0.10/32 TURN anycast', ['192.0.0.10']],
  ['192.0.0.170/32, 192.0.0.171/32 NAT64/DNS64 discovery', ['192.0.0.170', '192.0.0.171']],
  ['192.0.2.0/24 documentation (TEST-NET-1)', ['192.0.2.0', '192.0.2.2', '192.0.2.255']],
  ['192.31.196.0/24 AS112-v4', ['192.31.196.1']],
  ['192.52.193.0/24 AMT', ['192.52.193.1']],
  ['192.88.99.0/24 deprecated 6to4 relay anycast', ['192.88.99.1']],
  ['192.168.0.0/16 private', ['192.168.0.1', '192.168.255.255']],
  ['192.175.48.0/24 direct delegation AS112', ['192.175.48.1']],
  ['198.18.0.0/15 benchmarking', ['198.18.0.1', '198.19.255.255']],
  ['198.51.100.0/24 documentation (TEST-NET-2)', ['198.51.100.1', '198.51.100.255']],
  ['203.0.113.0/24 documentation (TEST-NET-3)', ['203.0.113.1', '203.0.113.255']],
  ['224.0.0.0/4 multicast', ['224.0.0.1', '239.255.255.255']],
  ['240.0.0.0/4 reserved', ['240.0.0.1', '255.255.255.254']],
  ['255.255.255.255/32 limited broadcast', ['255.255.255.255']],
  ['::1/128 loopback', ['::1', '0:0:0:0:0:0:0:1']],
  ['::/128 unspecified', ['::', '0:0:0:0:0:0:0:0']],
  ['::/96 IPv4-compatible (deprecated)', ['::127.0.0.1', '::7f00:1', '::8.8.8.8', '::102:304', '::ffff']],
  [
    '::ffff:0:0/96 IPv4-mapped (judged as its IPv4)',
    ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:192.0.2.1', '::ffff:10.0.0.1'],
  ],
  ['::ffff:0:0:0/96 IPv4-translated', ['::ffff:0:8.8.8.8']],
  ['64:ff9b::/96 IPv4-IPv6 translation', ['64:ff9b::8.8.8.8', '64:ff9b::10.0.0.1', '64:ff9b::7f00:1']],
  ['64:ff9b:1::/48 local-use IPv4/IPv6 translation', ['64:ff9b:1::1', '64:ff9b:1:ffff::1']],
  ['100::/64 discard-only', ['100::', '100::1', '100::ffff:ffff:ffff:ffff']],
  ['100:0:0:1::/64 dummy IPv6 prefix', ['100:0:0:1::1']],
  ['2001::/23 IETF protocol assignments', ['2001:0:0:1::', '2001:1ff::1']],
  ['2001::/32 Teredo', ['2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2']],
  ['2001:1::1/128, 2001:1::2/128, 2001:1::3/128 PCP / TURN / DNS-SD anycast', ['2001:1::1', '2001:1::2', '2001:1::3']],
  ['2001:2::/48 benchmarking', ['2001:2::1', '2001:2:0:ffff::1']],
  ['2001:3::/32 AMT', ['2001:3::1']],
  ['2001:4:112::/48 AS112-v6', ['2001:4:112::1']],
  ['2001:10::/28 deprecated ORCHID', ['2001:10::1']],
  ['2001:20::/28 ORCHIDv2', ['2001:20::1', '2001:2f::1']],
  ['2001:30::/28 drone remote ID', ['2001:30::1']],
  ['2001:db8::/32 documentation', ['2001:db8::1', '2001:db8:ffff::1']],
  ['2002::/16 6to4', ['2002::1', '2002:7f00:1::1', '2002:c000:0204::1']],
  ['2620:4f:8000::/48 direct delegation AS112', ['2620:4f:8000::1']],
  ['3fff::/20 documentation', ['3fff::1', '3fff:fff::1']],
  ['5f00::/16 segment routing SIDs', ['5f00::1']],
  ['fc00::/7 unique-local', ['fc00::1', 'fd00::2', 'fd00:ec2::254']],
  ['fe80::/10 link-local', ['fe80::1', 'febf::1']],
  ['fec0::/10 site-local (deprecated)', ['fec0::1']],
  ['ff00::/8 multicast', ['ff02::1', 'ff0e::1']],
];

test('every IANA special-purpose IPv4 and IPv6 block is refused (a table over the registries)', (t) => {
  for (const [block, addresses] of IANA_SPECIAL) {
    for (const address of addresses) t.true(isBlockedAddress(address), `${address} (${block}) must be refused`);
  }
});

test('ordinary public addresses are allowed, as are IPv4-mapped forms of them', (t) => {
  for (const address of [
    '8.8.8.8',
    '1.1.1.1',
    '9.9.9.9',
    '172.32.0.1',
    '100.128.0.1',
    '192.0.3.1',
    '198.51.99.1',
    '203.0.114.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
  ]) {
    t.is(addressRefusal(address), null, address);
  }
});

test("an address of the server's own interfaces is refused, whatever its range", (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal)
    .map((i) => i!.address);
  t.true(external.length > 0, 'the test machine has a non-loopback interface');
  for (const address of external) {
    t.true(isBlockedAddress(address), address);
    t.true(ownInterfaceAddresses().has(canonicalAddress(address)!), `${address} is in the list of own addresses`);
  }
  // A public address that is the server's own is refused as well (here: pretend 8.8.8.8 is ours).
  t.is(addressRefusal('8.8.8.8', new Set(['8.8.8.8'])), 'own-interface');
  t.is(addressRefusal('::ffff:8.8.8.8', new Set(['8.8.8.8'])), 'own-interface', 'mapped forms too');
  t.is(
    addressRefusal('2606:4700:4700:0:0:0:0:1111', new Set([canonicalAddress('2606:4700:4700::1111')!])),
    'own-interface',
    'any spelling of it',
  );
});

test('what is not an IP literal is refused', (t) => {
  for (const address of ['not-an-ip', '', '127.1', '0x7f000001', '1.2.3.4.5', 'fe80::1%eth0'])
    t.true(isBlockedAddress(address), address);
});

test('loopback, private, link-local, CGNAT, unique-local, metadata and mapped forms are blocked; public addresses are not', (t) => {
  for (const address of [
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'fc00::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1',
    'not-an-ip',
  ])
    t.true(isBlockedAddress(address), address);
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    t.false(isBlockedAddress(address), address);
});

test('urlProblem: scheme, credentials and literal private hosts, lifted by allowPrivate', (t) => {
  const strict = { allowPrivate: false, httpsOnly: true };
  t.is(urlProblem('https://hooks.example.com/x', strict), null);
  t.regex(urlProblem('http://hooks.example.com/x', strict)!, /https/);
  t.regex(urlProblem('https://user:pw@hooks.example.com/x', strict)!, /credentials/);
  t.regex(urlProblem('https://[::1]/x', strict)!, /loopback/);
  t.regex(urlProblem('https://192.0.2.1/x', strict)!, /special-purpose/);
  t.regex(urlProblem('https://[2002::1]/x', strict)!, /special-purpose/);
  t.regex(urlProblem('https://[::127.0.0.1]/x', strict)!, /special-purpose/);
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
  t.is(
    retryDelayMs(3, 10_000, 'evt_x'),
    retryDelayMs(3, 10_000, 'evt_x'),
    'the same delay for the same event and attempt',
  );
});

test('SMX_WEBHOOK_ALLOW_PRIVATE and SMX_WEBHOOK_RETRY_BASE_MS are read and checked', (t) => {
  t.false(loadConfig({}).webhookAllowPrivate);
  t.is(loadConfig({}).webhookRetryBaseMs, 10_000);
  t.true(loadConfig({ SMX_WEBHOOK_ALLOW_PRIVATE: 'true' }).webhookAllowPrivate);
  t.is(loadConfig({ SMX_WEBHOOK_RETRY_BASE_MS: '250' }).webhookRetryBaseMs, 250);
  t.throws(() => loadConfig({ SMX_WEBHOOK_ALLOW_PRIVATE: 'maybe' }), {
    instanceOf: ConfigError,
    message: /SMX_WEBHOOK_ALLOW_PRIVATE/,
  });
  t.throws(() => loadConfig({ SMX_WEBHOOK_RETRY_BASE_MS: '0' }), {
    instanceOf: ConfigError,
    message: /SMX_WEBHOOK_RETRY_BASE_MS/,
  });
});
