/**
 * Transports as a profile or SDK caller writes them (JSON objects with a
 * `kind`), and the table that turns each kind into a {@link ClientTransport}.
 * A new carrier adds one row to {@link TRANSPORT_KINDS}.
 *
 * @module
 */
import type { ClientTransport } from "../transport.ts";
import { DirectTransport, Socks5Transport, WebSocketPathTransport } from "./basic.ts";
import { PtClientTransport } from "./pt.ts";
import { shadowsocksMethod, ShadowsocksTransport } from "./shadowsocks.ts";

/** One entry of a profile's ordered `transports` list. */
export interface TransportSpec {
  kind: string;
  [key: string]: unknown;
}

/** A bad transport entry: the message names the entry and the field. */
export class TransportSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportSpecError";
  }
}

/** Reads a required string field of a spec. */
export function specString(spec: TransportSpec, where: string, field: string): string {
  const value = spec[field];
  if (typeof value !== "string" || value === "") {
    throw new TransportSpecError(`${where}.${field}: required (a non-empty string)`);
  }
  return value;
}

/** Builds the transport of a spec; `where` names it in errors (e.g. `transports[2]`). */
export type TransportFactory = (spec: TransportSpec, where: string) => ClientTransport;

/**
 * A Tor pluggable transport through its client binary: `{kind: "obfs4", port,
 * args, host?, binary?}` (`args` as `commucat pt bridge-line` prints them), or
 * `{kind: "pt", transport, …}` for another PT.
 */
function ptTransport(spec: TransportSpec, where: string, transport: string): ClientTransport {
  const port = spec.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TransportSpecError(`${where}.port: required (the bridge's port, 1..65535)`);
  }
  const optional = (field: string) =>
    spec[field] === undefined ? undefined : specString(spec, where, field);
  return new PtClientTransport({
    transport,
    port,
    args: specString(spec, where, "args"),
    host: optional("host"),
    binary: optional("binary"),
  });
}

/** Every kind this build can open. */
export const TRANSPORT_KINDS: Readonly<Record<string, TransportFactory>> = {
  direct: () => new DirectTransport(),
  websocket: (spec, where) => new WebSocketPathTransport(specString(spec, where, "url")),
  shadowsocks: (spec, where) =>
    new ShadowsocksTransport({
      server: specString(spec, where, "server"),
      method: shadowsocksMethod(spec.method ?? "chacha20-ietf-poly1305"),
      password: specString(spec, where, "password"),
    }),
  obfs4: (spec, where) => ptTransport(spec, where, "obfs4"),
  pt: (spec, where) => ptTransport(spec, where, specString(spec, where, "transport")),
  socks5: (spec, where) => {
    const username = spec.username;
    const password = spec.password;
    if ((username === undefined) !== (password === undefined)) {
      throw new TransportSpecError(`${where}: username and password go together`);
    }
    return new Socks5Transport(
      specString(spec, where, "proxy"),
      username === undefined ? undefined : {
        username: specString(spec, where, "username"),
        password: specString(spec, where, "password"),
      },
    );
  },
};

/** Kinds named in the issue that have no peer implementation here: refused by name. */
const UNSUPPORTED: Record<string, string> = {
  reality: "REALITY has no peer implementation here (no xray)",
  amneziawg: "AmneziaWG has no peer implementation here",
  dns: "DNS tunnels have no peer implementation here (no dnstt)",
};

/** Turns a list of specs into transports; a bad entry throws a one-line error naming it. */
export function transportsFromSpecs(
  specs: readonly TransportSpec[],
  kinds: Readonly<Record<string, TransportFactory>> = TRANSPORT_KINDS,
  name = "transports",
): ClientTransport[] {
  return specs.map((spec, i) => {
    const where = `${name}[${i}]`;
    if (typeof spec !== "object" || spec === null || typeof spec.kind !== "string") {
      throw new TransportSpecError(`${where}: must be an object with a "kind"`);
    }
    if (UNSUPPORTED[spec.kind]) {
      throw new TransportSpecError(
        `${where}.kind: "${spec.kind}" is not supported: ${UNSUPPORTED[spec.kind]}`,
      );
    }
    const factory = Object.hasOwn(kinds, spec.kind) ? kinds[spec.kind] : undefined;
    if (!factory) {
      throw new TransportSpecError(
        `${where}.kind: unknown "${spec.kind}" (one of ${Object.keys(kinds).join(", ")})`,
      );
    }
    try {
      return factory(spec, where);
    } catch (error) {
      if (error instanceof TransportSpecError) throw error;
      throw new TransportSpecError(`${where}: ${(error as Error).message}`);
    }
  });
}
