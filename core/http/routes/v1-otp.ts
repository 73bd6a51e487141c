import type { FastifyInstance } from 'fastify';
import { apiError } from '../../errors.js';
import type { ChallengeService } from '../../sending/challenges.js';
import type { IdempotencyService } from '../../services/idempotency.js';
import type { ProjectService } from '../../services/projects.js';
import type { ResendService } from '../../sending/resends.js';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { projectOf } from '../auth.js';
import { suppliedCodeDetails, SendOtpDto, VerifyOtpDto } from '../dtos/otp.js';
import { ok } from '../envelope.js';
import { runIdempotent } from '../idempotency.js';
import { bodySchema, responses } from '../openapi.js';
import { EXAMPLES, verificationSchema, verifyResultSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

const verification = verificationSchema;
const idParam = {
  type: 'object',
  properties: { id: { type: 'string', description: 'ver_...', example: EXAMPLES.verificationId } },
  required: ['id'],
};
const idempotencyKey = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description: 'Retry safely: the same key and body answer the first response again (24 hours).',
      example: 'order-A-1042-otp',
    },
  },
};
const security = [{ apiKey: [] }];

function suppliesCode(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}

/** What otpRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface OtpRouteDeps {
  challenges: ChallengeService;
  idempotency: IdempotencyService;
  resends: ResendService;
  webhooks: WebhookEndpoints;
  projects: ProjectService;
}

/** OTP challenges: send, verify, read, cancel (docs/api.md "OTP verification"). */
export async function otpRoutes(app: FastifyInstance, deps: OtpRouteDeps): Promise<void> {
  const { challenges, idempotency, resends, webhooks, projects } = deps;

  app.post(
    '/v1/send-otp',
    {
      schema: {
        tags: ['otp'],
        summary: 'Send an OTP challenge',
        security,
        headers: idempotencyKey,
        body: bodySchema(SendOtpDto),
        response: responses({ 201: verification }, [400, 401, 409, 413, 422, 429, 503]),
      },
    },
    async (request, reply) => {
      const projectId = projectOf(request);
      return runIdempotent(idempotency, projectId, request, reply, 201, async () => {
        // A supplied code must fit codeType, whose default is the project's (read only when needed).
        const codeType = suppliesCode(request.body) ? (await projects.get(projectId)).settings.codeType : undefined;
        const dto = await validateBody(
          SendOtpDto,
          request.body,
          (d) => [webhooks.callbackProblem(d.callbackUrl), ...suppliedCodeDetails(d, codeType)],
          { fast: true },
        );
        return { status: 201, body: ok(await challenges.send(projectId, dto)) };
      });
    },
  );

  app.post(
    '/v1/verify-otp',
    {
      schema: {
        tags: ['otp'],
        summary: 'Verify a code',
        security,
        body: bodySchema(VerifyOtpDto),
        response: responses({ 200: verifyResultSchema }, [400, 401, 404, 409, 410]),
      },
    },
    async (request) => {
      const dto = await validateBody(VerifyOtpDto, request.body, undefined, { fast: true });
      const otp = dto.otp ?? dto.code;
      if (otp === undefined)
        throw apiError('VALIDATION_FAILED', { details: [{ field: 'otp', message: 'otp is required' }] });
      return ok(await challenges.verify(projectOf(request), dto.verificationId, otp));
    },
  );

  app.get(
    '/v1/verifications/:id',
    {
      schema: {
        tags: ['otp'],
        summary: 'Read a challenge (never the code)',
        security,
        params: idParam,
        response: responses({ 200: verification }, [401, 404]),
      },
    },
    async (request) => ok(await challenges.get(projectOf(request), (request.params as { id: string }).id)),
  );

  app.post(
    '/v1/verifications/:id/cancel',
    {
      schema: {
        tags: ['otp'],
        summary: 'Cancel a pending challenge',
        security,
        params: idParam,
        response: responses({ 200: verification }, [401, 404, 409, 410]),
      },
    },
    async (request) => ok(await challenges.cancel(projectOf(request), (request.params as { id: string }).id)),
  );

  app.post(
    '/v1/verifications/:id/resend',
    {
      schema: {
        tags: ['otp'],
        security,
        params: idParam,
        response: responses({ 200: verification }, [401, 404, 409, 410, 429]),
        summary:
          'Send a pending challenge again (a new code; earlier codes stay valid), preferring another device or SIM',
      },
    },
    async (request) => ok(await resends.resend(projectOf(request), (request.params as { id: string }).id)),
  );
}
