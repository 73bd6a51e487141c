import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard of webhook and callback URLs: a URL must not reach loopback, private, link-local,
 * carrier-grade NAT, unique-local or cloud metadata addresses (169.254.169.254, fd00:ec2::254).
 * Checked when a URL is registered and again at every send, against the addresses the name
 * resolves to then; the connection is made to the address that was checked (see sender.ts), so a
 * DNS answer that changes in between (rebinding) cannot swap it. SMX_WEBHOOK_ALLOW_PRIVATE=true
 * lifts the rule (development, tests).
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');

/** A URL the guard refuses; `reason` is safe to show to the caller. */
export class UrlRefusedError extends Error {
  override name = 'UrlRefusedError';
}

/** True for addresses a webhook must never reach (IPv4-mapped and NAT64 IPv6 are read as their IPv4). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (embedded) return BLOCKED.check(embedded[1]!, 'ipv4');
  const mappedHex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (mappedHex) {
    const n = (parseInt(mappedHex[1]!, 16) << 16) | parseInt(mappedHex[2]!, 16);
    return BLOCKED.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4');
  }
  return BLOCKED.check(address, 'ipv6');
}

/** The URL's host as a resolver or BlockList wants it (IPv6 literals without brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export interface UrlRules {
  allowPrivate: boolean;
  /** Only https (per-request callback URLs, unless private targets are allowed). */
  httpsOnly: boolean;
}

/**
 * What is wrong with a URL without asking DNS (scheme, credentials, a literal blocked address),
 * or null. Cheap enough for the send path.
 */
export function urlProblem(raw: string, rules: UrlRules): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !rules.httpsOnly)) return rules.httpsOnly ? 'must be an https URL' : 'must be an http or https URL';
  if (url.username || url.password) return 'must not contain credentials';
  const host = hostOf(url);
  if (!rules.allowPrivate && isIP(host) && isBlockedAddress(host)) return 'must not point to a loopback, private, link-local or metadata address';
  return null;
}

/**
 * Resolves the URL's host and checks every address it resolves to. Returns the address to
 * connect to; throws {@link UrlRefusedError} when the name does not resolve or any address is
 * refused.
 */
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  let addresses: Array<{ address: string; family: number }>;
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new UrlRefusedError(`the host ${host} does not resolve`, { cause: error });
  }
  if (addresses.length === 0) throw new UrlRefusedError(`the host ${host} does not resolve`);
  if (!allowPrivate) {
    const blocked = addresses.find((a) => isBlockedAddress(a.address));
    if (blocked) throw new UrlRefusedError(`the host ${host} resolves to a loopback, private, link-local or metadata address (${blocked.address})`);
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
