// plugins/builtin/round-robin.ts
import { definePlugin } from '../../core/plugin-api.js';

/**
 * `round-robin`: spreads a project's messages over its online devices, for throughput; with none
 * online, the active device (its messages wait for it). The counter is per process: with several
 * API processes each spreads on its own, which still spreads the whole.
 */
export default definePlugin({
  name: 'smx-round-robin',
  setup(ctx) {
    const next = new Map<string, number>();
    ctx.routing.register('round-robin', (message, devices) => {
      const online = devices.filter((d) => d.online).sort((a, b) => a.id.localeCompare(b.id));
      if (online.length === 0) {
        const active = devices.find((d) => d.active);
        return active ? { deviceId: active.id, simSlot: null } : { reason: 'NO_ACTIVE_DEVICE' };
      }
      const turn = next.get(message.projectId) ?? 0;
      next.set(message.projectId, (turn + 1) % 1_000_000);
      return { deviceId: online[turn % online.length]!.id, simSlot: null };
    });
  },
});
