/**
 * Socket-address parsing shared by the schema (validation) and the server
 * (listening): `host:port`, `[ipv6]:port`.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/** A parsed `host:port`; `hostname` carries IPv6 literals without brackets. */
export interface BindAddress {
  /** Host name, IPv4 literal or IPv6 literal (no brackets). */
  hostname: string;
  /** TCP/UDP port. */
  port: number;
}

/** Options for {@linkcode parseBind}. */
export interface ParseBindOptions {
  /** Accept port 0 (an ephemeral port chosen by the OS). Default true. */
  allowPortZero?: boolean;
  /** Reject host names; only IP literals are accepted. Default false. */
  requireIp?: boolean;
}

const HOSTNAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** True when `host` is a dotted-quad IPv4 literal. */
export function isIPv4(host: string): boolean {
  const parts = host.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && (p === "0" || p[0] !== "0"));
}

/** True when `host` is an IPv6 literal (no brackets, no zone). */
export function isIPv6(host: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) return false;
  let groups = host.split(":");
  // An embedded IPv4 tail counts as two groups.
  const last = groups[groups.length - 1];
  if (last.includes(".")) {
    if (!isIPv4(last)) return false;
    groups = [...groups.slice(0, -1), "0", "0"];
  }
  const compressions = host.split("::").length - 1;
  if (compressions > 1) return false;
  const filled = groups.filter((g) => g !== "");
  if (!filled.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  if (compressions === 0) return groups.length === 8 && filled.length === 8;
  return filled.length <= 7;
}

/**
 * Parses `host:port` or `[ipv6]:port`, or returns a reason it is not one.
 * Used by the schema, which wants the reason rather than an exception.
 */
export function checkBind(
  addr: string,
  options: ParseBindOptions = {},
): BindAddress | string {
  const { allowPortZero = true, requireIp = false } = options;
  let host: string;
  let portText: string;
  if (addr.startsWith("[")) {
    const close = addr.indexOf("]");
    if (close < 0 || addr[close + 1] !== ":") return "expected [ipv6]:port";
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
    if (!isIPv6(host)) return "invalid IPv6 address";
  } else {
    const colon = addr.lastIndexOf(":");
    if (colon < 0) return "missing :port";
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (host.includes(":")) return "IPv6 addresses must be written in brackets, e.g. [::]:8443";
    const ip = isIPv4(host);
    if (!ip && /^[\d.]+$/.test(host)) return "invalid IPv4 address";
    if (!ip && (requireIp || !HOSTNAME.test(host))) {
      return requireIp ? "expected an IP address" : "invalid host";
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return "invalid port";
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowPortZero)) {
    return allowPortZero ? "port out of range 0..65535" : "port out of range 1..65535";
  }
  return { hostname: host, port };
}

/**
 * Parses a listen address such as `0.0.0.0:8443`, `localhost:0` or `[::]:8443`
 * into what `Deno.listen` wants. Throws {@linkcode ConfigError} when malformed.
 */
export function parseBind(addr: string, options: ParseBindOptions = {}): BindAddress {
  const result = checkBind(addr, options);
  if (typeof result === "string") {
    throw new ConfigError(`invalid socket address ${JSON.stringify(addr)}: ${result}`);
  }
  return result;
}
