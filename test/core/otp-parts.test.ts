import test from 'ava';
import { codeFitsType, generateCode, normalizeCode } from '../../core/otp-codes.js';
import { parsePhone } from '../../core/phone.js';
import { countParts } from '../../core/sms-parts.js';
import { hasCodePlaceholder, languageForCountry, renderTemplate } from '../../core/templates.js';
import { Sealer } from '../../core/seal.js';
import { isApiError } from '../../core/errors.js';

test('generated codes use only their alphabet and length', (t) => {
  for (let i = 0; i < 200; i++) {
    t.regex(generateCode('numeric', 6), /^\d{6}$/);
    t.regex(generateCode('alpha', 12), /^[A-HJ-NP-Z]{12}$/);
    t.regex(generateCode('alphanumeric', 4), /^[2-9A-HJ-NP-Z]{4}$/);
  }
  t.true(codeFitsType('0123', 'numeric'));
  t.false(codeFitsType('12a4', 'numeric'));
  t.true(codeFitsType('abcd', 'alpha'));
  t.is(normalizeCode(' ab12 '), 'AB12');
});

test('phone numbers: E.164, national with a country, invalid ones refused with INVALID_PHONE_NUMBER', (t) => {
  t.deepEqual(parsePhone('+4915112345678'), { e164: '+4915112345678', countryIso: 'DE', valid: true });
  t.is(parsePhone('(415) 555-2671', 'US').e164, '+14155552671');
  const error = t.throws(() => parsePhone('12345'));
  t.true(isApiError(error));
  t.is((error as { code?: string }).code, 'INVALID_PHONE_NUMBER');
});

test('templates: placeholder check, {{pin}} alias, language by country', (t) => {
  t.true(hasCodePlaceholder('Code {{ code }}'));
  t.true(hasCodePlaceholder('PIN {{pin}}'));
  t.false(hasCodePlaceholder('no code'));
  t.is(renderTemplate('{{code}}-{{pin}}', '1234'), '1234-1234');
  t.is(languageForCountry('BR', 'en'), 'pt');
  t.is(languageForCountry('JP', 'de'), 'de');
  t.is(languageForCountry(null, 'fr'), 'fr');
});

test('SMS parts: GSM-7 160/153 with double-counted extension characters, UCS-2 70/67', (t) => {
  t.deepEqual(countParts('a'.repeat(160)), { encoding: 'GSM-7', units: 160, parts: 1 });
  t.is(countParts('a'.repeat(161)).parts, 2);
  t.is(countParts('a'.repeat(306)).parts, 2);
  t.is(countParts('a'.repeat(307)).parts, 3);
  t.deepEqual(countParts('€'.repeat(80)), { encoding: 'GSM-7', units: 160, parts: 1 });
  t.is(countParts('€'.repeat(81)).parts, 2);
  t.deepEqual(countParts('ж'.repeat(70)), { encoding: 'UCS-2', units: 70, parts: 1 });
  t.is(countParts('ж'.repeat(71)).parts, 2);
  t.is(countParts('ж'.repeat(134)).parts, 2);
  t.is(countParts('ж'.repeat(135)).parts, 3);
  t.is(countParts('😀').units, 2);
});

test('SMS parts: a character is never split across parts (escape pairs, surrogate pairs), as a phone splits', (t) => {
  // 306 septets fit 2 × 153 only if € (2 septets) could straddle the boundary at septet 153.
  t.deepEqual(countParts(`${'a'.repeat(152)}€${'a'.repeat(152)}`), { encoding: 'GSM-7', units: 306, parts: 3 });
  t.is(countParts(`${'a'.repeat(151)}€${'a'.repeat(153)}`).parts, 2, '€ ends the first part exactly');
  t.deepEqual(countParts('😀'.repeat(67)), { encoding: 'UCS-2', units: 134, parts: 3 }, '33 emoji per 67-unit part');
  t.is(countParts(`${'a'.repeat(66)}😀${'a'.repeat(66)}`).parts, 3);
  t.is(countParts(`${'ж'.repeat(65)}😀${'ж'.repeat(67)}`).parts, 2, 'the pair ends the first part exactly');
  t.deepEqual(
    countParts(`${'ж'.repeat(65)}👍🏽${'ж'.repeat(65)}`),
    { encoding: 'UCS-2', units: 134, parts: 3 },
    'an emoji with a skin tone is one character',
  );
  t.is(countParts(`${'ж'.repeat(63)}👍🏽${'ж'.repeat(67)}`).parts, 2, 'it ends the first part exactly');
});

test('sealed bodies open only with the same secret and are not plain text', (t) => {
  const sealer = new Sealer('secret-one-0123456789');
  const sealed = sealer.seal('Your code is 482913');
  t.false(sealed.includes('482913'));
  t.is(sealer.open(sealed), 'Your code is 482913');
  t.not(sealer.seal('x'), sealer.seal('x'), 'a fresh IV each time');
  t.throws(() => new Sealer('secret-two-0123456789').open(sealed));
});
