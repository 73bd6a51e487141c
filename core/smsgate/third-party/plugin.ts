import { definePlugin, type SmxPlugin } from '../../plugin-api.js';
import type { SmsGateWebhooks } from './webhooks.js';

/**
 * `sms:received` SMSGate webhooks from SMX's `onInbound` hook: each SMS any phone of a project
 * received (MQTT or SMSGate app), once it is stored. A built-in plugin on the public contract
 * (the composition root hands it the service), so it runs wherever device events are handled.
 */
export function smsgateWebhooksPlugin(webhooks: SmsGateWebhooks): SmxPlugin {
  return definePlugin({
    name: 'smsgate-webhooks',
    setup(ctx) {
      ctx.hooks.on('onInbound', (sms) => webhooks.received(sms));
    },
  });
}
