/**
 * The client address of a WebSocket upgrade behind reverse proxies, with the semantics of
 * Fastify's `trustProxy` (SMX_TRUST_PROXY) so the HTTP API and the MQTT WebSocket listener agree:
 * false: the socket's peer; true: the leftmost `X-Forwarded-For` entry; a number n: the entry n
 * hops from the socket; a list of addresses/CIDRs: the nearest hop not in the list.
 * Plain MQTT over TCP has no headers: its source is always the socket's peer.
 */
import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';

export type TrustProxy = boolean | number | readonly string[];

/** Builds the address check for a list of trusted proxies (addresses or CIDRs). */
function trustedBy(list: readonly string[]): (address: string) => boolean {
  const ranges = list.map((entry) => {
    if (entry.includes('/')) return ipaddr.parseCIDR(entry);
    const ip = ipaddr.process(entry);
    return [ip, ip.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
  });
  return (address) => {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(address);
    } catch {
      return false;
    }
    return ranges.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
  };
}

/** Returns the function giving a request's client address under `trust`. */
export function forwardedAddress(trust: TrustProxy): (req: IncomingMessage) => string | undefined {
  if (trust === false || trust === 0) return (req) => req.socket.remoteAddress;
  const trusted = Array.isArray(trust) ? trustedBy(trust) : undefined;
  return (req) => {
    const peer = req.socket.remoteAddress;
    const header = req.headers['x-forwarded-for'];
    if (!peer || !header) return peer;
    // Nearest hop first: the peer, then the header's entries from right to left.
    const chain = [
      peer,
      ...(Array.isArray(header) ? header.join(',') : header)
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
        .reverse(),
    ];
    if (trust === true) return chain[chain.length - 1];
    if (typeof trust === 'number') return chain[Math.min(trust, chain.length - 1)];
    let i = 0;
    while (i < chain.length - 1 && trusted!(chain[i]!)) i++;
    return chain[i];
  };
}
