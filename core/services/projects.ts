import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { CacheBus, TtlCache } from '../cache.js';
import { apiError } from '../errors.js';
import { newId } from '../ids.js';
import { TOKENS } from '../tokens.js';

import { CODE_TYPES, type CodeType } from '../otp-codes.js';

export { CODE_TYPES, type CodeType };
export const LANGUAGES = ['en', 'de', 'es', 'fr', 'it', 'pt', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Per-project OTP defaults and limits (PATCH /admin/projects/:id). */
export interface ProjectSettings {
  codeLength: number;
  codeType: CodeType;
  ttl: number;
  maxAttempts: number;
  defaultLanguage: Language;
  /** Name of the routing strategy (plugins may add more). */
  routing: string;
  rateLimits: {
    /** OTP sends per destination number per window. */
    perNumber: number;
    perNumberWindowSeconds: number;
    /** Sends per project per minute; 0 = no limit. */
    perProjectPerMinute: number;
    /**
     * OTP sends per destination prefix (`"+234": 100`, the longest matching prefix counts) per
     * window, across the project: the SMS pumping guard for expensive or abused destinations.
     */
    perCountryPrefix: Readonly<Record<string, number>>;
    perCountryPrefixWindowSeconds: number;
    /** Resends per verification, and the least time between two sends of its SMS. */
    resendsPerVerification: number;
    resendIntervalSeconds: number;
  };
  /** Seconds a phone has to report a dispatched OTP sent before it is re-routed; 0 = never. */
  otpLeaseSeconds: number;
  /** ISO 3166-1 alpha-2 countries send-otp/send-sms may reach; empty = all. */
  allowedCountries: readonly string[];
}

export const DEFAULT_PROJECT_SETTINGS = {
  codeLength: 6,
  codeType: 'numeric',
  ttl: 300,
  maxAttempts: 5,
  defaultLanguage: 'en',
  routing: 'active-device',
  rateLimits: {
    perNumber: 5,
    perNumberWindowSeconds: 600,
    perProjectPerMinute: 0,
    perCountryPrefix: {},
    perCountryPrefixWindowSeconds: 3600,
    resendsPerVerification: 3,
    resendIntervalSeconds: 30,
  },
  otpLeaseSeconds: 30,
  allowedCountries: [],
} as const satisfies ProjectSettings;

export interface Project {
  id: string;
  name: string;
  settings: ProjectSettings;
  createdAt: string;
  updatedAt: string;
}

interface ProjectRow {
  id: string;
  name: string;
  settings: Partial<ProjectSettings> | string;
  created_at: Date;
  updated_at: Date;
}

export type ProjectSettingsPatch = Partial<Omit<ProjectSettings, 'rateLimits'>> & {
  rateLimits?: Partial<ProjectSettings['rateLimits']>;
};

/** Projects (tenants): every other resource belongs to exactly one. */
@injectable()
export class ProjectService {
  /** Settings are read on every send; a change is evicted everywhere (see CacheBus). */
  private readonly cache = new TtlCache<Project>(10_000);

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly bus: CacheBus,
  ) {
    bus.on('project', (id) => this.cache.delete(id));
  }

  async create(name: string): Promise<Project> {
    const now = new Date();
    const row: ProjectRow = { id: newId('prj'), name, settings: {}, created_at: now, updated_at: now };
    await this.db('projects').insert({ ...row, settings: JSON.stringify({}) });
    return toProject(row);
  }

  async list(): Promise<Project[]> {
    const rows: ProjectRow[] = await this.db('projects').select('*').orderBy('created_at', 'asc');
    return rows.map(toProject);
  }

  /** Throws NOT_FOUND for an unknown id. */
  async get(id: string): Promise<Project> {
    const project = await this.cache.getOrLoad(id, async () => {
      const row: ProjectRow | undefined = await this.db('projects').where({ id }).first();
      return row ? toProject(row) : undefined;
    });
    if (!project) throw apiError('NOT_FOUND', { message: 'No project with this id.' });
    return project;
  }

  async update(id: string, patch: { name?: string; settings?: ProjectSettingsPatch }): Promise<Project> {
    const project = await this.db.transaction(async (trx) => {
      const row: ProjectRow | undefined = await trx('projects').where({ id }).forUpdate().first();
      if (!row) throw apiError('NOT_FOUND', { message: 'No project with this id.' });
      const current = parseSettings(row.settings);
      const { rateLimits, ...rest } = patch.settings ?? {};
      // A field the patch does not set (present as undefined on a validated DTO) changes nothing.
      const stored = {
        ...current,
        ...definedOnly(rest),
        rateLimits: { ...current.rateLimits, ...definedOnly(rateLimits ?? {}) },
      };
      const updated = { name: patch.name ?? row.name, settings: JSON.stringify(stored), updated_at: new Date() };
      await trx('projects').where({ id }).update(updated);
      return toProject({ ...row, ...updated, settings: stored });
    });
    await this.bus.invalidate('project', id);
    return project;
  }

  /** Deletes the project and, by cascade, everything it owns. */
  async remove(id: string): Promise<void> {
    const count = await this.db('projects').where({ id }).delete();
    if (count === 0) throw apiError('NOT_FOUND', { message: 'No project with this id.' });
    await this.bus.invalidate('project', id);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function parseSettings(raw: ProjectRow['settings']): ProjectSettings {
  const stored = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Partial<ProjectSettings>;
  return {
    ...DEFAULT_PROJECT_SETTINGS,
    ...stored,
    rateLimits: { ...DEFAULT_PROJECT_SETTINGS.rateLimits, ...stored.rateLimits },
  };
}

function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    settings: parseSettings(row.settings),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
