/**
 * The ordered, frozen list of migrations. Forward-only in production; each has a `down` for development.
 * Migrations import nothing from the app: they describe the schema as it was when they were written.
 */
import * as m001 from './001-foundation.js';
import * as m002 from './002-sms-batches-stats.js';
import * as m003 from './003-templates-test-numbers.js';
import * as m004 from './004-device-transport.js';
import * as m005 from './005-inbound-sms.js';
import * as m006 from './006-webhooks.js';
import * as m007 from './007-rentals.js';
import * as m008 from './008-leases-resends.js';
import * as m009 from './009-stats-shards.js';
import * as m010 from './010-idempotency-json.js';
import * as m011 from './011-outbox.js';
import * as m012 from './012-smsgate-third-party.js';
import * as m013 from './013-scheduling-data-sms.js';

export const MIGRATIONS = [
  { name: '001-foundation', ...m001 },
  { name: '002-sms-batches-stats', ...m002 },
  { name: '003-templates-test-numbers', ...m003 },
  { name: '004-device-transport', ...m004 },
  { name: '005-inbound-sms', ...m005 },
  { name: '006-webhooks', ...m006 },
  { name: '007-rentals', ...m007 },
  { name: '008-leases-resends', ...m008 },
  { name: '009-stats-shards', ...m009 },
  { name: '010-idempotency-json', ...m010 },
  { name: '011-outbox', ...m011 },
  { name: '012-smsgate-third-party', ...m012 },
  { name: '013-scheduling-data-sms', ...m013 },
] as const;
