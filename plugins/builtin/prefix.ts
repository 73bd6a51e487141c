// plugins/builtin/prefix.ts
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { definePlugin, type RoutingDevice } from '../../core/plugin-api.js';

const digits = (n: string) => n.replace(/\D/g, '');

function sharedLeadingDigits(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * `prefix`: the SIM whose number shares the longest leading digits with the destination — at
 * least its whole country calling code (+49… goes to a +49… SIM, not a +4… one). Online devices
 * win over offline ones; with no match, the active device.
 */
export default definePlugin({
  name: 'smx-prefix',
  setup(ctx) {
    ctx.routing.register('prefix', (message, devices) => {
      const to = digits(message.to);
      const countryCode = parsePhoneNumberFromString(message.to)?.countryCallingCode ?? to.slice(0, 1);
      let best: { device: RoutingDevice; slot: number; score: number } | null = null;
      for (const device of devices) {
        for (const sim of device.sims) {
          if (!sim.number) continue;
          const shared = sharedLeadingDigits(digits(sim.number), to);
          if (shared < countryCode.length) continue;
          // Online first, then the longer match.
          const score = (device.online ? 1_000 : 0) + shared;
          if (!best || score > best.score) best = { device, slot: sim.slot, score };
        }
      }
      if (best) return { deviceId: best.device.id, simSlot: best.slot };
      const active = devices.find((d) => d.active);
      return active ? { deviceId: active.id, simSlot: null } : { reason: 'NO_ACTIVE_DEVICE' };
    });
  },
});
