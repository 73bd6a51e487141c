/**
 * The link-code brute-force limits (issue 10): the per-source budget is taken before a code is
 * compared, so concurrency cannot overrun it; there is no server-wide lockout (a right code from
 * a fresh source always links); a distributed guesser only shrinks each source's budget to one;
 * sources are the client addresses behind trusted proxies (SMX_TRUST_PROXY), IPv6 per /64.
 */
import test from 'ava';
import { CODE_GUESS_LIMITS, LinkTokenService, sourceOf } from '../../core/services/link-tokens.js';
import { createProject, useSmx, type TestSmx } from '../helpers/smx.js';

const current = useSmx(test, 'link-code-limits', { env: { SMX_TRUST_PROXY: 'true' } });
const oneHop = useSmx(test, 'link-code-limits-one-hop', { env: { SMX_TRUST_PROXY: '1' } });

/** Each test uses its own block of source addresses, so tests in this file do not share budgets. */
const link = (smx: TestSmx, forwardedFor: string, body: object) =>
  fetch(`${smx.url}/v1/devices/link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));

async function newCode(smx: TestSmx): Promise<string> {
  const { projectId } = await createProject(smx);
  const created = await smx.admin('POST', `/admin/projects/${projectId}/link-codes`);
  return created.body.data.code as string;
}

const comparisons = (smx: TestSmx) => smx.smx.container.resolve(LinkTokenService).codeComparisons;

/** A 6-digit code that is not `right` (and, with `salt`, differs between guesses). */
const wrongCode = (right: string, salt = 0) => {
  const n = (Number(right) + 1 + salt) % 1_000_000;
  return String(n).padStart(6, '0');
};

test.serial(
  '200 concurrent wrong codes from one source: at most perSource are compared, the rest are 429 before comparing',
  async (t) => {
    const smx = current();
    const right = await newCode(smx);
    const before = comparisons(smx);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => link(smx, '203.0.113.10', { code: wrongCode(right, i), name: 'guess' })),
    );
    const compared = comparisons(smx) - before;
    const statuses = answers.map((a) => a.status);
    t.true(compared <= CODE_GUESS_LIMITS.perSource, `compared ${compared}`);
    t.is(statuses.filter((s) => s === 401).length, compared);
    t.is(statuses.filter((s) => s === 429).length, 200 - compared);
    const limited = answers.find((a) => a.status === 429)!;
    t.is(limited.body.error.code, 'RATE_LIMITED');
    t.true(Number(limited.headers.get('retry-after')) > 0);
    // The source stays limited even for the right code; another source is not.
    t.is((await link(smx, '203.0.113.10', { code: right, name: 'late' })).status, 429);
    t.is((await link(smx, '203.0.113.11', { code: right, name: 'fresh' })).status, 201);
  },
);

test.serial(
  'many wrong codes from many sources never lock out a right code from a fresh source (no server-wide lockout)',
  async (t) => {
    const smx = current();
    // Well past the old server-wide limit (200) and past the pressure threshold.
    const failures = await Promise.all(
      Array.from({ length: 30 }, (_, s) => s).flatMap((s) =>
        Array.from({ length: CODE_GUESS_LIMITS.perSource }, (_, i) =>
          link(smx, `198.51.100.${s + 1}`, { code: String(100_000 + s * 100 + i), name: 'guess' }),
        ),
      ),
    );
    t.true(
      failures.filter((f) => f.status === 401).length >= CODE_GUESS_LIMITS.pressureAfter,
      'the distributed guesser got its wrong codes compared',
    );
    t.true(failures.every((f) => f.status === 401 || f.status === 429));
    const right = await newCode(smx);
    const linked = await link(smx, '192.0.2.77', { code: right, name: 'real phone' });
    t.is(linked.status, 201, JSON.stringify(linked.body));
    // And again for another project's code from another fresh source.
    t.is((await link(smx, '192.0.2.78', { code: await newCode(smx), name: 'real phone 2' })).status, 201);
  },
);

test.serial(
  'under distributed guessing each source gets one attempt per window: a fresh source still links, a source that already missed waits',
  async (t) => {
    const smx = current();
    // The previous test left the server-wide count over the pressure threshold for this window.
    const right = await newCode(smx);
    t.is((await link(smx, '192.0.2.90', { code: wrongCode(right), name: 'typo' })).status, 401);
    const second = await link(smx, '192.0.2.90', { code: right, name: 'retry' });
    t.is(second.status, 429, 'one attempt per source while the server is being guessed at');
    t.is((await link(smx, '192.0.2.91', { code: right, name: 'fresh' })).status, 201);
    // A right code gives its attempt back: the same fresh source can link another phone.
    t.is((await link(smx, '192.0.2.91', { code: await newCode(smx), name: 'fresh again' })).status, 201);
  },
);

test.serial('X-Forwarded-For is honoured with SMX_TRUST_PROXY; IPv6 sources count per /64', async (t) => {
  const smx = current();
  const right = await newCode(smx);
  // One /64: every address in it is the same source.
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      link(smx, `2001:db8:1:2::${(i + 1).toString(16)}`, { code: wrongCode(right, i), name: 'v6' }),
    ),
  );
  t.true(answers.filter((a) => a.status === 401).length <= CODE_GUESS_LIMITS.perSource);
  t.true(answers.some((a) => a.status === 429));
  t.is((await link(smx, '2001:db8:1:3::1', { code: right, name: 'another /64' })).status, 201);
});

test('SMX_TRUST_PROXY as a hop count: the address one proxy back is the source, whatever the client wrote before it', async (t) => {
  const smx = oneHop();
  const right = await newCode(smx);
  const answers: number[] = [];
  for (let i = 0; i < CODE_GUESS_LIMITS.perSource; i++)
    answers.push((await link(smx, `10.9.${i}.1, 203.0.113.50`, { code: wrongCode(right, i), name: 'guess' })).status);
  t.deepEqual([...new Set(answers)], [401]);
  // Forged entries before the trusted hop change nothing: still the same source.
  t.is((await link(smx, '198.18.0.1, 203.0.113.50', { code: right, name: 'forged' })).status, 429);
  t.is((await link(smx, '203.0.113.50, 203.0.113.51', { code: right, name: 'next client' })).status, 201);
});

test('sourceOf: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 per /64, junk as unknown', (t) => {
  t.is(sourceOf('203.0.113.5'), '203.0.113.5');
  t.is(sourceOf('::ffff:203.0.113.5'), '203.0.113.5');
  t.is(sourceOf('2001:db8:aa:bb:1:2:3:4'), '2001:db8:aa:bb::/64');
  t.is(sourceOf('2001:db8:aa:bb::9'), '2001:db8:aa:bb::/64');
  t.is(sourceOf(undefined), 'unknown');
  t.is(sourceOf('not an ip'), 'unknown');
});
