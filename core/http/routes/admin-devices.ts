import type { FastifyInstance } from 'fastify';
import type { DeviceService } from '../../services/devices.js';
import { UpdateDeviceDto, toSims } from '../dtos/admin.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { deviceSchema, doneSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

type IdParams = { id: string };
const security = [{ adminToken: [] }];
const tags = ['admin'];
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };

/** What adminDeviceRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminDeviceRouteDeps {
  devices: DeviceService;
}

/** Operator endpoints on one device: activate, change, unlink. */
export async function adminDeviceRoutes(app: FastifyInstance, deps: AdminDeviceRouteDeps): Promise<void> {
  const { devices } = deps;

  app.get(
    '/admin/devices/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Read a device',
        response: responses({ 200: deviceSchema }, [401, 403, 404]),
      },
    },
    async (request) => ok(await devices.get((request.params as IdParams).id)),
  );

  app.post(
    '/admin/devices/:id/activate',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: "Make this device its project's active one",
        response: responses({ 200: deviceSchema }, [401, 403, 404]),
      },
    },
    async (request) => ok(await devices.activate((request.params as IdParams).id)),
  );

  app.patch(
    '/admin/devices/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Rename, set the send rate or the SIMs',
        body: bodySchema(UpdateDeviceDto),
        response: responses({ 200: deviceSchema }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      const dto = await validateBody(UpdateDeviceDto, request.body);
      const sims = toSims(dto.sims);
      return ok(
        await devices.update((request.params as IdParams).id, {
          name: dto.name,
          sendRatePerMinute: dto.sendRatePerMinute,
          sims,
        }),
      );
    },
  );

  app.delete(
    '/admin/devices/:id',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Unlink a device (its credentials stop working at once)',
        response: responses({ 200: doneSchema('unlinked') }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id } = request.params as IdParams;
      await devices.unlink(id);
      return ok({ id, unlinked: true });
    },
  );
}
