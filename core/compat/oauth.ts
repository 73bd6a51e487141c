import type { Redis } from 'ioredis';
import { randomSecret, sha256 } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import type { RuntimeConfig } from '../secrets.js';
import { ApiKeyService } from '../services/api-keys.js';
import { TOKENS } from '../tokens.js';

/** Lifetime of an access token, in seconds (the OTP-by-id provider's tokens are short-lived too). */
export const ACCESS_TOKEN_TTL_SECONDS = 3600;

const TOKEN_PREFIX = 'smxat_';

/** The OAuth2 token response (RFC 6749 §5.1), as the OTP-by-id provider answers it. */
export interface AccessTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/**
 * Client-credentials tokens for the OTP-by-id surface. The application id is an API key's id
 * (`key_...`) and the secret is the key itself. A token is stored only as its SHA-256 in Redis
 * (with its TTL), holding the hash of the key it was issued for: every use re-checks that key,
 * so revoking the key revokes its tokens at once.
 */
@injectable()
export class CompatTokenService {
  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    private readonly keys: ApiKeyService,
  ) {}

  /** Issues a token for `client_id` + `client_secret`; UNAUTHORIZED when they do not belong together. */
  async issue(clientId: string, clientSecret: string): Promise<AccessTokenResponse> {
    const owner = await this.keys.authenticate(clientSecret.trim());
    if (!owner || owner.keyId !== clientId.trim()) {
      throw apiError('UNAUTHORIZED', { message: 'Unknown application id or secret, or the API key was revoked.' });
    }
    const token = randomSecret(32, TOKEN_PREFIX);
    await this.redis.set(this.redisKey(token), sha256(clientSecret.trim()), 'EX', ACCESS_TOKEN_TTL_SECONDS);
    return { access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS };
  }

  /** True when `credential` has the shape of an access token (rather than an API key). */
  isAccessToken(credential: string): boolean {
    return credential.startsWith(TOKEN_PREFIX);
  }

  /** The project of a live token whose API key is still active, else null. */
  async authenticate(token: string): Promise<{ projectId: string; keyId: string } | null> {
    if (!this.isAccessToken(token) || token.length > 128) return null;
    const keyHash = await this.redis.get(this.redisKey(token));
    if (keyHash === null) return null;
    return this.keys.ownerOfHash(keyHash);
  }

  private redisKey(token: string): string {
    return `${this.config.redisPrefix}:compat:oauth:${sha256(token)}`;
  }
}
