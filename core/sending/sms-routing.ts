import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError, isApiError, type ApiError } from '../errors.js';
import { isId } from '../ids.js';
import { Router, type RouteDecision, type RouteNeeds, type RoutingMessage } from '../delivery/router.js';
import { TOKENS } from '../tokens.js';
import { invalidField, type PreparedEntry } from './sms-content.js';
import type { SmsOptions } from './sms-options.js';

/** The options of a request (or a bulk entry) that ask something of its phone. */
export type NeedOptions = Pick<SmsOptions, 'deviceId' | 'simSlot' | 'encryptedContent'>;

/**
 * Where custom SMS go: a phone routed by the project's strategy, or the one pinned by `deviceId`,
 * with what the message needs of it (a SIM slot, data SMS, decrypting). Turns a message no
 * phone can take into the catalogue's error.
 */
@injectable()
export class SmsRouting {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly router: Router,
  ) {}

  /** One message's phone; none: the catalogue error (DEVICE_NOT_LINKED, a field's VALIDATION_FAILED, NOT_FOUND). */
  async routeOne(
    message: RoutingMessage,
    strategy: string,
    needs: RouteNeeds | undefined,
  ): Promise<{ deviceId: string; simSlot?: number | null }> {
    if (needs?.deviceId !== undefined) await this.checkPin(message.projectId, { ...needs, deviceId: needs.deviceId });
    const [route] = await this.router.routeMany(message.projectId, [message], strategy, needs);
    if (!('deviceId' in route!)) throw await this.noRoute(message.projectId, route!);
    return route;
  }

  /**
   * A pinned device (`deviceId`) must be one of the project's linked phones (an unlinked one of
   * its own: DEVICE_NOT_LINKED; any other id: NOT_FOUND, as for another project's resources), have
   * the SIM slot asked for and, for a data SMS, declare `data-sms`. The snapshot answers; only an
   * id it does not know costs a query.
   */
  async checkPin(projectId: string, needs: RouteNeeds & { deviceId: string }): Promise<void> {
    const problem = await this.router.pinProblem(projectId, needs);
    if (problem === null) return;
    if (problem === 'sim-slot')
      throw invalidField('simSlot', `the device ${needs.deviceId} has no SIM in slot ${needs.simSlot}`);
    if (problem === 'data-sms')
      throw invalidField(
        'deviceId',
        `the device ${needs.deviceId} does not send data SMS (it did not declare the data-sms capability)`,
      );
    if (problem === 'encrypted-content')
      throw invalidField(
        'deviceId',
        `the device ${needs.deviceId} cannot decrypt encrypted content (it has no encrypted-content capability)`,
      );
    const row: { project_id: string; status: string } | undefined = isId('dev', needs.deviceId)
      ? await this.db('devices').select('project_id', 'status').where({ id: needs.deviceId }).first()
      : undefined;
    if (row?.project_id === projectId && row.status === 'unlinked') {
      throw apiError('DEVICE_NOT_LINKED', {
        message: `The device ${needs.deviceId} is no longer linked to this project.`,
        details: [{ field: 'deviceId', message: 'the device was unlinked' }],
      });
    }
    throw apiError('NOT_FOUND', {
      message: 'No device with this id in this project.',
      details: [{ field: 'deviceId', message: 'no device with this id in this project' }],
    });
  }

  /** The catalogue error for a request no phone can take. */
  async noRoute(projectId: string, decision: RouteDecision & { reason: string }): Promise<ApiError> {
    if ((await this.router.devicesOf(projectId)).length === 0) return apiError('DEVICE_NOT_LINKED');
    if (decision.reason === 'NO_DATA_SMS_DEVICE') {
      return apiError('DEVICE_NOT_LINKED', {
        message: 'No phone of this project sends data SMS (none declared the data-sms capability).',
        details: [{ field: 'data', message: 'no phone of this project sends data SMS' }],
      });
    }
    if (decision.reason === 'NO_ENCRYPTED_CONTENT_DEVICE') {
      return apiError('DEVICE_NOT_LINKED', {
        message: 'No phone of this project can decrypt encrypted content (none has the encrypted-content capability).',
        details: [{ field: 'encryptedContent', message: 'no phone of this project decrypts encrypted content' }],
      });
    }
    if (decision.reason === 'NO_DEVICE_WITH_SIM_SLOT')
      return invalidField('simSlot', 'no phone of this project has a SIM in this slot');
    return apiError('DEVICE_NOT_LINKED');
  }

  /**
   * Routes a bulk request's messages in one pass per kind of need (the request's, or an entry's
   * own `deviceId`/`simSlot`, and data SMS, which need a phone that sends them). A device pinned
   * by the request that cannot take its messages fails the request; one pinned by an entry
   * rejects the entries that name it (`refused`, by position in `prepared`).
   */
  async routeBulk(
    projectId: string,
    requestDeviceId: string | undefined,
    prepared: PreparedEntry[],
    routing: RoutingMessage[],
    strategy: string,
  ): Promise<{ decisions: RouteDecision[]; refused: Map<number, ApiError> }> {
    const groups = new Map<string, { needs: RouteNeeds | undefined; positions: number[] }>();
    prepared.forEach((p, i) => {
      const needs = needsOf(p.options, p.dataPort !== null);
      const key =
        needs === undefined
          ? ''
          : `${needs.deviceId ?? ''}|${needs.simSlot ?? ''}|${needs.dataSms ? 1 : 0}|${needs.encryptedContent ? 1 : 0}`;
      const group = groups.get(key) ?? { needs, positions: [] };
      group.positions.push(i);
      groups.set(key, group);
    });
    const decisions: RouteDecision[] = new Array(prepared.length);
    const refused = new Map<number, ApiError>();
    for (const { needs, positions } of groups.values()) {
      if (needs?.deviceId !== undefined) {
        const problem = await this.checkPin(projectId, { ...needs, deviceId: needs.deviceId }).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (problem !== undefined) {
          // The request's own deviceId: the request is wrong. An entry's: those entries are.
          if (!isApiError(problem) || needs.deviceId === requestDeviceId) throw problem;
          for (const i of positions) refused.set(i, problem);
          continue;
        }
      }
      const routed = await this.router.routeMany(
        projectId,
        positions.map((i) => routing[i]!),
        strategy,
        needs,
      );
      positions.forEach((i, k) => (decisions[i] = routed[k]!));
    }
    for (const i of refused.keys()) decisions[i] = { reason: 'REFUSED' };
    return { decisions, refused };
  }
}

/** Why a bulk entry found no phone, for its rejection. */
export function unroutedMessage(reason: string): string {
  if (reason === 'NO_DATA_SMS_DEVICE') return 'No phone of this project sends data SMS.';
  if (reason === 'NO_ENCRYPTED_CONTENT_DEVICE') return 'No phone of this project decrypts encrypted content.';
  return `No device could take this message (${reason}).`;
}

/** What the request asks of its phone; undefined when nothing (the common case: routing as before). */
export function needsOf(options: NeedOptions, dataSms: boolean): RouteNeeds | undefined {
  const encrypted = options.encryptedContent === true;
  if (options.deviceId === undefined && options.simSlot === undefined && !dataSms && !encrypted) return undefined;
  return {
    ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
    ...(options.simSlot !== undefined ? { simSlot: options.simSlot } : {}),
    ...(dataSms ? { dataSms: true } : {}),
    ...(encrypted ? { encryptedContent: true } : {}),
  };
}
