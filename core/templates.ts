import type { Language } from './services/projects.js';

/** Built-in OTP templates; a project may override them per language (plugins issue). */
export const BUILT_IN_TEMPLATES: Record<Language, string> = {
  en: 'Your verification code is {{code}}',
  de: 'Ihr Bestätigungscode lautet {{code}}',
  es: 'Tu código de verificación es {{code}}',
  fr: 'Votre code de vérification est {{code}}',
  it: 'Il tuo codice di verifica è {{code}}',
  pt: 'O seu código de verificação é {{code}}',
  ru: 'Ваш код подтверждения: {{code}}',
};

/** Which language a destination country reads by default; others fall back to the project default. */
const LANGUAGE_BY_COUNTRY: Record<string, Language> = {
  DE: 'de',
  AT: 'de',
  CH: 'de',
  LI: 'de',
  ES: 'es',
  MX: 'es',
  AR: 'es',
  CO: 'es',
  CL: 'es',
  PE: 'es',
  VE: 'es',
  EC: 'es',
  GT: 'es',
  CU: 'es',
  BO: 'es',
  DO: 'es',
  HN: 'es',
  PY: 'es',
  SV: 'es',
  NI: 'es',
  CR: 'es',
  PA: 'es',
  UY: 'es',
  FR: 'fr',
  BE: 'fr',
  LU: 'fr',
  MC: 'fr',
  SN: 'fr',
  CI: 'fr',
  IT: 'it',
  SM: 'it',
  PT: 'pt',
  BR: 'pt',
  AO: 'pt',
  MZ: 'pt',
  RU: 'ru',
  BY: 'ru',
  KZ: 'ru',
  KG: 'ru',
};

export function languageForCountry(countryIso: string | null, fallback: Language): Language {
  return (countryIso && LANGUAGE_BY_COUNTRY[countryIso]) || fallback;
}

const PLACEHOLDER = /\{\{\s*(code|pin)\s*\}\}/g;

export function hasCodePlaceholder(template: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(template);
}

/** Puts the code where `{{code}}` (or its alias `{{pin}}`) stands. */
export function renderTemplate(template: string, code: string): string {
  return template.replace(PLACEHOLDER, code);
}
