import { MicroBatcher } from '../batching/micro-batcher.js';
import { injectable } from '../di.js';
import { MessageTransitions } from '../services/message-transitions.js';
import type { MessageStatus, StatusUpdate } from '../services/messages.js';

interface Report {
  deviceId: string;
  updates: StatusUpdate[];
  receivedAt: Date;
}

/** A message a report moved forward, with the update of that report that moved it. */
export interface AppliedUpdate {
  id: string;
  status: MessageStatus;
  update: StatusUpdate;
}

/**
 * Group commit for phones' status reports. Reports that wait while earlier ones are being
 * written go out together, one statement per device: under load the `sent` and `delivered`
 * reports of the same messages usually share one write instead of two (a message row is written
 * once for both). Each report resolves only after its group committed, with the messages its own
 * updates moved; a failed group fails only its reports.
 */
@injectable()
export class StatusReports {
  private readonly batcher = new MicroBatcher<Report, AppliedUpdate[]>({ flush: (reports) => this.flush(reports), maxSize: 200, concurrency: 2 });

  constructor(private readonly transitions: MessageTransitions) {}

  apply(deviceId: string, updates: StatusUpdate[], receivedAt: Date): Promise<AppliedUpdate[]> {
    return this.batcher.add({ deviceId, updates, receivedAt });
  }

  private async flush(reports: Report[]): Promise<Array<AppliedUpdate[] | Error>> {
    const results: Array<AppliedUpdate[] | Error> = reports.map(() => []);
    const byDevice = new Map<string, number[]>();
    reports.forEach((r, i) => byDevice.set(r.deviceId, [...(byDevice.get(r.deviceId) ?? []), i]));
    await Promise.all(
      [...byDevice].map(async ([deviceId, indexes]) => {
        // Each update keeps its own report's receipt time when the phone gave none.
        const merged = indexes.flatMap((i) => reports[i]!.updates.map((u) => ({ ...u, at: u.at ?? reports[i]!.receivedAt.toISOString() })));
        const receivedAt = new Date(Math.max(...indexes.map((i) => reports[i]!.receivedAt.getTime())));
        try {
          for (const row of await this.transitions.reported(deviceId, merged, receivedAt)) {
            // The change belongs to the (last) report whose update reached that status.
            const owner = [...indexes].reverse().find((i) => reports[i]!.updates.some((u) => u.id === row.id && u.state.toUpperCase() === row.status));
            if (owner === undefined) continue;
            const update = reports[owner]!.updates.findLast((u) => u.id === row.id && u.state.toUpperCase() === row.status)!;
            (results[owner] as AppliedUpdate[]).push({ ...row, update });
          }
        } catch (error) {
          for (const i of indexes) results[i] = error as Error;
        }
      }),
    );
    return results;
  }
}
