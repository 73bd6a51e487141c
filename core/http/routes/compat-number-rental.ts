import type { FastifyInstance, FastifyRequest } from 'fastify';
import { apiError } from '../../errors.js';
import type { ApiKeyService } from '../../services/api-keys.js';
import { RENTAL_LIMITS, type RentalService } from '../../services/rentals.js';
import { header } from '../auth.js';
import { acceptFormBodies, requestParams } from '../compat-input.js';
import { ListNumbersQuery, RentNumberDto } from '../dtos/rentals.js';
import { toApiError } from '../error-handler.js';
import { validateBody } from '../validation.js';

const tags = ['compat: number rental'];
// GET: `api_key` in the query; POST: a body field (no security scheme can say so) or the X-SMX-API-Key header.
const querySecurity: Array<Record<string, string[]>> = [{ apiKeyQuery: [] }, { apiKey: [] }];
const bodySecurity: Array<Record<string, string[]>> = [{ apiKey: [] }, {}];
const consumes = ['application/json', 'application/x-www-form-urlencoded'];
const auth =
  'Authenticate with your SMX project API key as `api_key`: in the query string for GET, in the body (JSON or form) for POST. ' +
  'Answers are the partner contract\'s `{ "status": "success", ... }`; errors are `{ "status": "error", "code", "message", "details", "requestId" }` ' +
  `with the HTTP status and code of the SMX error catalogue. Rentals last ${RENTAL_LIMITS.duration.default / 60} minutes. ` +
  `SMX bills nothing: price_per_sms is ${RENTAL_LIMITS.pricePerSms} and refund_amount ${RENTAL_LIMITS.refundAmount}.`;

const str = { type: 'string' };
const errorBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['error'] },
    code: str,
    message: str,
    details: { type: 'array', items: { type: 'object' } },
    requestId: str,
  },
};
function answers(success: Record<string, object>, errors: number[]): Record<number, object> {
  const out: Record<number, object> = {
    200: { type: 'object', properties: { status: { type: 'string', enum: ['success'] }, ...success } },
  };
  for (const status of errors) out[status] = errorBody;
  return out;
}
const keyQuery = {
  api_key: {
    ...str,
    description: 'Your SMX project API key.',
    example: 'smx_sIWizS3SoTiYS7yary15g_QNflTh3o_kIuIMZdYq0V4',
  },
};
const rentalIdField = {
  ...str,
  description: 'The rental_id rentNumber returned.',
  example: 'rnt_BGKNMRb0_uRCxEkO24aS0A',
};

/** The contract shows timestamps to the second: `2023-06-15T15:30:45Z`. */
function partnerTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

/** What compatNumberRentalRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface CompatNumberRentalRouteDeps {
  apiKeys: ApiKeyService;
  rentals: RentalService;
}

/**
 * The number-rental partner API (reference/number-rental-partner-api.txt): a client written for
 * it works with its base URL set to `{SMX_PUBLIC_URL}/compat`. Field names, shapes and statuses
 * are the contract's; the work is the /v1 rental service's.
 */
export async function compatNumberRentalRoutes(app: FastifyInstance, deps: CompatNumberRentalRouteDeps): Promise<void> {
  const { apiKeys: keys, rentals } = deps;
  acceptFormBodies(app);
  // The partner's clients read `status`; errors keep that shape, with the catalogue's code and HTTP status.
  app.setErrorHandler((error, request, reply) => {
    const e = toApiError(error);
    if (e.status >= 500) request.log.error({ err: error }, `request failed: ${e.code}`);
    if (e.retryAfter !== undefined) void reply.header('retry-after', String(e.retryAfter));
    return reply
      .status(e.status)
      .send({ status: 'error', code: e.code, message: e.message, details: e.details, requestId: request.id });
  });

  /** The project of `api_key` (query for GET, body for POST; the X-SMX-API-Key header works too). */
  const authenticated = async (
    request: FastifyRequest,
  ): Promise<{ projectId: string; params: Record<string, unknown> }> => {
    const params = requestParams(request);
    const given = params.api_key;
    const key = (typeof given === 'string' && given !== '' ? given : undefined) ?? header(request, 'x-smx-api-key');
    if (!key) throw apiError('UNAUTHORIZED', { message: 'Send your project API key as api_key.' });
    const owner = await keys.authenticate(key.trim());
    if (!owner) throw apiError('UNAUTHORIZED', { message: 'The API key is unknown or revoked.' });
    return { projectId: owner.projectId, params };
  };
  const rentalId = (params: Record<string, unknown>): string => {
    const id = params.rental_id;
    if (typeof id !== 'string' || id.trim() === '')
      throw apiError('VALIDATION_FAILED', { details: [{ field: 'rental_id', message: 'rental_id is required' }] });
    return id.trim();
  };

  app.get(
    '/compat/getNumbers',
    {
      schema: {
        tags,
        security: querySecurity,
        summary: 'Available numbers, countries and quantities',
        description: auth,
        querystring: {
          type: 'object',
          required: ['api_key'],
          properties: {
            ...keyQuery,
            country: { ...str, description: 'ISO country code filter (e.g. US, GB, DE).', example: 'US' },
          },
        },
        response: answers(
          {
            numbers: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  country: str,
                  country_name: str,
                  available: { type: 'integer' },
                  price_per_sms: { type: 'number' },
                },
              },
            },
          },
          [400, 401],
        ),
      },
    },
    async (request) => {
      const { projectId, params } = await authenticated(request);
      const q = await validateBody(ListNumbersQuery, { country: params.country });
      const { numbers } = await rentals.available(projectId, q.country?.toUpperCase());
      return {
        status: 'success',
        numbers: numbers.map((n) => ({
          country: n.country,
          country_name: n.countryName,
          available: n.available,
          price_per_sms: n.pricePerSms,
        })),
      };
    },
  );

  app.post(
    '/compat/rentNumber',
    {
      schema: {
        tags,
        security: bodySecurity,
        summary: 'Rent a number for SMS verification',
        description: auth,
        consumes,
        body: {
          type: 'object',
          required: ['api_key', 'country'],
          properties: {
            ...keyQuery,
            country: { ...str, description: 'ISO country code (e.g. US, GB, DE).', example: 'US' },
            service: { ...str, description: 'Optional service identifier.', example: 'facebook' },
          },
        },
        response: answers({ number: str, rental_id: str, expires_at: str, country: str }, [400, 401, 409]),
      },
    },
    async (request) => {
      const { projectId, params } = await authenticated(request);
      const dto = await validateBody(RentNumberDto, { country: params.country, service: params.service });
      const rented = await rentals.rent(projectId, { country: dto.country.toUpperCase(), service: dto.service });
      return {
        status: 'success',
        number: rented.number,
        rental_id: rented.rentalId,
        expires_at: partnerTime(rented.expiresAt),
        country: rented.country,
      };
    },
  );

  app.get(
    '/compat/getSMS',
    {
      schema: {
        tags,
        security: querySecurity,
        summary: 'SMS received on a rented number',
        description: `${auth} Poll until a message arrives.`,
        querystring: {
          type: 'object',
          required: ['api_key', 'rental_id'],
          properties: { ...keyQuery, rental_id: rentalIdField },
        },
        response: answers(
          {
            messages: {
              type: 'array',
              items: { type: 'object', properties: { sender: str, text: str, received_at: str } },
            },
            number: str,
          },
          [400, 401, 404],
        ),
      },
    },
    async (request) => {
      const { projectId, params } = await authenticated(request);
      const rental = await rentals.messages(projectId, rentalId(params));
      return {
        status: 'success',
        messages: rental.messages.map((m) => ({
          sender: m.sender,
          text: m.text,
          received_at: partnerTime(m.receivedAt),
        })),
        number: rental.number,
      };
    },
  );

  app.post(
    '/compat/cancelNumber',
    {
      schema: {
        tags,
        security: bodySecurity,
        summary: 'Cancel a rental and free its number',
        description: auth,
        consumes,
        body: {
          type: 'object',
          required: ['api_key', 'rental_id'],
          properties: { ...keyQuery, rental_id: rentalIdField },
        },
        response: answers({ message: str, rental_id: str, refund_amount: { type: 'number' } }, [400, 401, 404]),
      },
    },
    async (request) => {
      const { projectId, params } = await authenticated(request);
      const canceled = await rentals.cancel(projectId, rentalId(params));
      return {
        status: 'success',
        message: 'Number rental cancelled successfully',
        rental_id: canceled.rentalId,
        refund_amount: canceled.refundAmount,
      };
    },
  );
}
