import type { MessageTransitions } from './transitions.js';
import type { OutboundMessage } from '../services/messages.js';
import type { HookRunner } from '../hook-runner.js';

/**
 * Runs the plugins' `beforeSend` over a batch: a rewritten `to`/`body` is what the phone gets
 * (the stored message keeps the original), a refused message is marked FAILED here and left out.
 */
export async function applyBeforeSend(
  deps: { hooks: HookRunner; transitions: MessageTransitions },
  batch: OutboundMessage[],
): Promise<OutboundMessage[]> {
  if (!deps.hooks.has('beforeSend')) return batch;
  const outgoing: OutboundMessage[] = [];
  const refused = new Map<string, string[]>();
  for (const m of batch) {
    const result = await deps.hooks.beforeSend({
      id: m.id,
      projectId: m.projectId,
      to: m.to,
      body: m.body,
      kind: m.kind,
      attempt: m.attempt,
      deviceId: m.deviceId ?? '',
      simSlot: m.simSlot,
    });
    if ('refused' in result) refused.set(result.refused, [...(refused.get(result.refused) ?? []), m.id]);
    else outgoing.push({ ...m, to: result.message.to, body: result.message.body });
  }
  for (const [reason, ids] of refused) await deps.transitions.failed(ids, reason);
  return outgoing;
}
