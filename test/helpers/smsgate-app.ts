/**
 * An emulator of the SMSGate Android app (capcom6/android-sms-gateway v1.68) in private-server
 * mode: it sends exactly the app's HTTP requests to `{server}/compat/smsgate/mobile/v1`, reads the
 * SSE stream with fetch streaming and signs inbound webhooks as the app does. `legacy: true`
 * behaves as an app older than v1.65/v1.43: no simCards, no SSE (it only polls GET /message).
 */
import { createHmac } from 'node:crypto';
import { eventually } from './eventually.js';

export interface SmsGateAppOptions {
  legacy?: boolean;
}

export interface PulledMessage {
  id: string;
  textMessage: { text: string };
  phoneNumbers: string[];
  simNumber: number | null;
  withDeliveryReport: boolean;
  isEncrypted: boolean;
  priority: number;
  validUntil: string;
  createdAt: string;
  state: string;
}

export interface Res<T = any> {
  status: number;
  body: T;
}

export interface EventStream {
  events: Array<{ event: string; data: string }>;
  comments: string[];
  /** True once the stream ended (the server closed it, or close() was called). */
  ended: boolean;
  waitFor(event: string, timeoutMs?: number, after?: number): Promise<{ event: string; data: string }>;
  close(): void;
}

export class SmsGateApp {
  readonly base: string;
  id = '';
  token = '';

  constructor(
    server: string,
    private readonly options: SmsGateAppOptions = {},
  ) {
    this.base = `${server}/compat/smsgate/mobile/v1`;
  }

  private async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    authorization = `Bearer ${this.token}`,
  ): Promise<Res<T>> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** `POST /device` with a link token (sign-up with a private token) or a link code (sign-in by code). */
  async register(credential: { token: string } | { code: string }, name = 'Pixel 7'): Promise<Res> {
    const authorization = 'token' in credential ? `Bearer ${credential.token}` : `Code ${credential.code}`;
    const body: Record<string, unknown> = { name, pushToken: null };
    if (!this.options.legacy)
      body.simCards = [
        { slotIndex: 1, simNumber: 1, phoneNumber: '******5678', carrierName: 'Telekom', iccid: '8949000000000000001' },
      ];
    const res = await this.call('POST', '/device', body, authorization);
    if (res.status === 201) {
      this.id = res.body.id;
      this.token = res.body.token;
    }
    return res;
  }

  /** `PATCH /device`, as on every app start. */
  patchDevice(overrides: Record<string, unknown> = {}): Promise<Res> {
    const body: Record<string, unknown> = { id: this.id, pushToken: null, ...overrides };
    if (!this.options.legacy && !('simCards' in overrides))
      body.simCards = [
        { slotIndex: 1, simNumber: 1, phoneNumber: '******5678', carrierName: 'Telekom', iccid: '8949000000000000001' },
      ];
    return this.call('PATCH', '/device', body);
  }

  pull(order: 'lifo' | 'fifo' = 'fifo'): Promise<Res<PulledMessage[]>> {
    return this.call('GET', `/message?order=${order}`);
  }

  /** `PATCH /message` with one message's state, as the app reports it. */
  report(id: string, state: string, phoneNumber: string, error?: string): Promise<Res> {
    const now = new Date().toISOString();
    return this.call('PATCH', '/message', [
      { id, state, recipients: [{ phoneNumber, state, ...(error ? { error } : {}) }], states: { [state]: now } },
    ]);
  }

  settings(): Promise<Res> {
    return this.call('GET', '/settings');
  }

  webhooks(): Promise<Res> {
    return this.call('GET', '/webhooks');
  }

  /** Posts an `sms:received` webhook to `url`, signed with `signingKey` (or forged). */
  async receivedSms(
    url: string,
    signingKey: string,
    sms: { sender: string; message: string },
    options: { forge?: boolean; timestamp?: number } = {},
  ): Promise<number> {
    const body = JSON.stringify({
      id: `wh-${Math.random().toString(36).slice(2)}`,
      webhookId: 'smx-sms-received',
      event: 'sms:received',
      deviceId: this.id,
      payload: {
        messageId: 'abc123',
        message: sms.message,
        sender: sms.sender,
        recipient: '+4915100000000',
        phoneNumber: sms.sender,
        simNumber: 1,
        receivedAt: new Date().toISOString(),
      },
    });
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', options.forge ? 'not-the-key' : signingKey)
      .update(body + timestamp)
      .digest('hex');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signature, 'x-timestamp': timestamp },
      body,
    });
    await response.text();
    return response.status;
  }

  /** `GET /events`: resolves once the stream is open. */
  async events(): Promise<EventStream> {
    if (this.options.legacy) throw new Error('a legacy app has no SSE');
    const abort = new AbortController();
    const response = await fetch(`${this.base}/events`, {
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (response.status !== 200 || !response.body) throw new Error(`events: ${response.status}`);
    const stream: EventStream = {
      events: [],
      comments: [],
      ended: false,
      waitFor: (event, timeoutMs = 10_000, after = 0) =>
        eventually(() => stream.events.slice(after).find((e) => e.event === event), timeoutMs, `a ${event} event`),
      close: () => abort.abort(),
    };
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of frame.split('\n')) {
              if (line.startsWith(':')) stream.comments.push(line.slice(1));
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data = line.slice(6);
            }
            if (!frame.startsWith(':')) stream.events.push({ event, data });
          }
        }
      } catch {
        // aborted
      } finally {
        stream.ended = true;
      }
    })();
    return stream;
  }
}
