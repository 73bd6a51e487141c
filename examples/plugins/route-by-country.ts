/**
 * A worked example of an SMX plugin (README "Writing a plugin"). It adds:
 *
 * - a routing strategy `by-country`: destinations starting with a configured calling code go to
 *   the device of that name; everything else to the project's active device;
 * - a route `GET /plugins/route-by-country/info` (API key) showing the rules for the caller's project;
 * - a `beforeSend` hook that trims stray whitespace from every outgoing text.
 *
 * Configure with `ROUTE_BY_COUNTRY="44=uk-phone,49=de-phone"` (calling code = device name), load
 * with `SMX_PLUGINS=./dist/examples/plugins/route-by-country.js`, select per project with
 * `PATCH /admin/projects/:id { "routing": "by-country" }`.
 *
 * Outside this repository, import from the package instead: `from 'smx/plugin-api'`.
 */
import { definePlugin, type RoutingDevice } from '../../core/plugin-api.js';

interface Rule {
  /** Calling code digits, e.g. "44". */
  prefix: string;
  /** The device name (as linked) that sends for it. */
  device: string;
}

/** "44=uk-phone,49=de-phone" → rules, longest prefix first (so "1242" wins over "1"). */
function parseRules(text: string): Rule[] {
  return text
    .split(',')
    .map((pair) => pair.split('=').map((s) => s.trim()))
    .filter(
      (pair): pair is [string, string] =>
        pair.length === 2 && /^\d{1,6}$/.test(pair[0]!.replace(/^\+/, '')) && pair[1]!.length > 0,
    )
    .map(([prefix, device]) => ({ prefix: prefix.replace(/^\+/, ''), device }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

export default definePlugin({
  name: 'route-by-country',
  version: '1.0.0',
  setup(ctx) {
    // Read once at start; a plugin's own settings come from its own env variables.
    const rules = parseRules(process.env.ROUTE_BY_COUNTRY ?? '');
    ctx.log.info({ rules }, 'route-by-country rules');

    // 1. A strategy: (message, devices) => { deviceId, simSlot? } | { reason }.
    ctx.routing.register('by-country', (message, devices) => {
      const digits = message.to.replace(/\D/g, '');
      const rule = rules.find((r) => digits.startsWith(r.prefix));
      const named = rule ? devices.find((d) => d.name === rule.device) : undefined;
      if (named) return { deviceId: named.id };
      const active = devices.find((d) => d.active);
      return active ? { deviceId: active.id } : { reason: 'NO_ACTIVE_DEVICE' };
    });

    // 2. A route: /plugins/route-by-country/info, behind the API key; the answer is enveloped.
    ctx.http.route({
      method: 'GET',
      url: '/info',
      schema: { summary: 'The by-country rules and which of their devices this project has' },
      async handler(request) {
        const devices: RoutingDevice[] = await ctx.routing.devices(request.projectId);
        return {
          projectId: request.projectId,
          rules: rules.map((r) => ({ ...r, linked: devices.some((d) => d.name === r.device) })),
        };
      },
    });

    // 3. A hook: beforeSend may change the text or the number (what the phone gets) or throw to refuse.
    ctx.hooks.on('beforeSend', (message) => {
      message.body = message.body.trim();
    });
  },
});
