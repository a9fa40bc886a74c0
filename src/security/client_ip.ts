/**
 * Who is the client: the socket peer's IP, or — only when that peer is a
 * trusted reverse proxy — the address it reports in `X-Forwarded-For`.
 *
 * Upstream keyed rate limits on the peer *socket address* (`ip:port`), so a
 * client got a fresh budget with every TCP connection; here the key is the IP.
 *
 * `X-Forwarded-For` is read right to left, as proxies append the address they
 * received from: trusted proxies are skipped and the first untrusted address
 * is the client. Any entry on the left of it was written by the client itself
 * and is ignored, so a spoofed header gains nothing. A malformed entry stops
 * the walk and the socket peer is used. When every entry is a trusted proxy
 * the leftmost one is used (e.g. a health check from inside the network).
 *
 * Addresses are canonical text: IPv6 per RFC 5952, IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) as plain IPv4, zone identifiers of the peer dropped.
 *
 * @module
 */
import { formatIpAddress, parseIpAddress } from "./tls/mod.ts";

/** Error thrown for a `security.trusted_proxies` entry that is no IP or CIDR. */
export class TrustedProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrustedProxyError";
  }
}

/** Bytes of `text` (4 or 16), IPv4-mapped IPv6 folded to IPv4; null when not an address. */
function ipBytes(text: string): Uint8Array | null {
  let bytes: Uint8Array;
  try {
    bytes = parseIpAddress(text);
  } catch {
    return null;
  }
  return isMapped(bytes) ? bytes.slice(12) : bytes;
}

function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Canonical text of an IP address (mapped IPv4 folded), or null when `text` is none. */
export function normalizeIp(text: string): string | null {
  const bytes = ipBytes(text);
  return bytes ? formatIpAddress(bytes) : null;
}

interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

function parseCidr(entry: string): Cidr {
  const text = entry.trim();
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  let raw: Uint8Array;
  try {
    raw = parseIpAddress(address);
  } catch {
    throw new TrustedProxyError(`trusted proxy "${entry}" is not an IP address or CIDR`);
  }
  const bits = raw.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > bits) {
      throw new TrustedProxyError(
        `trusted proxy "${entry}" has a bad prefix length (expected 0..${bits})`,
      );
    }
    prefix = Number(digits);
  }
  const masked = mask(raw, prefix);
  if (!masked.every((b, i) => b === raw[i])) {
    throw new TrustedProxyError(
      `trusted proxy "${entry}" has host bits set; did you mean ` +
        `"${formatIpAddress(masked)}/${prefix}"?`,
    );
  }
  // ::ffff:a.b.c.d/96+ covers IPv4 addresses, which are matched in IPv4 form.
  if (isMapped(raw) && prefix >= 96) return { bytes: raw.slice(12), prefix: prefix - 96 };
  return { bytes: raw, prefix };
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - 8 * i));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

function covers(cidr: Cidr, ip: Uint8Array): boolean {
  if (cidr.bytes.length !== ip.length) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (cidr.bytes[i] !== ip[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (cidr.bytes[whole] & m) === (ip[whole] & m);
}

/**
 * A parsed `security.trusted_proxies` list: IPs and CIDRs, IPv4 and IPv6
 * (`"10.0.0.0/8"`, `"::1"`, `"fd00::/8"`). Parse it once at start-up so a
 * bad entry fails there.
 */
export class TrustedProxies {
  /** The empty list: `X-Forwarded-For` is never honoured. */
  static readonly none: TrustedProxies = new TrustedProxies([]);

  readonly #cidrs: readonly Cidr[];

  private constructor(cidrs: readonly Cidr[]) {
    this.#cidrs = cidrs;
  }

  /** Parses entries; throws {@linkcode TrustedProxyError} naming the first bad one. */
  static parse(entries: readonly string[]): TrustedProxies {
    return entries.length === 0 ? TrustedProxies.none : new TrustedProxies(entries.map(parseCidr));
  }

  /** Number of entries. */
  get size(): number {
    return this.#cidrs.length;
  }

  /** True when the address `ip` (text) is a trusted proxy. */
  trusts(ip: string): boolean {
    const bytes = ipBytes(ip);
    return bytes !== null && this.#trustsBytes(bytes);
  }

  #trustsBytes(ip: Uint8Array): boolean {
    const cidrs = this.#cidrs;
    for (let i = 0; i < cidrs.length; i++) if (covers(cidrs[i], ip)) return true;
    return false;
  }

  /** The client address given the socket peer and the `X-Forwarded-For` value (see module doc). */
  resolve(peer: string, forwardedFor: string | null): string {
    const peerBytes = ipBytes(peer.replace(/%.*$/, ""));
    if (!peerBytes) return peer;
    return this.#resolveParsed(peerBytes, formatIpAddress(peerBytes), forwardedFor);
  }

  /**
   * {@link resolve} for a peer parsed already ({@link peerAddress}): the
   * `X-Forwarded-For` header is read only when the peer is a trusted proxy.
   */
  resolvePeer(peer: ParsedPeer, request: Request): string {
    if (!this.#trustsBytes(peer.bytes)) return peer.ip;
    return this.#resolveParsed(peer.bytes, peer.ip, request.headers.get("x-forwarded-for"));
  }

  #resolveParsed(peerBytes: Uint8Array, peerIp: string, forwardedFor: string | null): string {
    if (forwardedFor === null || !this.#trustsBytes(peerBytes)) return peerIp;
    const hops = forwardedFor.split(",");
    let leftmost = peerIp;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = forwardedEntry(hops[i]);
      if (!hop) return peerIp;
      if (!this.#trustsBytes(hop)) return formatIpAddress(hop);
      leftmost = formatIpAddress(hop);
    }
    return leftmost;
  }
}

/** One `X-Forwarded-For` entry: `ip`, `ipv4:port`, `[ipv6]` or `[ipv6]:port`. */
function forwardedEntry(raw: string): Uint8Array | null {
  const text = raw.trim();
  if (text.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
    return m ? ipBytes(m[1]) : null;
  }
  const v4WithPort = /^([\d.]+):\d{1,5}$/.exec(text);
  return ipBytes(v4WithPort ? v4WithPort[1] : text);
}

const compiled = new WeakMap<readonly string[], TrustedProxies>();

function trustedFrom(list: readonly string[] | TrustedProxies): TrustedProxies {
  if (list instanceof TrustedProxies) return list;
  let parsed = compiled.get(list);
  if (!parsed) {
    parsed = TrustedProxies.parse(list);
    compiled.set(list, parsed);
  }
  return parsed;
}

/**
 * The client IP of `request` (see the module doc). `trustedProxies` is the
 * configured list (parsed once per array and cached) or a parsed
 * {@linkcode TrustedProxies}. A peer that is not an IP socket (Unix socket)
 * yields `"unix"`. Throws {@linkcode TrustedProxyError} for a bad list entry.
 */
export function clientIp(
  request: Request,
  info: Deno.ServeHandlerInfo,
  trustedProxies: readonly string[] | TrustedProxies,
): string {
  return resolveClient(request, info, trustedProxies, false);
}

/**
 * `rateLimitKey(clientIp(request, info, trustedProxies))`, with the socket
 * peer's key parsed once per address object ({@link peerAddress}) — the
 * listener's per-client cap keyed it already.
 */
export function clientKey(
  request: Request,
  info: Deno.ServeHandlerInfo,
  trustedProxies: readonly string[] | TrustedProxies,
): string {
  return resolveClient(request, info, trustedProxies, true);
}

/** {@link clientIp}, or its rate-limit key when `asKey` (a flag: no result object per request). */
function resolveClient(
  request: Request,
  info: Deno.ServeHandlerInfo,
  trustedProxies: readonly string[] | TrustedProxies,
  asKey: boolean,
): string {
  const addr = info.remoteAddr;
  if (addr.transport !== "tcp" && addr.transport !== "udp") return "unix";
  const peer = peerAddress(addr);
  // A hostname that is no IP is the client as it is (as `resolve` answers it).
  if (peer === null) return asKey ? rateLimitKey(addr.hostname) : addr.hostname;
  const ip = trustedFrom(trustedProxies).resolvePeer(peer, request);
  if (!asKey) return ip;
  return ip === peer.ip ? peer.key : rateLimitKey(ip);
}

/** A socket peer's address, parsed once ({@link peerAddress}). */
export interface ParsedPeer {
  /** Its bytes (4 or 16; IPv4-mapped IPv6 folded to IPv4). */
  readonly bytes: Uint8Array;
  /** Its canonical text (`normalizeIp` of the hostname without its zone). */
  readonly ip: string;
  /** Its rate-limit key (`rateLimitKey(ip)`). */
  readonly key: string;
}

/**
 * What each address object was parsed to: a connection's (guarded mode) or a
 * request's (direct mode) `remoteAddr` is the same object from the listener's
 * per-client cap to the `/connect` rate limit, which parsed its text two
 * times each (parse, format, parse again, format) per connection.
 */
const parsedPeers = new WeakMap<Deno.NetAddr, ParsedPeer | null>();

/**
 * The socket peer `addr` parsed (zone identifier dropped), or null when its
 * hostname is no IP address; parsed once per address object.
 */
export function peerAddress(addr: Deno.NetAddr): ParsedPeer | null {
  let peer = parsedPeers.get(addr);
  if (peer === undefined) {
    const hostname = addr.hostname;
    const zone = hostname.indexOf("%");
    const bytes = ipBytes(zone < 0 ? hostname : hostname.slice(0, zone));
    if (bytes === null) peer = null;
    else {
      const ip = formatIpAddress(bytes);
      peer = { bytes, ip, key: bytes.length === 4 ? ip : keyOf(bytes) };
    }
    parsedPeers.set(addr, peer);
  }
  return peer;
}

/**
 * The rate-limit key of a client IP: IPv4 addresses as they are, IPv6 by
 * their /64 prefix (`"2001:db8:1:2::/64"`), because one subscriber usually
 * holds a whole /64 and could otherwise rotate through 2^64 keys. Text that
 * is not an IP (e.g. `"unix"`) is returned unchanged.
 */
export function rateLimitKey(ip: string): string {
  const bytes = ipBytes(ip);
  return bytes ? keyOf(bytes) : ip;
}

function keyOf(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpAddress(bytes);
  return `${formatIpAddress(mask(bytes, 64))}/64`;
}
