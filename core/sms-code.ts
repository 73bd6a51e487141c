/**
 * Finds the verification code in a received SMS (rental messages carry it as `code`).
 *
 * Two passes, first match wins:
 * 1. After a keyword ("code", "PIN", "OTP", "password", "código", ...): 4-8 letters/digits with at
 *    least one digit ("code: AB12CD", "Your code is 482913"), or two groups of 3 digits ("123-456").
 * 2. Otherwise a free-standing run of 4-8 digits that does not look like part of a phone number,
 *    a date, a time, an amount or a year: runs glued to other digits by `.,:/-` or spaces, runs
 *    after `+` or a currency sign, before `%` or a currency word, and 19xx/20xx are skipped.
 * Returns null when nothing fits; a wrong guess is worse than none.
 */
export function extractCode(text: string): string | null {
  return keywordCode(text) ?? freeStandingCode(text);
}

const KEYWORD =
  /\b(?:verification|security|confirmation|access|login|one[- ]time)?\s*(?:code|pin|otp|passcode|password|kod|c[oó]digo|codice|token)\b(?:\s*(?:is|ist|es|est|é|:|=|#|-)){0,3}\s*([A-Za-z0-9]{4,8}|\d{3}[- ]\d{3})(?![A-Za-z0-9])/giu;

function keywordCode(text: string): string | null {
  for (const match of text.matchAll(KEYWORD)) {
    const candidate = match[1]!;
    if (/\d/.test(candidate)) return candidate.replace(/[- ]/g, '');
  }
  return null;
}

const SEPARATORS = '.,:/-';
const CURRENCY_SIGNS = '+$€£¥₽₹#';
const CURRENCY_WORDS = /^\s?(?:usd|eur|gbp|rub|inr|dollars?|euros?|pounds?)\b/i;
const CURRENCY_BEFORE = /(?:usd|eur|gbp|rub|inr)\s?$/i;

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function freeStandingCode(text: string): string | null {
  for (const match of text.matchAll(/\d+/g)) {
    const run = match[0];
    const start = match.index!;
    const end = start + run.length;
    if (run.length < 4 || run.length > 8) continue;
    if (run.length === 4 && /^(19|20)\d\d$/.test(run)) continue;
    const before = text[start - 1];
    const after = text[end];
    // Letters glued on either side: an identifier ("AB1234"), not a code.
    if ((before && /\p{L}/u.test(before)) || (after && /\p{L}/u.test(after))) continue;
    if (before !== undefined && CURRENCY_SIGNS.includes(before)) continue;
    if (after === '%' || CURRENCY_WORDS.test(text.slice(end)) || CURRENCY_BEFORE.test(text.slice(0, start))) continue;
    // Part of a longer number: 1.234,56 / 12/05/2024 / 10:30 / 555-1234 / +1 415 555 2671.
    if (before !== undefined && (SEPARATORS.includes(before) || before === ' ') && isDigit(text[start - 2])) continue;
    if (after !== undefined && (SEPARATORS.includes(after) || after === ' ') && isDigit(text[end + 1])) continue;
    return run;
  }
  return null;
}
