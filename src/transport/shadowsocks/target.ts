/**
 * The target address a Shadowsocks client sends first (SOCKS5 form:
 * `atyp ‖ address ‖ port`). This server is the only destination, so the
 * target is parsed (to find where the client's bytes begin) and then ignored.
 *
 * @module
 */

/** A parsed target address. */
export interface ShadowsocksTarget {
  readonly host: string;
  readonly port: number;
  /** Bytes the address took; the client's stream starts after them. */
  readonly length: number;
}

/** Thrown for an address type that is not 1 (IPv4), 3 (domain) or 4 (IPv6). */
export class TargetAddressError extends Error {
  constructor(atyp: number) {
    super(`shadowsocks target: unknown address type ${atyp}`);
    this.name = "TargetAddressError";
  }
}

/** Parses the target at the start of `bytes`: null while incomplete. */
export function parseTarget(bytes: Uint8Array): ShadowsocksTarget | null {
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
    throw new TargetAddressError(atyp);
  }
  return { host, port: (bytes[hostEnd] << 8) | bytes[hostEnd + 1], length: hostEnd + 2 };
}
