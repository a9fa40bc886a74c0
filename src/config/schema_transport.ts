/**
 * The sections of how clients reach the server: `[transport]` (WebSocket path, Shadowsocks,
 * pluggable transports) and `[multipath]`.
 * Part of the configuration schema (schema.ts composes the sections).
 *
 * @module
 */
import { z } from "zod";
import { DATA_DIR } from "./checks.ts";
import { key, optional } from "./keys.ts";
import {
  boolean,
  fecPolicy,
  hexExact,
  intRange,
  listenAddress,
  oneOf,
  secretText,
  text,
  urlPath,
} from "./kinds.ts";

const shadowsocks = z.strictObject({
  bind: optional(listenAddress(), {
    example: "0.0.0.0:8388",
    env: "COMMUCAT_SHADOWSOCKS_BIND",
    description: "New. Shadowsocks AEAD (SIP004) listener: clients (e.g. through ss-local) reach " +
      "the same server through the tunnel and speak TLS inside it. Unset → no listener; " +
      "set → `transport.shadowsocks.password` is required.",
  }),
  method: key(oneOf(["chacha20-ietf-poly1305", "aes-256-gcm"]), "chacha20-ietf-poly1305", {
    env: "COMMUCAT_SHADOWSOCKS_METHOD",
    description: "New. The Shadowsocks AEAD cipher.",
  }),
  password: optional(secretText(8), {
    example: "<a long random string>",
    env: "COMMUCAT_SHADOWSOCKS_PASSWORD",
    secret: true,
    description: "New. The Shadowsocks password (key = EVP_BytesToKey(MD5)); never logged.",
  }),
});

const pt = z.strictObject({
  bind: optional(listenAddress(), {
    example: "0.0.0.0:9443",
    env: "COMMUCAT_PT_BIND",
    description: "New. Tor pluggable-transport listener: the server runs `transport.pt.binary` " +
      "(obfs4proxy) as a child in managed mode on this public address and accepts what it " +
      "decrypts; clients speak TLS inside the tunnel. Unset → no child. The serve task then " +
      "needs `--allow-run=<binary>` and `--allow-net` for this address (docs/OPERATIONS.md).",
  }),
  binary: key(text("path"), "obfs4proxy", {
    env: "COMMUCAT_PT_BINARY",
    description: "New. The PT server binary (a path, or a name found on PATH), e.g. " +
      "`/usr/bin/obfs4proxy` or `lyrebird`.",
  }),
  transport: key(text("name"), "obfs4", {
    env: "COMMUCAT_PT_TRANSPORT",
    description: "New. The transport the binary serves (`TOR_PT_SERVER_TRANSPORTS`).",
  }),
  state_dir: key(text("path"), `${DATA_DIR}/pt`, {
    env: "COMMUCAT_PT_STATE_DIR",
    description: "New. The PT's state directory (its keys: the bridge line's `cert` stays the " +
      "same across restarts while this directory is kept).",
  }),
  options: optional(text("k=v;k=v"), {
    example: "iat-mode=1",
    env: "COMMUCAT_PT_OPTIONS",
    description: "New. Server options for the transport (`TOR_PT_SERVER_TRANSPORT_OPTIONS`); " +
      "obfs4: `iat-mode=1` or `2` hides packet timing at a large throughput cost " +
      "(docs/PERFORMANCE.md).",
  }),
});

/** The `[transport]` section. */
export const transport = z.strictObject({
  reality_cert: optional(text("path"), {
    example: "/etc/commucat/reality.pem",
    env: "COMMUCAT_REALITY_CERT",
    description: "Upstream's REALITY certificate. Not supported: a set value is a config error " +
      "(no REALITY peer implementation exists here to build and test against).",
  }),
  reality_fingerprint: optional(hexExact(32), {
    example: "<64 hex characters>",
    env: "COMMUCAT_REALITY_FINGERPRINT",
    description: "Upstream's REALITY fingerprint. Not supported: a set value is a config error.",
  }),
  websocket_path: optional(urlPath(), {
    example: "/c7f3a9d2",
    env: "COMMUCAT_WEBSOCKET_PATH",
    description: "New. A second path serving `/connect` (every mode; meant for WebSocket), for a " +
      "CDN or reverse proxy that forwards one unguessable path: clients list it as a " +
      "`websocket` transport. Unset → only `/connect`.",
  }),
  shadowsocks: shadowsocks.prefault({}),
  pt: pt.prefault({}),
});

/** The `[multipath]` section. */
export const multipath = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_MULTIPATH_ENABLED",
    description:
      'New. Multipath sessions (docs/PROTOCOL.md §7): a client with the Hello capability "multipath" ' +
      "may attach more `/connect` paths to its session; false → such a client gets an ordinary " +
      "session and `/connect?attach` answers 404.",
  }),
  max_paths: key(intRange(2, 16), 4, {
    env: "COMMUCAT_MULTIPATH_MAX_PATHS",
    description: "New. Paths one multipath session may have at once (the first included).",
  }),
  linger_ms: key(intRange(0, 600_000), 15_000, {
    env: "COMMUCAT_MULTIPATH_LINGER_MS",
    description: "New. How long a multipath session with no path left waits for one to be " +
      "attached again before it is closed.",
  }),
  policy: key(fecPolicy(), "auto", {
    env: "COMMUCAT_MULTIPATH_POLICY",
    description:
      "New. How units are spread over the paths: `auto` (one path: single; two: a copy " +
      "on each; three or more: RaptorQ with overhead 1/(n−1)+0.05 toward clients that decode it, " +
      "for what one event-loop turn sends when it is 32 KiB or more, else a copy on two of the " +
      "paths), " +
      "`off` (round-robin, no redundancy), `duplicate`, or `raptorq[:<overhead>]` (at least that " +
      "overhead).",
  }),
});
