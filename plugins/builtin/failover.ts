// plugins/builtin/failover.ts
import { definePlugin, type RoutingDevice } from '../../core/plugin-api.js';

const seen = (d: RoutingDevice) => (d.lastSeenAt ? Date.parse(d.lastSeenAt) : 0);

/**
 * `failover`: the active device while it is online; else the most recently seen online standby;
 * else the active device even though it is offline (its messages wait for it to return).
 */
export default definePlugin({
  name: 'smx-failover',
  setup(ctx) {
    ctx.routing.register('failover', (_message, devices) => {
      const active = devices.find((d) => d.active);
      if (active?.online) return { deviceId: active.id, simSlot: null };
      const standby = devices.filter((d) => !d.active && d.online).sort((a, b) => seen(b) - seen(a))[0];
      if (standby) return { deviceId: standby.id, simSlot: null };
      return active ? { deviceId: active.id, simSlot: null } : { reason: 'NO_ACTIVE_DEVICE' };
    });
  },
});
