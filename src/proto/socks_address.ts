/**
 * The SOCKS5 address form (`atyp ‖ address ‖ port`, RFC 1928 §5), which
 * Shadowsocks reuses as the target a client sends first: the server listener
 * parses it, the client's local SOCKS5 bridge reads it from its SOCKS5
 * request and forwards it.
 *
 * @module
 */

/** A parsed address. */
export interface SocksAddress {
  readonly host: string;
  readonly port: number;
  /** Bytes the address took; what follows starts after them. */
  readonly length: number;
}

/** Thrown for an address type that is not 1 (IPv4), 3 (domain) or 4 (IPv6). */
export class SocksAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SocksAddressError";
  }
}

/** Parses the address at the start of `bytes`: null while incomplete. */
export function parseSocksAddress(bytes: Uint8Array): SocksAddress | null {
  if (bytes.length < 1) return null;
  const atyp = bytes[0];
  let hostEnd: number;
  let host: string;
  if (atyp === 1) {
    hostEnd = 5;
    if (bytes.length < hostEnd + 2) return null;
    host = [...bytes.subarray(1, 5)].join(".");
  } else if (atyp === 3) {
    if (bytes.length < 2) return null;
    hostEnd = 2 + bytes[1];
    if (bytes.length < hostEnd + 2) return null;
    host = new TextDecoder().decode(bytes.subarray(2, hostEnd));
  } else if (atyp === 4) {
    hostEnd = 17;
    if (bytes.length < hostEnd + 2) return null;
    const v = new DataView(bytes.buffer, bytes.byteOffset + 1, 16);
    host = Array.from({ length: 8 }, (_, i) => v.getUint16(i * 2).toString(16)).join(":");
  } else {
    throw new SocksAddressError(`SOCKS5 address: unknown address type ${atyp}`);
  }
  return { host, port: (bytes[hostEnd] << 8) | bytes[hostEnd + 1], length: hostEnd + 2 };
}

function ipv6Bytes(host: string): Uint8Array | null {
  const h = host.replace(/^\[|\]$/g, "");
  if (!h.includes(":") || !/^[0-9a-f:]+$/i.test(h)) return null;
  const [head, tail] = h.split("::");
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const left = groups(head);
  const right = h.includes("::") ? groups(tail) : [];
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (!h.includes("::") && fill !== 0)) return null;
  const all = [...left, ...Array(fill).fill("0"), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** Encodes `host` (an IPv4 or IPv6 literal, else a name) and `port`. */
export function encodeSocksAddress(host: string, port: number): Uint8Array {
  const portBytes = [port >> 8, port & 0xff];
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return new Uint8Array([1, ...host.split(".").map(Number), ...portBytes]);
  }
  const v6 = ipv6Bytes(host);
  if (v6) return new Uint8Array([4, ...v6, ...portBytes]);
  const name = new TextEncoder().encode(host);
  if (name.length > 255) throw new SocksAddressError("SOCKS5 address: name longer than 255 bytes");
  return new Uint8Array([3, name.length, ...name, ...portBytes]);
}
