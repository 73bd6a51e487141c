import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isApiError } from '../../errors.js';
import type { DeviceService } from '../../services/devices.js';
import { toSmsGateDevice } from '../../smsgate/third-party/devices.js';
import { SmsGateError } from '../../smsgate/third-party/errors.js';
import { readInboxQuery, type SmsGateInbox } from '../../smsgate/third-party/inbox.js';
import type { SmsGateSettings } from '../../smsgate/third-party/settings.js';
import type { SmsGateWebhooks } from '../../smsgate/third-party/webhooks.js';
import type { Authorise } from '../../smsgate/third-party/auth.js';

const hidden = { schema: { hide: true } };

export interface ResourceDeps {
  devices: DeviceService;
  webhooks: SmsGateWebhooks;
  settings: SmsGateSettings;
  inbox: SmsGateInbox;
  authorise: Authorise;
}

/** Devices, webhooks, settings, inbox and logs of the SMSGate surface. */
export async function smsgateResourceRoutes(app: FastifyInstance, deps: ResourceDeps): Promise<void> {
  const { devices, webhooks, settings, inbox, authorise } = deps;
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;

  for (const base of ['/devices', '/device']) {
    // Every linked phone of the project, MQTT and SMSGate-app ones alike.
    app.get(base, hidden, async (request) => {
      const { projectId } = authorise(request, 'devices:list');
      return (await devices.list(projectId)).map(toSmsGateDevice);
    });
    // Unlinks the phone (its credentials stop working at once). Unknown or another project's id: 204 as well, as the original.
    app.delete(`${base}/:id`, hidden, async (request, reply) => {
      const { projectId } = authorise(request, 'devices:delete');
      const id = idOf(request);
      const device = id.length <= 64 ? await devices.find(id) : null;
      if (device && device.projectId === projectId && device.status !== 'unlinked') {
        // Unlinked meanwhile by someone else: gone either way, as the original answers.
        await devices.unlink(id).catch((error: unknown) => {
          if (!isApiError(error) || error.code !== 'NOT_FOUND') throw error;
        });
      }
      return reply.status(204).send();
    });
  }

  app.get('/webhooks', hidden, async (request) => webhooks.list(authorise(request, 'webhooks:list').projectId));
  app.post('/webhooks', hidden, async (request, reply) => {
    const { projectId } = authorise(request, 'webhooks:write');
    return reply.status(201).send(await webhooks.register(projectId, request.body));
  });
  app.delete('/webhooks/:id', hidden, async (request, reply) => {
    const { projectId } = authorise(request, 'webhooks:delete');
    await webhooks.remove(projectId, idOf(request));
    return reply.status(204).send();
  });

  app.get('/settings', hidden, async (request) => settings.get(authorise(request, 'settings:read').projectId));
  app.put('/settings', hidden, async (request) =>
    settings.update(authorise(request, 'settings:write').projectId, request.body, false),
  );
  app.patch('/settings', hidden, async (request) =>
    settings.update(authorise(request, 'settings:write').projectId, request.body, true),
  );

  app.get('/inbox', hidden, async (request, reply) => {
    const { projectId } = authorise(request, 'inbox:list');
    const page = await inbox.list(projectId, readInboxQuery(request.query as Record<string, unknown>));
    return reply.header('x-total-count', String(page.total)).send(page.items);
  });
  app.post('/inbox/refresh', hidden, async (request) => {
    authorise(request, 'inbox:refresh');
    throw new SmsGateError(
      501,
      'inbox refresh is not supported: SMX stores every received SMS as it arrives; read them with GET /inbox',
    );
  });
  // The npm client's exportInbox (the original answers 404 here).
  app.post('/inbox/export', hidden, async (request) => {
    authorise(request, 'messages:export');
    throw new SmsGateError(
      501,
      'inbox export is not supported: SMX stores every received SMS; read them with GET /inbox',
    );
  });

  app.get('/logs', hidden, async (request) => {
    authorise(request, 'logs:read');
    throw new SmsGateError(501, "For privacy reasons, device's logs are not accessible through Cloud server");
  });
}
