/**
 * IP address text <-> bytes, for the iPAddress entries of subjectAltName
 * (RFC 5280 4.2.1.6: 4 octets for IPv4, 16 for IPv6).
 *
 * @module
 */

/** Error thrown for text that is not an IPv4 or IPv6 address. */
export class IpAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpAddressError";
  }
}

/**
 * Parses dotted-quad IPv4 ("127.0.0.1") to 4 bytes, or returns null. A
 * character loop, not a split and a regex per part: every connection's peer
 * address comes through here several times (client IP, rate-limit key).
 */
function parseIpv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a final "." closes the last part
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // Leading zeros are rejected: some resolvers read them as octal.
      if (digits === 1 && value === 0) return null;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

/** Parses IPv6 text (with "::" and an optional trailing dotted quad) to 16 bytes, or null. */
function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) return null;
  // An embedded IPv4 is only valid at the very end of the address.
  if (halves.length === 2 && halves[0].includes(".")) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Bytes of an IP address: 4 for IPv4, 16 for IPv6. Accepts IPv6 in
 * brackets ("[::1]"); rejects zone identifiers ("fe80::1%eth0"), which have
 * no meaning in a certificate.
 */
export function parseIpAddress(text: string): Uint8Array {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const bytes = bare.includes(":") ? parseIpv6(bare) : parseIpv4(bare);
  if (!bytes) throw new IpAddressError(`"${text}" is not an IPv4 or IPv6 address`);
  return bytes;
}

/** True when `text` parses as an IP address. */
export function isIpAddress(text: string): boolean {
  try {
    parseIpAddress(text);
    return true;
  } catch {
    return false;
  }
}

/** Canonical text of 4- or 16-byte addresses (RFC 5952 for IPv6: lower case, longest zero run as "::"). */
export function formatIpAddress(bytes: Uint8Array): string {
  // A template, not Array.from(bytes).join("."): the peer address of every connection comes here.
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) {
    throw new IpAddressError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(":");
  return hex.slice(0, bestStart).join(":") + "::" + hex.slice(bestStart + bestLength).join(":");
}
