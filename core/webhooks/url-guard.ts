import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard of webhook and callback URLs. An address is allowed only when it is ordinary
 * global unicast and not one of this server's own:
 *
 * - IPv4: ipaddr.js names it `unicast`, i.e. it is in none of the IANA IPv4 Special-Purpose
 *   Address Registry's blocks (documentation, benchmarking, AS112, AMT, 6to4 relay, CGNAT, …),
 *   nor multicast or 240/4.
 * - IPv6: ipaddr.js names it `unicast` (outside the IANA IPv6 Special-Purpose Address Registry,
 *   ULA, link-local, site-local, multicast) **and** it is in 2000::/3, the only block IANA
 *   allocates global unicast from. That second rule catches what the library does not name: the
 *   deprecated IPv4-compatible `::/96`, `100:0:0:1::/64`, and any block reserved later outside
 *   2000::/3. An IPv4-mapped address (`::ffff:a.b.c.d`) is judged as its IPv4.
 * - Not assigned to any of this server's interfaces (os.networkInterfaces), whatever its range:
 *   a host whose own address is public must not be reachable through its own webhooks either.
 *
 * Some registry entries are "globally reachable" anycast services (192.0.0.9 PCP, 192.0.0.10
 * TURN, 2001:1::1, AS112): a webhook has no business there, so they are refused too.
 *
 * Checked when a URL is registered and again at every send, against the addresses the name
 * resolves to then; the connection is made to the address that was checked (see sender.ts), so a
 * DNS answer that changes in between (rebinding) cannot swap it. SMX_WEBHOOK_ALLOW_PRIVATE=true
 * lifts the rule (development, tests).
 */

/** A URL the guard refuses; its message is for the operator (admin API, server log), not the tenant. */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
}

/** How long the list of the server's own interface addresses is reused (interfaces change rarely). */
const INTERFACES_TTL_MS = 5_000;
let own: { at: number; addresses: ReadonlySet<string> } | null = null;

/** The addresses of this server's interfaces, canonical (IPv4-mapped ones as their IPv4). */
export function ownInterfaceAddresses(now = Date.now()): ReadonlySet<string> {
  if (own && now - own.at < INTERFACES_TTL_MS) return own.addresses;
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      const canonical = canonicalAddress(entry.address);
      if (canonical) addresses.add(canonical);
    }
  }
  own = { at: now, addresses };
  return addresses;
}

/**
 * Parses an IP literal; IPv4-mapped IPv6 comes back as its IPv4. IPv6 text is first normalised by
 * the WHATWG URL parser because ipaddr.js reads the deprecated `::a.b.c.d` (IPv4-compatible) as
 * if it were `::ffff:a.b.c.d` (mapped), which would let `::127.0.0.1` pass as `127.0.0.1`'s twin.
 */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const family = isIP(address);
  try {
    if (family === 4) return ipaddr.IPv4.parse(address);
    if (family !== 6) return null;
    const hex = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    const v6 = ipaddr.IPv6.parse(hex);
    const bytes = v6.toByteArray();
    const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    return mapped ? v6.toIPv4Address() : v6;
  } catch {
    return null;
  }
}

/** One spelling per address (as {@link ownInterfaceAddresses} holds them); null when not an IP literal. */
export function canonicalAddress(address: string): string | null {
  return parseAddress(address)?.toNormalizedString() ?? null;
}

/**
 * Why an address must not be a webhook target (a short name for logs: the ipaddr.js range, or
 * `own-interface`, `outside-2000::/3`, `invalid`), or null when it may be one.
 */
export function addressRefusal(
  address: string,
  /** canonical forms ({@link canonicalAddress}) */ ownAddresses: ReadonlySet<string> = ownInterfaceAddresses(),
): string | null {
  const parsed = parseAddress(address);
  if (!parsed) return 'invalid';
  const range = parsed.range();
  if (range !== 'unicast') return range;
  if (parsed.kind() === 'ipv6' && (parsed.toByteArray()[0]! & 0xe0) !== 0x20) return 'outside-2000::/3';
  if (ownAddresses.has(parsed.toNormalizedString())) return 'own-interface';
  return null;
}

/** True for addresses a webhook must never reach (see the rules above). */
export function isBlockedAddress(address: string): boolean {
  return addressRefusal(address) !== null;
}

/** The URL's host as a resolver wants it (IPv6 literals without brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export interface UrlRules {
  allowPrivate: boolean;
  /** Only https (per-request callback URLs, unless private targets are allowed). */
  httpsOnly: boolean;
}

/**
 * What is wrong with a URL without asking DNS (scheme, credentials, a literal refused address),
 * or null. Cheap enough for the send path.
 */
export function urlProblem(raw: string, rules: UrlRules): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !rules.httpsOnly))
    return rules.httpsOnly ? 'must be an https URL' : 'must be an http or https URL';
  if (url.username || url.password) return 'must not contain credentials';
  const host = hostOf(url);
  if (!rules.allowPrivate && isIP(host) && isBlockedAddress(host))
    return 'must not point to a loopback, private, reserved or special-purpose address, or to this server';
  return null;
}

/**
 * Resolves the URL's host and checks every address it resolves to. Returns the address to
 * connect to; throws {@link UrlRefusedError} when the name does not resolve or any address is
 * refused. The error's message names the address: it is for the operator, not for tenants.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host)
      ? [{ address: host, family: isIP(host) }]
      : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new UrlRefusedError(`the host ${host} does not resolve`, { cause: error });
  }
  if (addresses.length === 0) throw new UrlRefusedError(`the host ${host} does not resolve`);
  if (!allowPrivate) {
    for (const a of addresses) {
      const why = addressRefusal(a.address);
      if (why) throw new UrlRefusedError(`the host ${host} resolves to a refused address (${a.address}: ${why})`);
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
