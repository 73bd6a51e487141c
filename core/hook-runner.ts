import { inject, injectable } from './di.js';
import type { Logger } from './logger.js';
import { HOOK_NAMES, type HookHandlers, type HookName, type OutgoingMessage } from './plugin-api.js';
import { TOKENS } from './tokens.js';

type ObserverHook = Exclude<HookName, 'beforeSend'>;

interface Registered<K extends HookName> {
  plugin: string;
  fn: HookHandlers[K];
}

/** The outcome of `beforeSend`: the message to publish, or the reason it was refused. */
export type BeforeSendResult = { message: OutgoingMessage } | { refused: string };

/** Longest error text a refused message stores (the messages.error column shows it to API users). */
const MAX_REASON = 100;

/**
 * Runs the hooks plugins registered. `beforeSend` runs in registration order and may rewrite or
 * refuse; observers never throw to their caller — a failing one is logged with its plugin's name,
 * so a buggy plugin never crashes a worker or fails a request.
 */
@injectable()
export class HookRunner {
  private readonly hooks = new Map<HookName, Array<Registered<HookName>>>(HOOK_NAMES.map((n) => [n, []]));

  constructor(@inject(TOKENS.Logger) private readonly log: Logger) {}

  /** Registers `fn` for `hook`; an unknown hook name throws (habit 5: a fixed, typed list). */
  add<K extends HookName>(plugin: string, hook: K, fn: HookHandlers[K]): void {
    const list = this.hooks.get(hook);
    if (!list) throw new Error(`plugin "${plugin}": unknown hook "${String(hook)}" (known: ${HOOK_NAMES.join(', ')})`);
    if (typeof fn !== 'function') throw new Error(`plugin "${plugin}": hook "${hook}" needs a function`);
    list.push({ plugin, fn: fn as HookHandlers[HookName] });
  }

  /** Whether any plugin registered `hook` (callers skip building payloads when none did). */
  has(hook: HookName): boolean {
    return (this.hooks.get(hook)?.length ?? 0) > 0;
  }

  /**
   * Passes a copy of the message through every `beforeSend` in order. A hook may change it in
   * place or return a changed copy; a throw refuses it with `PLUGIN_REFUSED:<plugin>:<reason>`.
   */
  async beforeSend(message: OutgoingMessage): Promise<BeforeSendResult> {
    let current: OutgoingMessage = { ...message };
    for (const { plugin, fn } of this.hooks.get('beforeSend') as Array<Registered<'beforeSend'>>) {
      try {
        const result = await fn(current);
        if (result && typeof result === 'object') current = { ...current, ...result };
      } catch (error) {
        const reason = (error as Error)?.message;
        this.log.info({ plugin, hook: 'beforeSend', messageId: message.id, reason }, 'a plugin refused a message');
        return { refused: `PLUGIN_REFUSED:${plugin}${reason ? `:${reason}` : ''}`.slice(0, MAX_REASON) };
      }
    }
    // Only the text and the destination may change; ids and routing stay what the core decided.
    if (
      typeof current.to !== 'string' ||
      typeof current.body !== 'string' ||
      (current.body.length === 0 && message.body.length > 0)
    ) {
      return { refused: 'PLUGIN_REFUSED:invalid message after beforeSend' };
    }
    return { message: { ...message, to: current.to, body: current.body } };
  }

  /** Runs an observer hook for every plugin that registered it; errors are logged, never thrown. */
  async notify<K extends ObserverHook>(hook: K, ...args: Parameters<HookHandlers[K]>): Promise<void> {
    for (const { plugin, fn } of this.hooks.get(hook) as Array<Registered<K>>) {
      try {
        await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        this.log.error({ plugin, hook, err: error }, `plugin "${plugin}" failed in hook ${hook}`);
      }
    }
  }
}
