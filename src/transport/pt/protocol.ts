/**
 * The Tor pluggable-transport managed-mode protocol (pt-spec, version 1): the
 * lines a PT child writes on its stdout, parsed, and the SOCKS5 argument
 * encoding a PT client expects. Pure functions, no I/O.
 *
 * @module
 */

/** A `host:port` a PT reported (IPv6 without brackets). */
export interface PtAddress {
  readonly hostname: string;
  readonly port: number;
}

/** One stdout line of a PT child. */
export type PtLine =
  | { readonly kind: "VERSION"; readonly version: string }
  | { readonly kind: "VERSION-ERROR" | "ENV-ERROR"; readonly message: string }
  | {
    readonly kind: "SMETHOD";
    readonly transport: string;
    readonly address: PtAddress;
    /** `ARGS:` of the line (e.g. obfs4's `cert`, `iat-mode`): what a client needs. */
    readonly args: ReadonlyMap<string, string>;
  }
  | {
    readonly kind: "CMETHOD";
    readonly transport: string;
    /** `socks5` or `socks4`. */
    readonly protocol: string;
    readonly address: PtAddress;
  }
  | {
    readonly kind: "SMETHOD-ERROR" | "CMETHOD-ERROR";
    readonly transport: string;
    readonly message: string;
  }
  | { readonly kind: "SMETHODS DONE" | "CMETHODS DONE" }
  | { readonly kind: "LOG" | "STATUS"; readonly text: string }
  | { readonly kind: "unknown"; readonly line: string };

/** Parses `host:port` or `[v6]:port`; null when it is neither. */
export function parsePtAddress(text: string): PtAddress | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65_535) return null;
  return { hostname: m[1] ?? m[2], port };
}

/** Formats an address as a PT expects it (`[v6]:port` for IPv6). */
export function formatPtAddress(address: PtAddress): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/**
 * Splits `k=v,k=v` (pt-spec: `\` escapes `,`, `=` and `\` in values) into
 * pairs; a malformed list yields what parsed before the fault.
 */
export function parsePtArgs(text: string, separator = ","): Map<string, string> {
  const out = new Map<string, string>();
  let key = "";
  let value = "";
  let inValue = false;
  const flush = () => {
    if (key !== "") out.set(key, value);
    key = "";
    value = "";
    inValue = false;
  };
  for (let i = 0; i < text.length; i++) {
    let c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      c = text[++i];
    } else if (c === separator) {
      flush();
      continue;
    } else if (c === "=" && !inValue) {
      inValue = true;
      continue;
    }
    if (inValue) value += c;
    else key += c;
  }
  flush();
  return out;
}

/** Joins pairs as `k=v;k=v` (the SOCKS argument form), escaping `;`, `=` and `\`. */
export function formatPtArgs(args: Iterable<[string, string]>, separator = ";"): string {
  const esc = (s: string) => s.replace(/[\\;=,]/g, (c) => `\\${c}`);
  return [...args].map(([k, v]) => `${esc(k)}=${esc(v)}`).join(separator);
}

/** Parses one stdout line of a PT child. */
export function parsePtLine(line: string): PtLine {
  const words = line.trim().split(/\s+/);
  const [keyword] = words;
  const rest = (n: number) => words.slice(n).join(" ");
  switch (keyword) {
    case "VERSION":
      return { kind: "VERSION", version: words[1] ?? "" };
    case "VERSION-ERROR":
    case "ENV-ERROR":
      return { kind: keyword, message: rest(1) };
    case "SMETHOD": {
      const address = words[2] ? parsePtAddress(words[2]) : null;
      if (!words[1] || !address) return { kind: "unknown", line };
      const argsWord = words.slice(3).find((w) => w.startsWith("ARGS:"));
      const args = argsWord ? parsePtArgs(argsWord.slice("ARGS:".length)) : new Map();
      return { kind: "SMETHOD", transport: words[1], address, args };
    }
    case "CMETHOD": {
      const address = words[3] ? parsePtAddress(words[3]) : null;
      if (!words[1] || !words[2] || !address) return { kind: "unknown", line };
      return { kind: "CMETHOD", transport: words[1], protocol: words[2], address };
    }
    case "SMETHOD-ERROR":
    case "CMETHOD-ERROR":
      return { kind: keyword, transport: words[1] ?? "", message: rest(2) };
    case "SMETHODS":
    case "CMETHODS":
      return words[1] === "DONE" ? { kind: `${keyword} DONE` } : { kind: "unknown", line };
    case "LOG":
    case "STATUS":
      return { kind: keyword, text: rest(1) };
    default:
      return { kind: "unknown", line };
  }
}

/** Most bytes of a SOCKS5 username or password (RFC 1929). */
const SOCKS_FIELD_MAX = 255;

/**
 * The SOCKS5 username and password that carry a PT client's per-connection
 * arguments (pt-spec §3.5: the PT concatenates them; a password of one NUL
 * byte means "none"). The arguments are split so both fields are non-empty
 * and printable (a client that cannot send a NUL can still use them).
 */
export function socksCredentials(args: string): { username: string; password: string } {
  const bytes = new TextEncoder().encode(args);
  if (bytes.length < 2) throw new RangeError("PT arguments too short to carry over SOCKS5");
  if (bytes.length > 2 * SOCKS_FIELD_MAX) {
    throw new RangeError(`PT arguments are ${bytes.length} bytes; SOCKS5 carries at most 510`);
  }
  // Split on a character boundary: the arguments are ASCII in practice, but never cut a code point.
  let cut = Math.min(SOCKS_FIELD_MAX, bytes.length - 1);
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  const decoder = new TextDecoder();
  return {
    username: decoder.decode(bytes.subarray(0, cut)),
    password: decoder.decode(bytes.subarray(cut)),
  };
}
