import type { FastifyInstance } from 'fastify';
import type { DeviceService } from '../../services/devices.js';
import { CODE_GUESS_LIMITS } from '../../services/link-tokens.js';
import { LinkDeviceDto, toSims } from '../dtos/admin.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { linkResultSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

/** What deviceLinkRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface DeviceLinkRouteDeps {
  devices: DeviceService;
}

/** The phone's side of linking (device-protocol.md §1): no API key, the link token is the credential. */
export async function deviceLinkRoutes(app: FastifyInstance, deps: DeviceLinkRouteDeps): Promise<void> {
  const { devices } = deps;
  app.post(
    '/v1/devices/link',
    {
      schema: {
        tags: ['devices'],
        security: [],
        summary: 'Link a phone with a single-use link token (from the QR code) or a 6-digit link code',
        description:
          'Link codes are limited per client address (IPv6: per /64; behind proxies the address SMX_TRUST_PROXY trusts): ' +
          `${CODE_GUESS_LIMITS.perSource} attempts per ${CODE_GUESS_LIMITS.windowSeconds / 60} minutes, taken before the code is compared; a code that links gives its attempt back. ` +
          `While more than ${CODE_GUESS_LIMITS.pressureAfter} wrong codes are held server-wide, ${CODE_GUESS_LIMITS.perSourceUnderPressure} attempt per address per window. Past the limit: 429 RATE_LIMITED with Retry-After.`,
        body: bodySchema(LinkDeviceDto),
        response: responses({ 201: linkResultSchema }, [400, 401, 429]),
      },
    },
    async (request, reply) => {
      const dto = await validateBody(LinkDeviceDto, request.body);
      const sims = toSims(dto.sims);
      return reply.status(201).send(ok(await devices.link({ ...dto, sims, source: request.ip })));
    },
  );
}
