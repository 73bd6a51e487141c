import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { DeviceService } from '../../services/devices.js';
import { LinkDeviceDto, toSims } from '../dtos/admin.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { linkResultSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

/** The phone's side of linking (device-protocol.md §1): no API key, the link token is the credential. */
export async function deviceLinkRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const devices = c.resolve(DeviceService);
  app.post('/v1/devices/link', {
    schema: {
      tags: ['devices'], summary: 'Link a phone with a single-use link token (from the QR code) or a 6-digit link code',
      body: bodySchema(LinkDeviceDto), response: responses({ 201: linkResultSchema }, [400, 401, 429]),
    },
  }, async (request, reply) => {
    const dto = await validateBody(LinkDeviceDto, request.body);
    const sims = toSims(dto.sims);
    return reply.status(201).send(ok(await devices.link({ ...dto, sims, source: request.ip })));
  });
}
