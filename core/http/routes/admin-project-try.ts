import type { FastifyInstance } from 'fastify';
import type { ChallengeService } from '../../sending/challenges.js';
import type { ProjectService } from '../../services/projects.js';
import type { SmsService } from '../../sending/sms.js';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { suppliedCodeDetails, SendOtpDto } from '../dtos/otp.js';
import { SendSmsDto, sendSmsInputOf, smsOptionProblems } from '../dtos/sms.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { smsAcceptedSchema, verificationSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

/**
 * "Try it" for the operator (issue 14): send an OTP or an SMS on a project's behalf with the
 * admin token, through the very services /v1/send-otp and /v1/send-sms use (same DTOs, routing,
 * limits, templates, test numbers, stats and webhooks), so the console needs no API key of the
 * project. No Idempotency-Key here: an operator's test send is not retried by a machine.
 */

const security = [{ adminToken: [] }];
const tags = ['admin', 'activity'];
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'prj_...' } }, required: ['id'] };

/** What adminProjectTryRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminProjectTryRouteDeps {
  projects: ProjectService;
  challenges: ChallengeService;
  sms: SmsService;
  webhooks: WebhookEndpoints;
}

/** Admin sends for one project, for the console's "Try it". */
export async function adminProjectTryRoutes(app: FastifyInstance, deps: AdminProjectTryRouteDeps): Promise<void> {
  const { projects, challenges, sms, webhooks } = deps;

  app.post(
    '/admin/projects/:id/send-otp',
    {
      schema: {
        tags,
        security,
        params: idParam,
        body: bodySchema(SendOtpDto),
        summary: 'Send an OTP challenge for a project (as POST /v1/send-otp; the code is never in the answer)',
        response: responses({ 201: verificationSchema }, [400, 401, 403, 404, 409, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const project = await projects.get((request.params as { id: string }).id);
      const dto = await validateBody(SendOtpDto, request.body, (d) => [
        webhooks.callbackProblem(d.callbackUrl),
        ...suppliedCodeDetails(d, project.settings.codeType),
      ]);
      return reply.status(201).send(ok(await challenges.send(project.id, dto)));
    },
  );

  app.post(
    '/admin/projects/:id/send-sms',
    {
      schema: {
        tags,
        security,
        params: idParam,
        body: bodySchema(SendSmsDto),
        summary: 'Send one SMS for a project (as POST /v1/send-sms)',
        response: responses({ 201: smsAcceptedSchema }, [400, 401, 403, 404, 409, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const project = await projects.get((request.params as { id: string }).id);
      const dto = await validateBody(SendSmsDto, request.body, (d) => [
        webhooks.callbackProblem(d.callbackUrl),
        ...smsOptionProblems(d),
      ]);
      return reply.status(201).send(ok(await sms.send(project.id, sendSmsInputOf(dto))));
    },
  );
}
