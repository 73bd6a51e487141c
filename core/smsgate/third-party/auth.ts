import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { inject, injectable } from '../../di.js';
import type { RuntimeConfig } from '../../secrets.js';
import { ApiKeyService } from '../../services/api-keys.js';
import { TOKENS } from '../../tokens.js';
import { invalid, SmsGateError, unauthorized } from './errors.js';
import { jwtKey, signJwt, verifyJwt, type JwtClaims } from './jwt.js';

/** The scopes of SMSGate's JWTs (contract §6 TokenRequest); Basic auth and API keys have `all:any`. */
export const JWT_SCOPES = [
  'devices:list',
  'devices:delete',
  'inbox:list',
  'inbox:refresh',
  'logs:read',
  'messages:send',
  'messages:read',
  'messages:list',
  'messages:cancel',
  'messages:export',
  'settings:read',
  'settings:write',
  'tokens:manage',
  'webhooks:list',
  'webhooks:write',
  'webhooks:delete',
] as const;
export type JwtScope = (typeof JWT_SCOPES)[number];
export const ALL_SCOPES = 'all:any';
/** The one scope of a refresh token. */
export const REFRESH_SCOPE = 'tokens:refresh';

/** Access token lifetime when the request gives none (SMSGate's default). */
export const TOKEN_TTL_DEFAULT_S = 15 * 60;
/** Longest access token SMX issues. */
export const TOKEN_TTL_MAX_S = 24 * 3600;
/** Refresh token lifetime. */
export const REFRESH_TTL_S = 30 * 24 * 3600;
const ISSUER = 'smx';

/** Who calls: the project, the API key behind the credential, and what it may do. */
export interface Principal {
  projectId: string;
  keyId: string;
  scopes: readonly string[];
  /** Set when the credential is a JWT. */
  token?: JwtClaims;
}

/** How route modules of this surface authorise a request (the HTTP layer's): the caller, once it has `scope` (403 otherwise). */
export type Authorise = (request: FastifyRequest, scope: JwtScope) => Principal;

export interface TokenResponse {
  id: string;
  token_type: 'Bearer';
  access_token: string;
  refresh_token: string;
  expires_at: string;
}

/** A 21-character id of nanoid's alphabet (SMSGate's id shape). */
export function nanoid(): string {
  return randomBytes(16).toString('base64url').slice(0, 21);
}

/**
 * Credentials of the SMSGate surface: HTTP Basic with the project id (or the API key's id) as the
 * user name and an API key of that project as the password, `Bearer <API key>`, or `Bearer <JWT>`
 * issued by `POST /auth/token` (HS256 under a key derived from the server secret). A JWT dies
 * with its API key, when it or its access token is revoked, and at `exp`.
 */
@injectable()
export class SmsGateAuth {
  private readonly key: Buffer;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) config: RuntimeConfig,
    private readonly keys: ApiKeyService,
  ) {
    this.key = jwtKey(config.secret);
  }

  /** The principal of an `Authorization` header; 401 `Unauthorized` otherwise. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized();
      const user = decoded.slice(0, colon).trim();
      const owner = await this.keys.authenticate(decoded.slice(colon + 1).trim());
      if (!owner || (user !== owner.projectId && user !== owner.keyId)) throw unauthorized();
      return { projectId: owner.projectId, keyId: owner.keyId, scopes: [ALL_SCOPES] };
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!bearer) throw unauthorized();
    if (bearer.startsWith('smx_')) {
      const owner = await this.keys.authenticate(bearer);
      if (!owner) throw unauthorized();
      return { projectId: owner.projectId, keyId: owner.keyId, scopes: [ALL_SCOPES] };
    }
    const claims = verifyJwt(this.key, bearer);
    if (!claims || !(await this.alive(claims))) throw unauthorized();
    return { projectId: claims.sub, keyId: claims.kid, scopes: claims.scopes, token: claims };
  }

  /** 403 `scope required: …` unless the principal has `scope`. */
  require(principal: Principal, scope: JwtScope): void {
    if (!principal.scopes.includes(ALL_SCOPES) && !principal.scopes.includes(scope))
      throw new SmsGateError(403, `scope required: ${scope}`);
  }

  /** `POST /auth/token` `{ scopes, ttl? }`. */
  async issue(principal: Principal, body: unknown): Promise<TokenResponse> {
    const b =
      typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (!b) throw new SmsGateError(400, 'failed to parse body: the body must be a JSON object');
    const scopes = b.scopes;
    if (!Array.isArray(scopes) || scopes.length === 0) throw invalid('scopes is required (at least one scope)');
    for (const scope of scopes) {
      if (scope !== ALL_SCOPES && !(JWT_SCOPES as readonly unknown[]).includes(scope))
        throw invalid(`unknown scope ${JSON.stringify(scope)}`);
    }
    let ttl = TOKEN_TTL_DEFAULT_S;
    if (b.ttl !== undefined && b.ttl !== null && b.ttl !== 0) {
      if (typeof b.ttl !== 'number' || !Number.isInteger(b.ttl) || b.ttl < 1)
        throw invalid('ttl must be a positive number of seconds');
      if (b.ttl > TOKEN_TTL_MAX_S) throw invalid(`ttl must be at most ${TOKEN_TTL_MAX_S} seconds`);
      ttl = b.ttl;
    }
    // A token never has more rights than the credential that asked for it.
    const granted = [...new Set(scopes as string[])];
    if (!principal.scopes.includes(ALL_SCOPES) && granted.some((s) => !principal.scopes.includes(s)))
      throw new SmsGateError(403, 'a token cannot have scopes its issuer lacks');
    return this.pair(principal.projectId, principal.keyId, granted, ttl);
  }

  /** `POST /auth/token/refresh` with `Authorization: Bearer <refresh token>`: a new pair; the old one is revoked. */
  async refresh(authorization: string | undefined): Promise<TokenResponse> {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const claims = bearer ? verifyJwt(this.key, bearer) : null;
    if (
      !claims ||
      claims.scopes.length !== 1 ||
      claims.scopes[0] !== REFRESH_SCOPE ||
      !claims.grant ||
      !(await this.alive(claims))
    )
      throw unauthorized();
    await this.revoke(claims.sub, claims.jti, new Date(claims.exp * 1000));
    if (claims.ati) await this.revoke(claims.sub, claims.ati);
    return this.pair(claims.sub, claims.kid, claims.grant, TOKEN_TTL_DEFAULT_S);
  }

  /** `DELETE /auth/token/{jti}`: that token (and the refresh token issued with it) stops working in this project. */
  async revoke(projectId: string, jti: string, expiresAt = new Date(Date.now() + REFRESH_TTL_S * 1000)): Promise<void> {
    if (jti.length === 0 || jti.length > 64) return;
    const now = new Date();
    await this.db('smsgate_revoked_tokens')
      .insert({ project_id: projectId, jti, expires_at: expiresAt, revoked_at: now })
      .onConflict(['project_id', 'jti'])
      .ignore();
    // A revocation matters only while the token could still be used: the project's spent ones go.
    await this.db('smsgate_revoked_tokens').where({ project_id: projectId }).where('expires_at', '<', now).delete();
  }

  private async pair(projectId: string, keyId: string, scopes: string[], ttl: number): Promise<TokenResponse> {
    const now = Math.floor(Date.now() / 1000);
    const jti = nanoid();
    const access = signJwt(this.key, {
      jti,
      iss: ISSUER,
      sub: projectId,
      scopes,
      iat: now,
      exp: now + ttl,
      kid: keyId,
    });
    const refresh = signJwt(this.key, {
      jti: nanoid(),
      iss: ISSUER,
      sub: projectId,
      scopes: [REFRESH_SCOPE],
      iat: now,
      exp: now + REFRESH_TTL_S,
      kid: keyId,
      ati: jti,
      grant: scopes,
    });
    return {
      id: jti,
      token_type: 'Bearer',
      access_token: access,
      refresh_token: refresh,
      expires_at: new Date((now + ttl) * 1000).toISOString(),
    };
  }

  /** The token's API key is still active and neither it nor its access token was revoked. */
  private async alive(claims: JwtClaims): Promise<boolean> {
    // Read here rather than through ApiKeyService: a token carries its key's id, not the key.
    const key = await this.db('api_keys')
      .select('id')
      .where({ id: claims.kid, project_id: claims.sub })
      .whereNull('revoked_at')
      .first();
    if (!key) return false;
    const jtis = claims.ati ? [claims.jti, claims.ati] : [claims.jti];
    const revoked = await this.db('smsgate_revoked_tokens')
      .select('jti')
      .where({ project_id: claims.sub })
      .whereIn('jti', jtis)
      .first();
    return !revoked;
  }
}
