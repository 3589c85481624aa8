/**
 * The private-network rule of the web-reading built-ins: an address on the user's own machine or
 * network (loopback, the private ranges, link-local, carrier-grade NAT, "this network", protocol
 * assignments, benchmarking, multicast and reserved ranges, unique-local and multicast
 * IPv6, and IPv4 addresses carried inside IPv6) is refused unless the user allowed it, so a page or a
 * prompt cannot make fetch_url read the router, a local service or a cloud metadata endpoint.
 * A host name counts by every address it resolves to.
 */
import { isIP, isIPv4, isIPv6 } from 'net';
import type { LookupAddress } from 'dns';
import { ToolFailure } from './outcome';

/** dns.promises.lookup as the check calls it (every address of a name). */
export type Lookup = (hostname: string, options: { all: true }) => Promise<LookupAddress[]>;

/** [first address, prefix length] */
const PRIVATE_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network" (0.0.0.0 reaches the host itself)
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata: 169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];

/** IPv6 ranges as [first 16-bit groups, prefix length]; IPv4 carried inside IPv6 is checked as IPv4 (below). */
const PRIVATE_V6: Array<[number[], number]> = [
  [[0, 0, 0, 0, 0, 0, 0, 0], 128], // ::
  [[0, 0, 0, 0, 0, 0, 0, 1], 128], // ::1
  [[0xfc00], 7], // unique local
  [[0xfe80], 10], // link-local
  [[0xfec0], 10], // site-local (deprecated, still routed by some)
  [[0xff00], 8], // multicast
];

function v4Number(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function inV4(n: number, [base, prefix]: [string, number]): boolean {
  const size = 2 ** (32 - prefix);
  const first = v4Number(base);
  return n >= first && n < first + size;
}

/** An IPv6 address's eight 16-bit groups (a zone such as %eth0 is dropped), or null when it is not one. */
export function ipv6Groups(address: string): number[] | null {
  let s = address.replace(/^\[|\]$/g, '').split('%')[0];
  if (!isIPv6(s)) return null;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // a dotted IPv4 tail (::ffff:127.0.0.1) as two groups
    const n = v4Number(tail);
    s = `${s.slice(0, lastColon + 1)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const [head, rest] = s.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = rest === undefined ? [] : rest ? rest.split(':') : [];
  const zeros = rest === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

function inV6(groups: number[], [base, prefix]: [number[], number]): boolean {
  for (let bit = 0; bit < prefix; bit += 16) {
    const width = Math.min(16, prefix - bit);
    const mask = (0xffff << (16 - width)) & 0xffff;
    if ((groups[bit / 16] & mask) !== ((base[bit / 16] ?? 0) & mask)) return false;
  }
  return true;
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) or NAT64 (64:ff9b::/96) address. */
function embeddedV4(g: number[]): string | null {
  const zeros5 = g.slice(0, 5).every((x) => x === 0);
  const mapped = zeros5 && g[5] === 0xffff;
  const compatible = zeros5 && g[5] === 0 && (g[6] !== 0 || g[7] > 1);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !compatible && !nat64) return null;
  return [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff].join('.');
}

/**
 * Whether an address is on a private network by the rule above. Anything that is not an IP address
 * counts as private (the check fails closed).
 */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  if (isIPv4(bare)) {
    const n = v4Number(bare);
    return PRIVATE_V4.some((range) => inV4(n, range));
  }
  const groups = ipv6Groups(bare);
  if (!groups) return true;
  const v4 = embeddedV4(groups);
  if (v4 !== null) return isPrivateAddress(v4);
  return PRIVATE_V6.some((range) => inV6(groups, range));
}

/**
 * Refuses (ToolFailure) a URL whose host is, or resolves to any, private-network address. The
 * addresses are looked up here; fetch looks the name up again when it connects (./pinned-fetch.ts
 * applies the rule there too).
 */
export async function checkPublicHost(url: URL, lookup: Lookup): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new ToolFailure(`could not resolve the host ${host}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    if (addresses.length === 0) throw new ToolFailure(`could not resolve the host ${host}`);
  }
  const privateOne = addresses.find(isPrivateAddress);
  if (privateOne !== undefined) {
    throw new ToolFailure(
      `refused: ${host === privateOne ? host : `${host} (${privateOne})`} is a private-network address; ` +
        'web tools reach only public addresses unless "Allow private network" is on in the tool settings',
    );
  }
}
