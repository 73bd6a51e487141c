import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SmsVerifyCompat } from '../../compat/sms-verify.js';
import { apiError } from '../../errors.js';
import type { ApiKeyService } from '../../services/api-keys.js';
import { bearer, header } from '../auth.js';
import { acceptFormBodies, requestParams, withIntegers, withStrings } from '../compat-input.js';
import { SmsVerifyDto, VerifySecurityCodeDto } from '../dtos/compat.js';
import { bodySchema, responses } from '../openapi.js';
import { validateBody } from '../validation.js';

const tags = ['compat: SMS Verify'];
// The key as a query parameter or header; as a form or JSON field (no security scheme can say so) the call carries none.
const security: Array<Record<string, string[]>> = [{ apiKeyParam: [] }, { apiKey: [] }, {}];
const consumes = ['application/json', 'application/x-www-form-urlencoded'];
const auth =
  'Authenticate with your SMX project API key as `api-key` (form field, JSON field or query parameter; `user-id` is accepted and ignored) ' +
  'or in the `X-SMX-API-Key` header. Bodies: JSON or `application/x-www-form-urlencoded`; query parameters are read too. ' +
  "Success bodies are the provider's (no SMX envelope); errors are the SMX error envelope.";

/** Success body as the provider sends it, errors as the SMX envelope. */
function rawResponses(success: object, errors: number[]): Record<number, object> {
  return { 200: success, ...responses({}, errors) };
}

/** The project of the `api-key` parameter or the X-SMX-API-Key header (or a Bearer key). */
async function projectOf(
  keys: ApiKeyService,
  request: FastifyRequest,
  params: Record<string, unknown>,
): Promise<string> {
  const given = params['api-key'];
  const key = (typeof given === 'string' ? given : undefined) ?? header(request, 'x-smx-api-key') ?? bearer(request);
  if (!key)
    throw apiError('UNAUTHORIZED', { message: 'Send your project API key as api-key or in the X-SMX-API-Key header.' });
  const owner = await keys.authenticate(key.trim());
  if (!owner) throw apiError('UNAUTHORIZED', { message: 'The API key is unknown or revoked.' });
  return owner.projectId;
}

/** What compatSmsVerifyRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface CompatSmsVerifyRouteDeps {
  apiKeys: ApiKeyService;
  smsVerify: SmsVerifyCompat;
}

/**
 * The SMS Verify provider's API (docs/api.md "Compatibility surfaces"): a client written for it
 * works with its base URL set to `{SMX_PUBLIC_URL}/compat`.
 */
export async function compatSmsVerifyRoutes(app: FastifyInstance, deps: CompatSmsVerifyRouteDeps): Promise<void> {
  const { apiKeys: keys, smsVerify: service } = deps;
  acceptFormBodies(app);

  app.post(
    '/compat/sms-verify',
    {
      schema: {
        tags,
        security,
        summary: 'Send a security code by SMS (SMS Verify style)',
        description: auth,
        consumes,
        body: bodySchema(SmsVerifyDto),
        response: rawResponses(
          {
            type: 'object',
            properties: {
              sent: { type: 'boolean', description: 'True if the SMS has been accepted for sending.' },
              'number-valid': {
                type: 'boolean',
                description: 'True if this is a valid phone number (an invalid one is not an error).',
              },
              'security-code': {
                type: 'string',
                description:
                  'The code sent (the provider returns it to the caller); empty for an invalid or test number.',
              },
            },
          },
          [400, 401, 409, 413, 429, 503],
        ),
      },
    },
    async (request) => {
      const params = requestParams(request);
      const projectId = await projectOf(keys, request, params);
      const dto = await validateBody(
        SmsVerifyDto,
        withStrings(withIntegers(params, ['code-length']), ['security-code', 'number']),
      );
      return service.send(projectId, {
        number: dto.number,
        codeLength: dto['code-length'],
        securityCode: dto['security-code'],
        countryCode: dto['country-code'],
        language: dto['language-code'],
      });
    },
  );

  app.post(
    '/compat/verify-security-code',
    {
      schema: {
        tags,
        security,
        summary: 'Verify a security code sent by /compat/sms-verify',
        description: `${auth} A code verifies once.`,
        consumes,
        body: bodySchema(VerifySecurityCodeDto),
        response: rawResponses(
          { type: 'object', properties: { verified: { type: 'boolean' } } },
          [400, 401, 413, 429, 503],
        ),
      },
    },
    async (request) => {
      const params = requestParams(request);
      const projectId = await projectOf(keys, request, params);
      const dto = await validateBody(VerifySecurityCodeDto, withStrings(params, ['security-code']));
      return { verified: await service.verify(projectId, dto['security-code']) };
    },
  );
}
