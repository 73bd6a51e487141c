import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import { Router, type Route } from './router.js';
import { DispatchService } from './dispatch.js';
import { MessageService, type OutboundMessage } from '../services/messages.js';
import { DEFAULT_PROJECT_SETTINGS, ProjectService } from '../services/projects.js';
import { TOKENS } from '../tokens.js';

/** Routes an OTP message may take in all (the first and at most two re-routes). */
export const MAX_ROUTE_ATTEMPTS = 3;
/** Overdue messages looked at per sweep; the rest wait for the next round. */
const SWEEP_LIMIT = 200;

/**
 * Lease-based re-routing. A phone that took an OTP message (DISPATCHED) holds it on a lease of
 * the project's `otpLeaseSeconds`; when it has not reported `sent` by then, the message goes back
 * through the project's routing strategy, away from that phone (another device, else another
 * SIM), and that phone is told to cancel it.
 *
 * Never sent by two phones when the first reports in time: the move is one UPDATE that applies
 * only while the message is still DISPATCHED to the first phone, so a `sent` committed before it
 * wins; after it, the first phone's reports no longer apply (they must come from the message's
 * device, see MessageTransitions.reported).
 */
@injectable()
export class OtpLeases {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly router: Router,
    private readonly projects: ProjectService,
    private readonly messages: MessageService,
    private readonly dispatch: DispatchService,
  ) {}

  /** Re-routes the OTP messages whose lease ran out. Returns how many moved and how many had no other route. */
  async sweep(now = new Date()): Promise<{ rerouted: number; kept: number }> {
    const lease = `coalesce((p.settings->>'otpLeaseSeconds')::int, ${DEFAULT_PROJECT_SETTINGS.otpLeaseSeconds})`;
    const result = await this.db.raw(
      `select m.id from messages m join projects p on p.id = m.project_id
       where m.kind = 'otp' and m.status = 'DISPATCHED' and m.attempt < ? and m.expires_at > ?
         and ${lease} > 0
         and coalesce(m.lease_checked_at, m.dispatched_at) <= ?::timestamptz - make_interval(secs => ${lease})
       order by m.dispatched_at limit ?`,
      [MAX_ROUTE_ATTEMPTS, now, now.toISOString(), SWEEP_LIMIT],
    );
    const overdue = await this.messages.loadOutbound((result.rows as Array<{ id: string }>).map((r) => r.id));
    let rerouted = 0;
    const cancels = new Map<string, string[]>();
    const woken = new Set<string>();
    for (const message of overdue) {
      const from = message.deviceId;
      if (!from) continue;
      const route = await this.routeAway(message, from);
      if (!route) {
        // Nowhere else to go now: the phone keeps it; look again one lease later.
        await this.db('messages').where({ id: message.id, status: 'DISPATCHED' }).update({ lease_checked_at: now });
        continue;
      }
      if (!(await this.move(message, from, route, now))) continue;
      rerouted++;
      cancels.set(from, [...(cancels.get(from) ?? []), message.id]);
      woken.add(route.deviceId);
      this.log.info(
        { messageId: message.id, from, to: route.deviceId, simSlot: route.simSlot, attempt: message.attempt + 1 },
        'OTP lease ran out: re-routed',
      );
    }
    for (const [deviceId, ids] of cancels) await this.dispatch.cancelOnDevice(deviceId, ids);
    await this.dispatch.signal(woken);
    return { rerouted, kept: overdue.length - rerouted };
  }

  private async routeAway(message: OutboundMessage, from: string): Promise<Route | undefined> {
    const { settings } = await this.projects.get(message.projectId);
    const routing = {
      id: message.id,
      projectId: message.projectId,
      to: message.to,
      body: message.body,
      kind: message.kind,
      attempt: message.attempt + 1,
    };
    return this.router.routeAway(routing, settings.routing, { deviceId: from, simSlot: message.simSlot });
  }

  /** Moves the message to its new route, QUEUED again, if the first phone still holds it unreported. */
  private async move(message: OutboundMessage, from: string, route: Route, now: Date): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const moved = await trx('messages')
        .where({ id: message.id, status: 'DISPATCHED', device_id: from })
        .update({
          device_id: route.deviceId,
          sim_slot: route.simSlot,
          status: 'QUEUED',
          attempt: trx.raw('attempt + 1'),
          dispatched_at: null,
          lease_checked_at: null,
          updated_at: now,
        });
      if (moved > 0)
        await trx('verifications')
          .where({ message_id: message.id })
          .update({ device_id: route.deviceId, updated_at: now });
      return moved > 0;
    });
  }
}
