import { inject, injectable } from '../di.js';
import { CacheBus, TtlCache } from '../cache.js';
import type { Presence } from '../presence/store.js';
import { PresenceView } from '../presence/view.js';
import { decryptsContent, DeviceService, sendsDataSms, type Device } from '../services/devices.js';
import type { Logger } from '../logger.js';
import type { RouteDecision, RoutingDevice, RoutingMessage, RoutingStrategy } from '../plugin-api.js';
import { TOKENS } from '../tokens.js';

// The routing types are the plugin contract's (core/plugin-api.ts); re-exported for core callers.
export type { RouteDecision, RoutingDevice, RoutingMessage, RoutingStrategy };

/** The default: the project's one active device, online or not (an offline phone gets it on return). */
export const activeDevice: RoutingStrategy = (_message, devices) => {
  const active = devices.find((d) => d.active);
  return active ? { deviceId: active.id, simSlot: null } : { reason: 'NO_ACTIVE_DEVICE' };
};

/**
 * The one function every outbound message is routed through. Strategies are registered by name;
 * the plugin layer registers more and a project picks one in its settings.
 */
@injectable()
export class Router {
  private readonly strategies = new Map<string, RoutingStrategy>([['active-device', activeDevice]]);
  private readonly snapshot = new TtlCache<ProjectDevices>(1_000);
  /** The last view built per project, with what it was built from (see {@link prepared}). */
  private readonly built = new Map<
    string,
    { linked: readonly Device[]; presenceChanges: number; view: ProjectDevices }
  >();
  /** Online/offline changes seen per project, and the project of each device routed so far. */
  private readonly presenceChanges = new Map<string, number>();
  private readonly projectOf = new Map<string, string>();

  constructor(
    private readonly devices: DeviceService,
    @inject(TOKENS.Logger) private readonly log: Logger,
    bus: CacheBus,
    private readonly presence: PresenceView,
  ) {
    // A link, unlink or activation is seen at once, not a second later.
    const forget = (projectId: string) => {
      this.snapshot.delete(projectId);
      this.built.delete(projectId);
    };
    bus.on('devices', forget);
    bus.on('project', forget);
    bus.on('presence', (deviceId) => {
      const projectId = this.projectOf.get(deviceId);
      if (projectId) this.presenceChanges.set(projectId, (this.presenceChanges.get(projectId) ?? 0) + 1);
    });
  }

  /**
   * The project's devices as strategies see them, at most a second old: on a busy project every
   * send would otherwise read devices and presence, and a strategy deciding on presence a second
   * old decides as well (an offline phone's messages wait for it anyway). Presence comes from the
   * PresenceView: a fleet's snapshot reads only the phones that changed.
   */
  async devicesOf(projectId: string): Promise<RoutingDevice[]> {
    return (await this.prepared(projectId)).devices;
  }

  /**
   * The project's devices and their ids, looked at once a second (not per message), loads shared.
   * The view is built again only when something changed since the last one: the device rows (a
   * new array from DeviceService) or a phone's online state (a presence notice). A fleet's
   * thousands of phones are then not copied every second, and a strategy that memoizes on the
   * array (round-robin's online list) keeps its work until a phone comes or goes. A lost notice
   * lasts until DeviceService reads the rows again (its 30 s TTL gives a new array).
   */
  private async prepared(projectId: string): Promise<ProjectDevices> {
    const view = await this.snapshot.getOrLoad(projectId, async () => {
      const presenceChanges = this.presenceChanges.get(projectId) ?? 0;
      const linked = await this.devices.linked(projectId);
      const last = this.built.get(projectId);
      if (last && last.linked === linked && last.presenceChanges === presenceChanges) return last.view;
      const presence = await this.presence.getMany(linked.map((d) => d.id));
      const devices = linked.map((d) => toRoutingDevice(d, presence.get(d.id)));
      const built: ProjectDevices = {
        devices,
        ids: new Set(devices.map((d) => d.id)),
        dataSms: new Set(linked.filter(sendsDataSms).map((d) => d.id)),
        decrypts: new Set(linked.filter(decryptsContent).map((d) => d.id)),
      };
      for (const d of linked) this.projectOf.set(d.id, projectId);
      this.built.set(projectId, { linked, presenceChanges, view: built });
      return built;
    });
    return view!;
  }

  register(name: string, strategy: RoutingStrategy): void {
    if (this.strategies.has(name)) throw new Error(`routing strategy "${name}" is already registered`);
    this.strategies.set(name, strategy);
  }

  has(name: string): boolean {
    return this.strategies.has(name);
  }

  /** The registered strategy names (for error messages and docs). */
  names(): string[] {
    return [...this.strategies.keys()];
  }

  /** Routes with the project's strategy; an unknown strategy name falls back to `active-device`, logged. */
  async route(message: RoutingMessage, strategyName: string): Promise<RouteDecision> {
    const [decision] = await this.routeMany(message.projectId, [message], strategyName);
    return decision!;
  }

  /**
   * Routes many messages of one project, reading its devices and their presence once. With
   * `needs` (the request's `deviceId`, `simSlot`, a data SMS) only the devices that meet them are
   * offered to the strategy; when it picks none of them, the first that does (online first) takes
   * the message, so a data SMS or a SIM slot waits for the phone that can send it. A pinned
   * device is taken as it is (the caller checked it with {@link pinProblem}).
   */
  async routeMany(
    projectId: string,
    messages: RoutingMessage[],
    strategyName: string,
    needs?: RouteNeeds,
  ): Promise<RouteDecision[]> {
    const strategy = this.strategy(strategyName, projectId);
    const prepared = await this.prepared(projectId);
    const { ids: known } = prepared;
    let devices = prepared.devices;
    if (needs?.deviceId !== undefined) {
      const pinned: RouteDecision = known.has(needs.deviceId)
        ? { deviceId: needs.deviceId, simSlot: needs.simSlot ?? null }
        : { reason: 'PINNED_DEVICE_NOT_LINKED' };
      return messages.map(() => pinned);
    }
    const constrained =
      needs !== undefined && (needs.simSlot !== undefined || needs.dataSms === true || needs.encryptedContent === true);
    if (constrained) {
      devices = devices.filter((d) => meets(d, needs, prepared));
      if (devices.length === 0) {
        const reason = needs.encryptedContent
          ? 'NO_ENCRYPTED_CONTENT_DEVICE'
          : needs.dataSms
            ? 'NO_DATA_SMS_DEVICE'
            : 'NO_DEVICE_WITH_SIM_SLOT';
        return messages.map(() => ({ reason }));
      }
    }
    const fallback = constrained ? (devices.find((d) => d.online) ?? devices[0]) : undefined;
    const decisions: RouteDecision[] = [];
    for (const message of messages) {
      let decision = await strategy(message, devices);
      if ('deviceId' in decision && !known.has(decision.deviceId))
        decision = { reason: 'STRATEGY_CHOSE_UNKNOWN_DEVICE' };
      if (fallback !== undefined) {
        const chosen = 'deviceId' in decision ? decision.deviceId : undefined;
        if (!devices.some((d) => d.id === chosen)) decision = { deviceId: fallback.id, simSlot: null };
        if (needs?.simSlot !== undefined && 'deviceId' in decision)
          decision = { deviceId: decision.deviceId, simSlot: needs.simSlot };
      }
      decisions.push(decision);
    }
    return decisions;
  }

  /**
   * Why a request may not pin this device (`deviceId`), or null: it is not one of the project's
   * linked phones (`unknown`; the caller tells an unlinked one of its own apart), it has no SIM in
   * the slot asked for, it cannot send a data SMS, or it cannot decrypt encrypted content. From
   * the one-second snapshot: no query.
   */
  async pinProblem(
    projectId: string,
    needs: RouteNeeds & { deviceId: string },
  ): Promise<'unknown' | 'sim-slot' | 'data-sms' | 'encrypted-content' | null> {
    const prepared = await this.prepared(projectId);
    const device = prepared.devices.find((d) => d.id === needs.deviceId);
    if (!device) return 'unknown';
    if (needs.simSlot !== undefined && !device.sims.some((sim) => sim.slot === needs.simSlot)) return 'sim-slot';
    if (needs.dataSms === true && !prepared.dataSms.has(device.id)) return 'data-sms';
    if (needs.encryptedContent === true && !prepared.decrypts.has(device.id)) return 'encrypted-content';
    return null;
  }

  /**
   * Routes a message again, away from the route it had (lease re-routing, resends): the strategy
   * chooses among the project's other devices; when it finds none and the message had a known SIM
   * slot, another SIM of the same phone is taken. Undefined when no other route exists.
   */
  async routeAway(
    message: RoutingMessage,
    strategyName: string,
    avoid: { deviceId: string; simSlot: number | null },
  ): Promise<Route | undefined> {
    const devices = await this.devicesOf(message.projectId);
    const others = devices.filter((d) => d.id !== avoid.deviceId);
    if (others.length > 0) {
      const decision = await this.strategy(strategyName, message.projectId)(message, others);
      if ('deviceId' in decision && others.some((d) => d.id === decision.deviceId))
        return { deviceId: decision.deviceId, simSlot: decision.simSlot ?? null };
    }
    if (avoid.simSlot === null) return undefined;
    const otherSim = devices.find((d) => d.id === avoid.deviceId)?.sims.find((sim) => sim.slot !== avoid.simSlot);
    return otherSim ? { deviceId: avoid.deviceId, simSlot: otherSim.slot } : undefined;
  }

  /** The named strategy; an unknown name falls back to `active-device`, logged. */
  private strategy(name: string, projectId: string): RoutingStrategy {
    const strategy = this.strategies.get(name);
    if (strategy) return strategy;
    this.log.warn({ strategy: name, projectId }, 'unknown routing strategy, using active-device');
    return activeDevice;
  }
}

/** A project's devices as strategies see them, with their ids for checking a strategy's choice. */
interface ProjectDevices {
  devices: RoutingDevice[];
  ids: Set<string>;
  /** Those that declared `data-sms`. */
  dataSms: Set<string>;
  /** Those that decrypt encrypted content (`encrypted-content`: SMSGate-app phones). */
  decrypts: Set<string>;
}

/** What a request asks of the phone that takes its messages (send-sms `deviceId`, `simSlot`, `data`). */
export interface RouteNeeds {
  /** This device and no other (pinned). */
  deviceId?: string;
  /** A SIM in this slot (the device's `sims` must list it). */
  simSlot?: number;
  /** A binary SMS: a device that declared `data-sms`. */
  dataSms?: boolean;
  /** Content encrypted end to end (SMSGate's `isEncrypted`): a device with `encrypted-content`. */
  encryptedContent?: boolean;
}

function meets(device: RoutingDevice, needs: RouteNeeds, prepared: ProjectDevices): boolean {
  if (needs.simSlot !== undefined && !device.sims.some((sim) => sim.slot === needs.simSlot)) return false;
  if (needs.encryptedContent === true && !prepared.decrypts.has(device.id)) return false;
  return needs.dataSms !== true || prepared.dataSms.has(device.id);
}

/** A concrete route: the device, and the SIM slot (null = the phone's default SIM). */
export interface Route {
  deviceId: string;
  simSlot: number | null;
}

function toRoutingDevice(d: Device, presence: Presence | undefined): RoutingDevice {
  return {
    id: d.id,
    name: d.name,
    active: d.active,
    online: presence?.online ?? false,
    lastSeenAt: presence?.lastSeenAt ?? null,
    sims: d.sims,
    sendRatePerMinute: d.sendRatePerMinute,
  };
}
