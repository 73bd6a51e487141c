/**
 * Restart under the fleet: a bulk of `queued` messages is accepted (round-robin over the fleet),
 * SMX is killed with SIGKILL right after the 202 (plus an optional delay), started again on the
 * same ports, schema and Redis prefix, and the phones come back on their own (jittered backoff).
 * Reports, from the kill: SMX ready, every phone back (CONNACK), every message at a phone; lost
 * messages; duplicate copies, with their DUP flag and whether the phone had PUBACKed the first
 * copy before the kill (only unacknowledged messages may come again, and then with DUP=1).
 */
import { SmxClient } from './http-client.js';
import type { FleetPool } from './fleet-pool.js';
import { bar, note } from './progress.js';
import { SmxProcess } from './server-process.js';
import { round } from './stats.js';

export interface RestartResult {
  queued: number;
  bulkStatus: number;
  /** Received by the phones before the kill. */
  receivedBeforeKill: number;
  /** Seconds from the kill. */
  smxReadyS: number | null;
  allPhonesBackS: number | null;
  allReceivedS: number | null;
  received: number;
  lost: number;
  duplicates: number;
  duplicatesWithDup: number;
  /** Copies of a message whose first copy reached the phone before the kill. */
  duplicatesOfPreKill: number;
  /** Copies of a message whose first copy the phone PUBACKed ≥ 100 ms before the kill (must be 0). */
  duplicatesOfAcked: number;
  connackTimeouts: number;
}

export async function restartUnderFleet(
  current: SmxProcess,
  pool: FleetPool,
  options: {
    phones: number;
    apiKey: string;
    queued: number;
    killDelayMs: number;
    timeoutS: number;
    numbers: () => string;
  },
): Promise<{ result: RestartResult; smx: SmxProcess | undefined }> {
  await pool.quiesce(); // late messages of the last phase would count as this bulk's
  await pool.reset();
  const timeoutsBefore = (await pool.count()).connackTimeouts;
  const client = new SmxClient(current.url, current.options.adminToken);
  const to = Array.from({ length: options.queued }, () => options.numbers());
  const bulk = await client.api(options.apiKey, 'POST', '/v1/send-sms/bulk', { to, message: 'fleet restart' });
  if (options.killDelayMs > 0) await new Promise((r) => setTimeout(r, options.killDelayMs));
  const killedAt = Date.now();
  current.child.kill('SIGKILL');
  await new Promise<void>((resolve) => (current.running ? current.child.once('exit', () => resolve()) : resolve()));
  await current.stop(); // removes its data dir; the process is gone already
  note(`SMX killed (bulk answered ${bulk.status}); starting it again on the same ports`);

  let smx: SmxProcess | undefined;
  let smxReadyS: number | null = null;
  try {
    smx = await SmxProcess.start(current.options);
    smxReadyS = round((Date.now() - killedAt) / 1000, 2);
  } catch (err) {
    note(`restart: ${(err as Error).message}`);
  }

  let allPhonesBackS: number | null = null;
  let allReceivedS: number | null = null;
  const progress = bar('restart: back / received', options.phones + options.queued, '');
  let count = await pool.count();
  while (smx && (allPhonesBackS === null || allReceivedS === null) && Date.now() - killedAt < options.timeoutS * 1000) {
    await new Promise((r) => setTimeout(r, 250));
    count = await pool.count();
    const s = round((Date.now() - killedAt) / 1000, 2);
    if (allPhonesBackS === null && count.connected >= options.phones) allPhonesBackS = s;
    if (allReceivedS === null && count.received >= options.queued) allReceivedS = s;
    progress.update(
      count.connected + Math.min(count.received, options.queued),
      `${count.connected} back, ${count.received} received, ${s} s`,
    );
  }
  progress.stop();
  await new Promise((r) => setTimeout(r, 2000)); // late copies of a duplicate
  const { receipts, copies } = await pool.dump();
  const beforeKill = new Set(receipts.filter(([, at]) => at < killedAt).map(([id]) => id));
  const ackedBeforeKill = new Set(
    receipts.filter(([, , , ackedAt]) => ackedAt > 0 && ackedAt <= killedAt - 100).map(([id]) => id),
  );
  return {
    smx,
    result: {
      queued: options.queued,
      bulkStatus: bulk.status,
      receivedBeforeKill: receipts.filter(([, at]) => at < killedAt).length,
      smxReadyS,
      allPhonesBackS,
      allReceivedS,
      received: receipts.length,
      lost: Math.max(0, options.queued - receipts.length),
      duplicates: copies.length,
      duplicatesWithDup: copies.filter(([, , dup]) => dup).length,
      duplicatesOfPreKill: copies.filter(([id]) => beforeKill.has(id)).length,
      duplicatesOfAcked: copies.filter(([id]) => ackedBeforeKill.has(id)).length,
      connackTimeouts: (await pool.count()).connackTimeouts - timeoutsBefore,
    },
  };
}
