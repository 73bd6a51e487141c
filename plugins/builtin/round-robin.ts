// plugins/builtin/round-robin.ts
import { definePlugin, type RoutingDevice } from '../../core/plugin-api.js';

/**
 * `round-robin`: spreads a project's messages over its online devices, for throughput; with none
 * online, the active device (its messages wait for it). The counter is per process: with several
 * API processes each spreads on its own, which still spreads the whole.
 */
export default definePlugin({
  name: 'smx-round-robin',
  setup(ctx) {
    const next = new Map<string, number>();
    // The router hands every message of a project the same devices array for a second: the online
    // ones are picked and ordered once per array, not once per message (O(1) a message).
    const onlineOf = new WeakMap<readonly RoutingDevice[], RoutingDevice[]>();
    const onlineSorted = (devices: readonly RoutingDevice[]): RoutingDevice[] => {
      let list = onlineOf.get(devices);
      if (!list)
        onlineOf.set(
          devices,
          (list = devices.filter((d) => d.online).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))),
        );
      return list;
    };
    ctx.routing.register('round-robin', (message, devices) => {
      const online = onlineSorted(devices);
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
