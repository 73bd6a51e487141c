/**
 * The ordered, frozen list of migrations. Forward-only in production; each has a `down` for development.
 * Migrations import nothing from the app: they describe the schema as it was when they were written.
 */
import * as m001 from './001-foundation.js';

export const MIGRATIONS = [{ name: '001-foundation', ...m001 }] as const;
