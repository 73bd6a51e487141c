import type { FastifyInstance } from 'fastify';
import { LANGUAGES } from '../../services/projects.js';
import type { TemplateService } from '../../services/templates.js';
import type { TestNumberService } from '../../services/test-numbers.js';
import { CreateTestNumberDto, SetTemplateDto } from '../dtos/templates.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { doneSchema, templateSchema, testNumberSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';

const security = [{ adminToken: [] }];
const tags = ['admin'];
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
const languageParams = {
  type: 'object',
  properties: { id: { type: 'string' }, language: { type: 'string', enum: [...LANGUAGES] } },
  required: ['id', 'language'],
};
const numberParams = {
  type: 'object',
  properties: { id: { type: 'string' }, number: { type: 'string', description: 'E.164, the + URL-encoded (%2B)' } },
  required: ['id', 'number'],
};

/** What adminTemplateRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminTemplateRouteDeps {
  templates: TemplateService;
  testNumbers: TestNumberService;
}

/** Per-project OTP templates and test numbers (docs/api.md "Admin API"). */
export async function adminTemplateRoutes(app: FastifyInstance, deps: AdminTemplateRouteDeps): Promise<void> {
  const { templates, testNumbers } = deps;

  app.get(
    '/admin/projects/:id/templates',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'List the OTP template of every language (custom or built-in)',
        response: responses(
          { 200: { type: 'object', properties: { templates: { type: 'array', items: templateSchema } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return ok({ templates: await templates.list(id) });
    },
  );

  app.put(
    '/admin/projects/:id/templates/:language',
    {
      schema: {
        tags,
        security,
        params: languageParams,
        summary: "Set the project's OTP template for a language",
        body: bodySchema(SetTemplateDto),
        response: responses(
          {
            200: {
              type: 'object',
              properties: {
                language: { type: 'string' },
                text: { type: 'string' },
                updatedAt: { type: 'string', format: 'date-time' },
              },
            },
          },
          [400, 401, 403, 404],
        ),
      },
    },
    async (request) => {
      const { id, language } = request.params as { id: string; language: string };
      // The language (a path parameter) is reported together with the body's fields.
      const dto = await validateBody(SetTemplateDto, request.body, () => [
        (LANGUAGES as readonly string[]).includes(language)
          ? null
          : { field: 'language', message: `language must be one of ${LANGUAGES.join(', ')}` },
      ]);
      return ok(await templates.set(id, language, dto.text));
    },
  );

  app.delete(
    '/admin/projects/:id/templates/:language',
    {
      schema: {
        tags,
        security,
        params: languageParams,
        summary: 'Reset a language to the built-in OTP template',
        response: responses({ 200: templateSchema }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      const { id, language } = request.params as { id: string; language: string };
      return ok(await templates.reset(id, language));
    },
  );

  app.post(
    '/admin/projects/:id/test-numbers',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Add a test number with a fixed code (the code is never shown again)',
        body: bodySchema(CreateTestNumberDto),
        response: responses({ 201: testNumberSchema }, [400, 401, 403, 404]),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const dto = await validateBody(CreateTestNumberDto, request.body);
      return reply.status(201).send(ok(await testNumbers.add(id, dto.number, dto.code)));
    },
  );

  app.get(
    '/admin/projects/:id/test-numbers',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'List test numbers (no codes)',
        response: responses(
          { 200: { type: 'object', properties: { testNumbers: { type: 'array', items: testNumberSchema } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return ok({ testNumbers: await testNumbers.list(id) });
    },
  );

  app.delete(
    '/admin/projects/:id/test-numbers/:number',
    {
      schema: {
        tags,
        security,
        params: numberParams,
        summary: 'Remove a test number (URL-encode the +)',
        response: responses({ 200: doneSchema('deleted', 'number') }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id, number } = request.params as { id: string; number: string };
      await testNumbers.remove(id, number);
      return ok({ number, deleted: true });
    },
  );
}
