import type { Knex } from 'knex';
import { CacheBus, TtlCache } from '../cache.js';
import { hmac } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { normalizeCode } from '../otp-codes.js';
import type { RuntimeConfig } from '../secrets.js';
import { TOKENS } from '../tokens.js';
import { ProjectService } from './projects.js';

/**
 * E.164 by shape only: test numbers are often fictional (+1 555 01xx) and would fail
 * libphonenumber's validity check, which is the point of them.
 */
export const TEST_NUMBER_PATTERN = /^\+[1-9]\d{6,14}$/;
export const TEST_CODE_PATTERN = /^[A-Za-z0-9]{4,12}$/;

export interface TestNumberView {
  number: string;
  createdAt: string;
}

interface TestNumberRow {
  project_id: string;
  number: string;
  code_hash: string;
  created_at: Date;
}

/**
 * Admin-configured numbers with a fixed code (app-store review, QA). Their challenges are
 * `test: true`, send no SMS and verify with the fixed code.
 *
 * The code is kept only as `testCodeHash()`: an HMAC with the server secret bound to the project
 * and the number. A test challenge copies that hash into its own `code_hash` when it is created,
 * and verify hashes the guess the same way for a `test` challenge (see ChallengeService.verify):
 * so the fixed code is never stored in plain, and deleting or changing the test number does not
 * change what an already open challenge accepts.
 */
@injectable()
export class TestNumberService {
  /** number -> code hash, per project; read on every send-otp. */
  private readonly cache = new TtlCache<Map<string, string>>(10_000);

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    private readonly projects: ProjectService,
    private readonly bus: CacheBus,
  ) {
    bus.on('test-numbers', (projectId) => this.cache.delete(projectId));
    bus.on('project', (projectId) => this.cache.delete(projectId));
  }

  /** The code hash of `to` when it is one of the project's test numbers (E.164 as given), else undefined. */
  async match(projectId: string, to: string): Promise<string | undefined> {
    const number = to.trim();
    if (!TEST_NUMBER_PATTERN.test(number)) return undefined;
    const numbers = await this.cache.getOrLoad(projectId, async () => {
      const rows: TestNumberRow[] = await this.db('test_numbers')
        .where({ project_id: projectId })
        .select('number', 'code_hash');
      return new Map(rows.map((r) => [r.number, r.code_hash]));
    });
    return numbers?.get(number);
  }

  /** The hash a test number's code is kept as, and what a test challenge's guesses are compared with. */
  testCodeHash(projectId: string, number: string, code: string): string {
    return hmac(this.config.secret, `otp-test:${projectId}:${number}:${normalizeCode(code)}`);
  }

  /** Adds a test number, or replaces its code. */
  async add(projectId: string, number: string, code: string): Promise<TestNumberView> {
    await this.projects.get(projectId);
    const now = new Date();
    const [row]: TestNumberRow[] = await this.db('test_numbers')
      .insert({ project_id: projectId, number, code_hash: this.testCodeHash(projectId, number, code), created_at: now })
      .onConflict(['project_id', 'number'])
      .merge(['code_hash'])
      .returning(['number', 'created_at']);
    await this.bus.invalidate('test-numbers', projectId);
    return toView(row!);
  }

  async list(projectId: string): Promise<TestNumberView[]> {
    await this.projects.get(projectId);
    const rows: TestNumberRow[] = await this.db('test_numbers')
      .where({ project_id: projectId })
      .orderBy('created_at', 'asc')
      .select('number', 'created_at');
    return rows.map(toView);
  }

  async remove(projectId: string, number: string): Promise<void> {
    await this.projects.get(projectId);
    const count = await this.db('test_numbers').where({ project_id: projectId, number }).delete();
    if (count === 0) throw apiError('NOT_FOUND', { message: 'No test number like this in this project.' });
    await this.bus.invalidate('test-numbers', projectId);
  }
}

function toView(row: Pick<TestNumberRow, 'number' | 'created_at'>): TestNumberView {
  return { number: row.number, createdAt: new Date(row.created_at).toISOString() };
}
