import type { FastifyInstance } from 'fastify';
import { RENTAL_LIMITS, type RentalService } from '../../services/rentals.js';
import { projectOf } from '../auth.js';
import { ListNumbersQuery, RentNumberDto } from '../dtos/rentals.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { validateBody } from '../validation.js';

const security = [{ apiKey: [] }];
const tags = ['rental'];
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'rnt_...' } }, required: ['id'] };

const rental = {
  type: 'object',
  properties: {
    rentalId: { type: 'string' },
    number: { type: 'string', description: 'E.164' },
    country: { type: 'string' },
    service: { type: 'string', nullable: true },
    status: { type: 'string', enum: ['active', 'canceled', 'expired'] },
    createdAt: { type: 'string' },
    expiresAt: { type: 'string' },
    endedAt: { type: 'string', nullable: true },
  },
};
const message = {
  type: 'object',
  properties: {
    sender: { type: 'string' },
    text: { type: 'string' },
    receivedAt: { type: 'string' },
    code: {
      type: 'string',
      nullable: true,
      description: 'The verification code found in the text (4-8 digits, or forms like "code: AB12CD"), or null.',
    },
  },
};
const billing = `SMX bills nothing: pricePerSms is ${RENTAL_LIMITS.pricePerSms} and refundAmount ${RENTAL_LIMITS.refundAmount}.`;

/** What rentalRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface RentalRouteDeps {
  rentals: RentalService;
}

/**
 * Number rental (docs/api.md "Inbound SMS and number rental"): the project's devices' SIMs marked
 * rentable are its pool; a rented number's received SMS belong to the rental until it ends.
 */
export async function rentalRoutes(app: FastifyInstance, deps: RentalRouteDeps): Promise<void> {
  const { rentals } = deps;
  const id = (params: unknown) => (params as { id: string }).id;

  app.get(
    '/v1/numbers',
    {
      schema: {
        tags,
        security,
        summary: 'Rentable numbers per country, with how many are free now',
        description: billing,
        querystring: bodySchema(ListNumbersQuery),
        response: responses(
          {
            200: {
              type: 'object',
              properties: {
                numbers: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      country: { type: 'string' },
                      countryName: { type: 'string' },
                      available: { type: 'integer' },
                      pricePerSms: { type: 'number' },
                    },
                  },
                },
              },
            },
          },
          [400, 401],
        ),
      },
    },
    async (request) => {
      const q = await validateBody(ListNumbersQuery, request.query);
      return ok(await rentals.available(projectOf(request), q.country?.toUpperCase()));
    },
  );

  app.post(
    '/v1/rentals',
    {
      schema: {
        tags,
        security,
        body: bodySchema(RentNumberDto),
        summary: 'Rent a free number of a country',
        description: `The number is held for this rental alone until it expires (duration, default 20 minutes, at most 24 hours) or is canceled. ${billing}`,
        response: responses({ 201: rental }, [400, 401, 409]),
      },
    },
    async (request, reply) => {
      const dto = await validateBody(RentNumberDto, request.body);
      const rented = await rentals.rent(projectOf(request), {
        country: dto.country.toUpperCase(),
        service: dto.service,
        duration: dto.duration,
      });
      return reply.status(201).send(ok(rented));
    },
  );

  app.get(
    '/v1/rentals/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Read a rental',
        response: responses({ 200: rental }, [401, 404]),
      },
    },
    async (request) => ok(await rentals.get(projectOf(request), id(request.params))),
  );

  app.get(
    '/v1/rentals/:id/messages',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'The SMS the rented number received during the rental, oldest first',
        response: responses(
          { 200: { ...rental, properties: { ...rental.properties, messages: { type: 'array', items: message } } } },
          [401, 404],
        ),
      },
    },
    async (request) => ok(await rentals.messages(projectOf(request), id(request.params))),
  );

  app.post(
    '/v1/rentals/:id/cancel',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'End a rental now and free its number',
        description: `Canceling a rental that already ended answers its current state. ${billing}`,
        response: responses(
          { 200: { ...rental, properties: { ...rental.properties, refundAmount: { type: 'number' } } } },
          [401, 404],
        ),
      },
    },
    async (request) => ok(await rentals.cancel(projectOf(request), id(request.params))),
  );
}
