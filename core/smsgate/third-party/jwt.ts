/**
 * HS256 JSON Web Tokens (RFC 7519) as SMSGate issues them: claims `jti` `iss` `sub` `scopes` `iat`
 * `exp`. Pure: signing and checking only; revocation is the caller's. No library: a JWT with
 * one fixed algorithm is a few lines, and a fixed algorithm closes the `alg` confusion attacks.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export interface JwtClaims {
  jti: string;
  iss: string;
  /** The SMX project. */
  sub: string;
  scopes: string[];
  iat: number;
  exp: number;
  /** The API key the token was issued with: revoking the key ends its tokens. */
  kid: string;
  /** Refresh tokens: the access token they were issued with (revoking it ends both). */
  ati?: string;
  /** Refresh tokens: the scopes the refreshed access token gets. */
  grant?: string[];
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** The signing key: derived from the server secret for this use only (as the sealing key is). */
export function jwtKey(serverSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, 'smx', 'smx:smsgate-jwt:v1', 32));
}

export function signJwt(key: Buffer, claims: JwtClaims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', key).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** The claims of a token signed with `key` and not expired at `now`, else null. */
export function verifyJwt(key: Buffer, token: string, now = new Date()): JwtClaims | null {
  if (token.length > 4096) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return null;
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const c = claims as Partial<JwtClaims>;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.jti !== 'string' ||
    typeof c.sub !== 'string' ||
    typeof c.kid !== 'string'
  )
    return null;
  if (!Array.isArray(c.scopes) || !c.scopes.every((s) => typeof s === 'string')) return null;
  if (typeof c.exp !== 'number' || c.exp * 1000 <= now.getTime()) return null;
  return c as JwtClaims;
}
