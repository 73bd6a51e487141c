import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type CompatTokenService, ACCESS_TOKEN_TTL_SECONDS } from '../../compat/oauth.js';
import type { OtpByIdCompat } from '../../compat/otp-by-id.js';
import { apiError } from '../../errors.js';
import type { ApiKeyService } from '../../services/api-keys.js';
import { bearer, header } from '../auth.js';
import { acceptFormBodies, basicCredentials, requestParams, withStrings } from '../compat-input.js';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { CompatOtpCheckDto, CompatOtpDto, OAuthTokenDto } from '../dtos/compat.js';
import { bodySchema, responses } from '../openapi.js';
import { validateBody } from '../validation.js';

const tags = ['compat: OTP by id'];
const security: Array<Record<string, string[]>> = [{ compatOAuth: [] }, { apiKey: [] }];
const auth =
  'Authenticate with `Authorization: Bearer <access_token>` from `POST /compat/oauth/token` (or the project API key in `X-SMX-API-Key`). ' +
  "Success bodies are the provider's (no SMX envelope); errors are the SMX error envelope.";
const otpObject = {
  type: 'object',
  properties: {
    otpId: { type: 'string', description: 'The SMX verification id (ver_...).' },
    phoneNumber: { type: 'string' },
    countryIso: { type: 'string', nullable: true },
    status: { type: 'string', enum: ['PENDING', 'VERIFIED', 'FAILED', 'EXPIRED', 'CANCELED'] },
    parts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    attempts: { type: 'integer' },
    cost: { type: 'number', description: 'Always 0: a self-hosted SMX does not bill.' },
    ttl: { type: 'integer', description: 'Seconds.' },
    otpCallbackUrl: { type: 'string', nullable: true },
    dateCreated: { type: 'string', example: '2022-10-18 09:01:47', description: 'UTC.' },
    dateExpires: { type: 'string', example: '2022-10-18 09:06:47', description: 'UTC.' },
  },
};

/** Success body as the provider sends it, errors as the SMX envelope. */
function rawResponses(status: number, success: object, errors: number[]): Record<number, object> {
  return { [status]: success, ...responses({}, errors) };
}

/** What compatOtpRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface CompatOtpRouteDeps {
  apiKeys: ApiKeyService;
  compatTokens: CompatTokenService;
  otpById: OtpByIdCompat;
  webhooks: WebhookEndpoints;
}

/**
 * The OTP-by-id provider's API (docs/api.md "Compatibility surfaces"): a client written for it
 * works with its base URL set to `{SMX_PUBLIC_URL}/compat` (token URL `{SMX_PUBLIC_URL}/compat/oauth/token`).
 */
export async function compatOtpRoutes(app: FastifyInstance, deps: CompatOtpRouteDeps): Promise<void> {
  const { apiKeys: keys, compatTokens: tokens, otpById: otp, webhooks } = deps;
  acceptFormBodies(app);

  /** The project of an access token, or of an API key given directly. */
  const projectOf = async (request: FastifyRequest): Promise<string> => {
    const credential = bearer(request) ?? header(request, 'x-smx-api-key');
    if (!credential)
      throw apiError('UNAUTHORIZED', {
        message: 'Send Authorization: Bearer <access_token> (POST /compat/oauth/token).',
      });
    const owner = tokens.isAccessToken(credential)
      ? await tokens.authenticate(credential)
      : await keys.authenticate(credential.trim());
    if (!owner) throw apiError('UNAUTHORIZED', { message: 'The access token is unknown, expired or revoked.' });
    return owner.projectId;
  };

  app.post(
    '/compat/oauth/token',
    {
      schema: {
        tags,
        security: [],
        summary: 'Get an access token (OAuth2 client credentials)',
        description: `Application id = an SMX API key id (key_...), application secret = that API key. Send them as client_id/client_secret (form or JSON) or with HTTP Basic auth. Tokens live ${ACCESS_TOKEN_TTL_SECONDS} s and die with the key.`,
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: bodySchema(OAuthTokenDto),
        response: rawResponses(
          200,
          {
            type: 'object',
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string', enum: ['Bearer'] },
              expires_in: { type: 'integer' },
            },
          },
          [400, 401, 413, 503],
        ),
      },
    },
    async (request, reply) => {
      const dto = await validateBody(OAuthTokenDto, requestParams(request));
      const basic = basicCredentials(request);
      const clientId = dto.client_id ?? basic?.user;
      const clientSecret = dto.client_secret ?? basic?.password;
      if (!clientId || !clientSecret)
        throw apiError('UNAUTHORIZED', { message: 'Send client_id and client_secret (or HTTP Basic auth).' });
      // RFC 6749 §5.1: token responses are not cached.
      void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return tokens.issue(clientId, clientSecret);
    },
  );

  app.post(
    '/compat/otp',
    {
      schema: {
        tags,
        security,
        summary: 'Send an OTP (OTP-by-id style)',
        description: auth,
        body: bodySchema(CompatOtpDto),
        response: rawResponses(201, otpObject, [400, 401, 409, 413, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const projectId = await projectOf(request);
      const body = requestParams(request);
      if (typeof body.pinType === 'string') body.pinType = body.pinType.toUpperCase();
      // The same callback URL policy as /v1's callbackUrl (https unless private targets are allowed).
      const dto = await validateBody(CompatOtpDto, body, (d) => [
        webhooks.callbackProblem(d.otpCallbackUrl, 'otpCallbackUrl'),
      ]);
      return reply.status(201).send(await otp.create(projectId, dto));
    },
  );

  app.post(
    '/compat/otp/:otpId',
    {
      schema: {
        tags,
        security,
        summary: 'Check a PIN',
        description: `${auth} A wrong PIN with attempts left is PENDING; the last wrong one FAILED; after the TTL EXPIRED.`,
        params: { type: 'object', properties: { otpId: { type: 'string' } }, required: ['otpId'] },
        body: bodySchema(CompatOtpCheckDto),
        response: rawResponses(
          200,
          {
            type: 'object',
            properties: { status: { type: 'string', enum: ['VERIFIED', 'PENDING', 'FAILED', 'EXPIRED'] } },
          },
          [400, 401, 404, 409, 413, 503],
        ),
      },
    },
    async (request) => {
      const projectId = await projectOf(request);
      const dto = await validateBody(CompatOtpCheckDto, withStrings(requestParams(request), ['pin']));
      return otp.check(projectId, (request.params as { otpId: string }).otpId, dto.pin);
    },
  );
}
