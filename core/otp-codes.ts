import { randomInt } from 'node:crypto';

/** What a one-time code is made of. */
export const CODE_TYPES = ['numeric', 'alpha', 'alphanumeric'] as const;
export type CodeType = (typeof CODE_TYPES)[number];

// Letters without look-alikes (no I, O); digits without 0 and 1 where letters are mixed in.
const ALPHABETS: Record<CodeType, string> = {
  numeric: '0123456789',
  alpha: 'ABCDEFGHJKLMNPQRSTUVWXYZ',
  alphanumeric: '23456789ABCDEFGHJKLMNPQRSTUVWXYZ',
};

/** What a caller-supplied code of each type may contain (the full ranges: look-alikes are the caller's choice). */
const SUPPLIED: Record<CodeType, RegExp> = {
  numeric: /^[0-9]+$/,
  alpha: /^[A-Za-z]+$/,
  alphanumeric: /^[A-Za-z0-9]+$/,
};

/** A code from the CSPRNG, uniform over the type's alphabet. */
export function generateCode(type: CodeType, length: number): string {
  const alphabet = ALPHABETS[type];
  let code = '';
  for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}

/** True when a caller-supplied code fits the type (length is checked by the caller). */
export function codeFitsType(code: string, type: CodeType): boolean {
  return SUPPLIED[type].test(code);
}

/** The form codes are hashed in: letters compared case-insensitively, surrounding spaces ignored. */
export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

/** What is wrong with a caller-supplied code for this type and (given) length; empty when it fits. */
export function suppliedCodeProblems(code: string, type: CodeType, length: number | undefined): string[] {
  const normalized = normalizeCode(code);
  const problems: string[] = [];
  if (!codeFitsType(normalized, type)) problems.push(`code must contain only ${type} characters`);
  if (length !== undefined && normalized.length !== length)
    problems.push(`code must be ${length} characters long (codeLength)`);
  if (normalized.length < 4 || normalized.length > 12) problems.push('code must be 4 to 12 characters long');
  return problems;
}
