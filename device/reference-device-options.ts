/** Options, events and errors of the ReferenceDevice (reference-device.ts). */
import type { SentIdStore } from './sent-ids.js';
import type { LinkResult, OutboxMessage, Sim, StatusUpdate } from '../protocol/index.js';

/** What the phone reports about itself in presence. */
export interface DeviceVitals {
  /** Battery level, 0..100. */
  battery: number;
  charging: boolean;
  /** Signal bars, 0..4. */
  signal: number;
}

/** Which status updates the simulated phone reports. */
export interface ReportOptions {
  /** Report `sent` once the SMS is handed over. @defaultValue true */
  sent?: boolean;
  /** Report `delivered` afterwards. @defaultValue true */
  delivered?: boolean;
  /** Delay between `sent` and `delivered`. @defaultValue 0 */
  deliveredDelayMs?: number;
  /** Fail every message with this error code (e.g. `RADIO_OFF`) instead of sending it. */
  failWith?: string;
}

export interface ReferenceDeviceOptions {
  /** The link result (or a credentials file's content). */
  credentials: LinkResult;
  /** `tcp` uses `mqtt.url`, `ws` uses `mqtt.wsUrl`. @defaultValue 'tcp' */
  transport?: 'tcp' | 'ws';
  /** Broker URL to use instead of the one in the credentials (NAT, tests). */
  url?: string;
  report?: ReportOptions;
  /** Ids never to send again. @defaultValue an in-memory store */
  sentIds?: SentIdStore;
  /**
   * Where a real phone hands the SMS to Android. A throw reports the message `failed` with
   * `GENERIC_FAILURE`. Must not await this device's own publishes (see the file comment).
   */
  onSend?: (message: OutboxMessage) => void | Promise<void>;
  /** Called on a `control` unlink before the device stops, e.g. to delete the credentials file. */
  onUnlinked?: () => void | Promise<void>;
  log?: (line: string) => void;
  /** Presence vitals, fixed or read at each presence publish. @defaultValue 100 %, charging, 4 bars */
  battery?: Partial<DeviceVitals> | (() => Partial<DeviceVitals>);
  /** @defaultValue '0.1.0' */
  appVersion?: string;
  /** SIMs announced in presence. @defaultValue [] */
  sims?: Sim[];
  /**
   * Capabilities announced in presence (device-protocol.md §3); without `data-sms` the device
   * reports a binary SMS it is handed `failed` with `DATA_SMS_UNSUPPORTED`. @defaultValue ['data-sms']
   */
  capabilities?: string[];
  /** The base of the jittered reconnect backoff (see reconnectWithBackoff): the first pause is 0.5-1x of it, doubling up to 2.5-5x. @defaultValue 2000 */
  reconnectPeriodMs?: number;
}

/** Typed events of {@link ReferenceDevice}. */
export interface ReferenceDeviceEvents {
  connected: [info: { sessionPresent: boolean }];
  disconnected: [];
  /** Fatal only (credentials or subscription refused); emitted when someone listens. */
  error: [error: ReferenceDeviceError];
  sms: [message: OutboxMessage];
  /** A status publish acknowledged by the broker. */
  status: [updates: StatusUpdate[]];
  canceled: [ids: string[]];
  config: [config: Record<string, unknown>];
  unlinked: [];
  stopped: [];
}

export type ReferenceDeviceErrorCode = 'CREDENTIALS_REJECTED' | 'CONNECTION_REFUSED' | 'SUBSCRIBE_REFUSED' | 'STOPPED';

/** A failure that stops the device; `reasonCode` is the MQTT CONNACK code when there is one. */
export class ReferenceDeviceError extends Error {
  override readonly name = 'ReferenceDeviceError';
  constructor(
    readonly code: ReferenceDeviceErrorCode,
    message: string,
    readonly reasonCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
