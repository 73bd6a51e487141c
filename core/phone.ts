import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { apiError } from './errors.js';

export interface ParsedPhone {
  /** E.164, e.g. +4915112345678 */
  e164: string;
  /** ISO 3166-1 alpha-2 of the number's region, or null when the plan is non-geographic. */
  countryIso: string | null;
  valid: boolean;
}

/**
 * Reads `to` as E.164, or as a national number of `countryCode`. A number that is not valid and
 * dialable (full metadata, not just length rules) is refused with INVALID_PHONE_NUMBER.
 */
export function parsePhone(to: string, countryCode?: string, field = 'to'): ParsedPhone {
  const parsed = parsePhoneNumberFromString(
    to.trim(),
    countryCode ? { defaultCountry: countryCode.toUpperCase() as CountryCode } : undefined,
  );
  if (!parsed || !parsed.isValid()) {
    const hint = to.trim().startsWith('+') || countryCode ? '' : ' Use E.164 (+4915112345678) or give countryCode.';
    throw apiError('INVALID_PHONE_NUMBER', {
      details: [{ field, message: `"${to}" is not a valid, dialable phone number.${hint}` }],
    });
  }
  return { e164: parsed.number, countryIso: parsed.country ?? null, valid: true };
}
