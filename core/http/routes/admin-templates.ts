import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { TemplateService } from '../../services/templates.js';
import { TestNumberService } from '../../services/test-numbers.js';
import { CreateTestNumberDto, SetTemplateDto } from '../dtos/templates.js';
import { ok } from '../envelope.js';
import { bodySchema } from '../openapi.js';
import { validateBody } from '../validation.js';

const security = [{ adminToken: [] }];
const tags = ['admin'];
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };

/** Per-project OTP templates and test numbers (spec/api.md "Admin API"). */
export async function adminTemplateRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const templates = c.resolve(TemplateService);
  const testNumbers = c.resolve(TestNumberService);

  app.get('/admin/projects/:id/templates', { schema: { tags, security, params: idParam, summary: 'List the OTP template of every language (custom or built-in)' } }, async (request) => {
    const { id } = request.params as { id: string };
    return ok({ templates: await templates.list(id) });
  });

  app.put('/admin/projects/:id/templates/:language', { schema: { tags, security, summary: 'Set the project\'s OTP template for a language', body: bodySchema(SetTemplateDto) } }, async (request) => {
    const { id, language } = request.params as { id: string; language: string };
    const dto = await validateBody(SetTemplateDto, request.body);
    return ok(await templates.set(id, language, dto.text));
  });

  app.delete('/admin/projects/:id/templates/:language', { schema: { tags, security, summary: 'Reset a language to the built-in OTP template' } }, async (request) => {
    const { id, language } = request.params as { id: string; language: string };
    return ok(await templates.reset(id, language));
  });

  app.post('/admin/projects/:id/test-numbers', { schema: { tags, security, params: idParam, summary: 'Add a test number with a fixed code (the code is never shown again)', body: bodySchema(CreateTestNumberDto) } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const dto = await validateBody(CreateTestNumberDto, request.body);
    return reply.status(201).send(ok(await testNumbers.add(id, dto.number, dto.code)));
  });

  app.get('/admin/projects/:id/test-numbers', { schema: { tags, security, params: idParam, summary: 'List test numbers (no codes)' } }, async (request) => {
    const { id } = request.params as { id: string };
    return ok({ testNumbers: await testNumbers.list(id) });
  });

  app.delete('/admin/projects/:id/test-numbers/:number', { schema: { tags, security, summary: 'Remove a test number (URL-encode the +)' } }, async (request) => {
    const { id, number } = request.params as { id: string; number: string };
    await testNumbers.remove(id, number);
    return ok({ number, deleted: true });
  });
}
