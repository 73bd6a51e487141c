/**
 * Concurrent verifies of one challenge (issue 10): of N concurrent right codes exactly one
 * verifies and every other answers VERIFICATION_ALREADY_VERIFIED (never VERIFICATION_FAILED,
 * which would tell a user who typed the right code that they used up their attempts).
 */
import test from 'ava';
import { createProject, linkNewDevice, useSmx, type TestSmx } from '../helpers/smx.js';

const current = useSmx(test, 'otp-verify-race');

async function projectWithDevice(smx: TestSmx): Promise<string> {
  const { projectId, key } = await createProject(smx);
  // Linked but not connected: the challenge is created and its SMS waits for the phone.
  await linkNewDevice(smx, projectId);
  return key;
}

test('20 concurrent right codes: exactly one 200 verified, the other 19 are 409 VERIFICATION_ALREADY_VERIFIED', async (t) => {
  const smx = current();
  const key = await projectWithDevice(smx);
  // Several rounds: the old race showed up in some of them, not every time.
  for (let round = 0; round < 5; round++) {
    const sent = await smx.api(key, 'POST', '/v1/send-otp', {
      to: `+1415555013${round}`,
      code: '482913',
      maxAttempts: 5,
    });
    t.is(sent.status, 201, JSON.stringify(sent.body));
    const id = sent.body.data.verificationId;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '482913' })),
    );
    const verified = answers.filter((a) => a.status === 200);
    t.is(verified.length, 1, `round ${round}: ${answers.map((a) => a.status).join(',')}`);
    t.true(verified[0]!.body.data.verified);
    const losers = answers.filter((a) => a.status !== 200);
    t.deepEqual(
      [...new Set(losers.map((a) => `${a.status} ${a.body.error.code}`))],
      ['409 VERIFICATION_ALREADY_VERIFIED'],
      `round ${round}`,
    );
    const read = await smx.api(key, 'GET', `/v1/verifications/${id}`);
    t.is(read.body.data.status, 'VERIFIED');
  }
});

test('a right code and wrong codes racing for the last attempts: the right one that got an attempt verifies', async (t) => {
  const smx = current();
  const key = await projectWithDevice(smx);
  for (let round = 0; round < 5; round++) {
    const sent = await smx.api(key, 'POST', '/v1/send-otp', {
      to: `+1415555014${round}`,
      code: '735102',
      maxAttempts: 3,
    });
    const id = sent.body.data.verificationId;
    // One right code among wrong ones, all at once: every answer is consistent with one order of the attempts.
    const guesses = ['000001', '735102', '000002', '000003', '000004', '000005'];
    const answers = await Promise.all(
      guesses.map((otp) => smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp })),
    );
    const right = answers[1]!;
    const read = (await smx.api(key, 'GET', `/v1/verifications/${id}`)).body.data;
    if (right.status === 200) {
      t.true(right.body.data.verified, `round ${round}`);
      t.is(read.status, 'VERIFIED', `round ${round}: a right code that was compared verifies the challenge`);
    } else {
      // The three attempts went to wrong codes before it.
      t.is(right.body.error.code, 'VERIFICATION_FAILED', `round ${round}`);
      t.is(read.status, 'FAILED');
    }
    const compared = answers.filter((a) => a.status === 200).length;
    t.true(compared <= 3, `round ${round}: never more than maxAttempts compared`);
    for (const a of answers.filter((x) => x.status !== 200)) {
      t.is(
        a.body.error.code,
        read.status === 'VERIFIED' ? 'VERIFICATION_ALREADY_VERIFIED' : 'VERIFICATION_FAILED',
        `round ${round}`,
      );
    }
  }
});
