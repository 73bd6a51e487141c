import type { Knex } from 'knex';
import { CacheBus, TtlCache } from '../cache.js';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { BUILT_IN_TEMPLATES, hasCodePlaceholder } from '../templates.js';
import { TOKENS } from '../tokens.js';
import { LANGUAGES, ProjectService, type Language } from './projects.js';

/** Longest template text accepted (a few SMS parts; the code adds little). */
export const TEMPLATE_MAX_LENGTH = 1000;

export interface TemplateListEntry {
  language: Language;
  text: string;
  /** true when the project set its own text; false for the built-in one. */
  custom: boolean;
}

interface TemplateRow {
  project_id: string;
  language: Language;
  text: string;
  updated_at: Date;
}

/** A project's own OTP templates per language (admin API); the built-in text fills the gaps. */
@injectable()
export class TemplateService {
  /** Read on every send-otp; a change is evicted everywhere through the CacheBus. */
  private readonly cache = new TtlCache<Partial<Record<Language, string>>>(10_000);

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly projects: ProjectService,
    private readonly bus: CacheBus,
  ) {
    bus.on('templates', (projectId) => this.cache.delete(projectId));
    // A deleted project's rows go by cascade; its entry must not outlive it.
    bus.on('project', (projectId) => this.cache.delete(projectId));
  }

  /** The project's own texts by language (only those it set). */
  async custom(projectId: string): Promise<Partial<Record<Language, string>>> {
    const found = await this.cache.getOrLoad(projectId, async () => {
      const rows: TemplateRow[] = await this.db('templates')
        .where({ project_id: projectId })
        .select('language', 'text');
      return Object.fromEntries(rows.map((r) => [r.language, r.text])) as Partial<Record<Language, string>>;
    });
    return found ?? {};
  }

  /** The text send-otp uses for a language when the request gives none: the project's, else built-in. */
  async forLanguage(projectId: string, language: Language): Promise<string> {
    return (await this.custom(projectId))[language] ?? BUILT_IN_TEMPLATES[language];
  }

  /** All seven languages, custom or built-in. Throws NOT_FOUND for an unknown project. */
  async list(projectId: string): Promise<TemplateListEntry[]> {
    await this.projects.get(projectId);
    const custom = await this.custom(projectId);
    return LANGUAGES.map((language) => ({
      language,
      text: custom[language] ?? BUILT_IN_TEMPLATES[language],
      custom: custom[language] !== undefined,
    }));
  }

  async set(
    projectId: string,
    language: string,
    text: string,
  ): Promise<{ language: Language; text: string; updatedAt: string }> {
    const lang = checkLanguage(language);
    if (!hasCodePlaceholder(text))
      throw apiError('VALIDATION_FAILED', {
        details: [{ field: 'text', message: 'text must contain {{code}} (or {{pin}})' }],
      });
    await this.projects.get(projectId);
    const now = new Date();
    await this.db('templates')
      .insert({ project_id: projectId, language: lang, text, updated_at: now })
      .onConflict(['project_id', 'language'])
      .merge(['text', 'updated_at']);
    await this.bus.invalidate('templates', projectId);
    return { language: lang, text, updatedAt: now.toISOString() };
  }

  /** Back to the built-in text; resetting a language that has no custom text is harmless. */
  async reset(projectId: string, language: string): Promise<TemplateListEntry> {
    const lang = checkLanguage(language);
    await this.projects.get(projectId);
    await this.db('templates').where({ project_id: projectId, language: lang }).delete();
    await this.bus.invalidate('templates', projectId);
    return { language: lang, text: BUILT_IN_TEMPLATES[lang], custom: false };
  }
}

function checkLanguage(language: string): Language {
  if (!(LANGUAGES as readonly string[]).includes(language)) {
    throw apiError('VALIDATION_FAILED', {
      details: [{ field: 'language', message: `language must be one of ${LANGUAGES.join(', ')}` }],
    });
  }
  return language as Language;
}
