/**
 * The ordered, frozen list of migrations. Forward-only in production; each has a `down` for development.
 * Migrations import nothing from the app: they describe the schema as it was when they were written.
 */
import * as m001 from './001-foundation.js';
import * as m002 from './002-sms-batches-stats.js';

export const MIGRATIONS = [
  { name: '001-foundation', ...m001 },
  { name: '002-sms-batches-stats', ...m002 },
] as const;
