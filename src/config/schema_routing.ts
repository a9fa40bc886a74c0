/**
 * The sections of what the server relays and keeps: `[federation]`, `[ledger]`, `[limits]`
 * (queues, sizes, lifetimes), `[router]` and `[uploads]`.
 * Part of the configuration schema (schema.ts composes the sections).
 *
 * @module
 */
import { z } from "zod";
import { DATA_DIR } from "./checks.ts";
import { key, list, optional } from "./keys.ts";
import { intRange, MiB, oneOf, positiveInt, text } from "./kinds.ts";
import { federationPeers } from "./tables.ts";

/** The `[federation]` section. */
export const federation = z.strictObject({
  ca_file: optional(text("path"), {
    example: "/etc/commucat/federation-ca.pem",
    env: "COMMUCAT_FEDERATION_CA_FILE",
    description: "PEM file of extra CA certificates trusted for outbound federation requests " +
      "(besides the system roots), e.g. peers' self-signed certificates.",
  }),
  peers: list(
    federationPeers,
    {
      type: "peer list",
      expected: 'a "domain,endpoint,pubkey;…" string or an array of tables',
      env: "string",
    },
    [],
    {
      example: "peer.example.org,https://peer.example.org:8443,<64 hex characters>",
      env: "COMMUCAT_FEDERATION_PEERS",
      defaultText: "[] (none)",
      description: "Static peers (always active unless blocked in the store; `endpoint` is the " +
        "peer's base URL): the upstream string `domain,endpoint,pubkeyhex32;…` or " +
        "`[[federation.peers]]` tables with `domain`, `endpoint`, `public_key` (Ed25519, hex32).",
    },
  ),
});

/** The `[ledger]` section. */
export const ledger = z.strictObject({
  mode: key(oneOf(["null", "debug", "file"]), "null", {
    env: "COMMUCAT_LEDGER",
    description: "Audit ledger: discard, log, or append to `ledger.target`.",
  }),
  target: optional(text("path"), {
    example: "./var/ledger.jsonl",
    env: "COMMUCAT_LEDGER_TARGET",
    description: 'Ledger file; required when `ledger.mode = "file"`.',
  }),
});

/** The `[limits]` section. */
export const limits = z.strictObject({
  presence_ttl: key(positiveInt(), 30, {
    env: "COMMUCAT_PRESENCE_TTL",
    description: "Presence entry lifetime, seconds.",
  }),
  relay_ttl: key(positiveInt(), 86_400, {
    env: "COMMUCAT_RELAY_TTL",
    description: "Offline queue lifetime, seconds: a frame not delivered by then is dropped.",
  }),
  offline_queue_frames: key(positiveInt(), 10_000, {
    env: "COMMUCAT_OFFLINE_QUEUE_FRAMES",
    description: "New. Frames the offline queue holds for one device; a sender over it gets " +
      "an Error `queue_full` instead of an Ack.",
  }),
  offline_queue_bytes: key(positiveInt(), 64 * MiB, {
    env: "COMMUCAT_OFFLINE_QUEUE_BYTES",
    defaultText: "67108864 (64 MiB)",
    description: "New. Payload bytes the offline queue holds for one device (as above).",
  }),
  offline_queue_sender_frames: key(positiveInt(), 100_000, {
    env: "COMMUCAT_OFFLINE_QUEUE_SENDER_FRAMES",
    description: "New. Frames one user may have waiting in all offline queues together " +
      "(a group message counts once per offline member).",
  }),
  offline_queue_sender_bytes: key(positiveInt(), 256 * MiB, {
    env: "COMMUCAT_OFFLINE_QUEUE_SENDER_BYTES",
    defaultText: "268435456 (256 MiB)",
    description: "New. Payload bytes one user may have waiting in all offline queues together.",
  }),
  pairing_ttl: key(positiveInt(), 300, {
    env: "COMMUCAT_PAIRING_TTL",
    description: "Pairing code lifetime, seconds.",
  }),
});

/** The `[router]` section. */
export const router = z.strictObject({
  durable_copy_delay_ms: key(intRange(0, 5_000), 200, {
    env: "COMMUCAT_DURABLE_COPY_DELAY_MS",
    description: "New. The durable-copy window: a queued-type frame (Msg…) delivered live is " +
      "written to the recipient's offline queue only if the recipient has not acknowledged it " +
      "within this time; the sender's Ack waits for that acknowledgement or the write, so it " +
      "still means durable (docs/PROTOCOL.md §4). 0 = every copy is written before the Ack. " +
      'With several instances (`presence.backend = "redis"`) it covers recipients connected to ' +
      "another instance too: the copy is held by the sending instance and carried on the bus, " +
      'and written only if not acknowledged in time (PROTOCOL.md §4 "Several instances"). ' +
      "Default 200: above the SDK's 20 ms delivery-ack delay plus a round trip of up to ~180 ms, " +
      "so most copies are never written; it is also the longest an Ack waits on a recipient " +
      "that does not acknowledge.",
  }),
});

/** The `[uploads]` section. */
export const uploads = z.strictObject({
  dir: key(text("path"), `${DATA_DIR}/uploads`, {
    env: "COMMUCAT_UPLOADS_DIR",
    description: "Directory for uploaded avatars. Upstream default: `var/uploads`.",
  }),
  base_url: key(text("URL"), "https://{domain}/uploads", {
    env: "COMMUCAT_UPLOADS_BASE_URL",
    description: "Public URL prefix of uploads; `{domain}` expands to `server.domain`.",
  }),
  max_bytes_per_user: key(intRange(1, 10 * MiB), 5 * MiB, {
    env: "COMMUCAT_UPLOADS_MAX_BYTES_PER_USER",
    defaultText: "5242880 (5 MiB)",
    description: "New. Per-user upload quota: a user keeps one avatar of at most this many " +
      "bytes; a new upload replaces (deletes) the previous one. Upstream kept every upload.",
  }),
});
