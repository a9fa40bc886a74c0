/**
 * The sections of calls: `[ice]` (the built-in STUN responder, TURN servers handed to
 * clients) and `[calls]`.
 * Part of the configuration schema (schema.ts composes the sections).
 *
 * @module
 */
import { z } from "zod";
import { key, optional, requiredList } from "./keys.ts";
import { boolean, intRange, nonNegativeInt, positiveInt, socketAddress, text } from "./kinds.ts";
import { checkTurnServer, turnServersFromRecord, turnUrls } from "./tables.ts";

const turnServer = z.strictObject({
  urls: requiredList(
    turnUrls,
    {
      type: "URL list",
      expected: "stun:/turn: URLs",
      env: "string",
    },
    {
      defaultText: "— (required in each table)",
      example: "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
      description: "TURN/STUN URLs: comma-separated string or array, handed to call " +
        "participants with credentials in the Acks of their CallOffer / accepting CallAnswer " +
        "(`ice_servers`).",
    },
  ),
  secret: optional(text(), {
    secret: true,
    example: "<coturn static-auth-secret>",
    description: "coturn REST shared secret (time-limited credentials); or username+password.",
  }),
  username: optional(text(), {
    example: "commucat",
    description: "Static TURN username (with `password`).",
  }),
  password: optional(text(), {
    secret: true,
    example: "<password>",
    description: "Static TURN password.",
  }),
  realm: optional(text(), {
    example: "example.org",
    description: "TURN realm advertised to clients.",
  }),
}).superRefine(checkTurnServer);

/** The `[ice]` section. */
export const ice = z.strictObject({
  lite_enabled: key(boolean(), false, {
    env: "COMMUCAT_ICE_LITE_ENABLED",
    description: "Run the built-in UDP STUN (ICE-lite) responder: real XOR-MAPPED-ADDRESS, " +
      "MESSAGE-INTEGRITY from the calls' ICE credentials, FINGERPRINT. Needs --allow-net for " +
      "`ice.lite_bind`.",
  }),
  lite_bind: optional(socketAddress(), {
    example: "0.0.0.0:3478",
    env: "COMMUCAT_ICE_LITE_BIND",
    defaultText: "`0.0.0.0:3478` when enabled",
    description: "UDP address of the ICE-lite responder.",
  }),
  lite_public_address: optional(socketAddress(), {
    example: "203.0.113.10:3478",
    env: "COMMUCAT_ICE_LITE_PUBLIC_ADDRESS",
    description: "Public address for an ICE-lite host candidate (default: `ice.lite_bind`). " +
      "Not used yet: the server advertises no candidate; the STUN answer carries the " +
      "requester's own address.",
  }),
  turn_ttl: key(positiveInt(), 600, {
    env: "COMMUCAT_ICE_TURN_TTL",
    description: "Lifetime of TURN REST credentials, seconds (at least 60 is used).",
  }),
  turn: z.record(
    z.string().regex(/^[A-Za-z0-9_-]+$/, { error: "expected a TURN server name [A-Za-z0-9_-]" }),
    turnServer,
  ).prefault({}).transform(turnServersFromRecord),
});

/** The `[calls]` section. */
export const calls = z.strictObject({
  max_active: key(positiveInt(), 1000, {
    env: "COMMUCAT_CALLS_MAX_ACTIVE",
    description: "New. Calls in progress on this server at most; a CallOffer beyond gets an " +
      "Error `unavailable`.",
  }),
  max_participants: key(intRange(2, 256), 16, {
    env: "COMMUCAT_CALLS_MAX_PARTICIPANTS",
    description: "New. Participants (route members at offer time) of one call at most.",
  }),
  ring_timeout: key(positiveInt(), 60, {
    env: "COMMUCAT_CALLS_RING_TIMEOUT",
    description: "New. Seconds an offer waits for a first acceptance before the server ends " +
      "it (system CallEnd `timeout`).",
  }),
  transcode_audio_streams: key(nonNegativeInt(), 64, {
    env: "COMMUCAT_CALLS_TRANSCODE_AUDIO_STREAMS",
    description: "New. RAW PCM streams (one per sending participant) the server encodes to Opus " +
      "at most, in a WebAssembly Worker; 0 = none (offers with RAW audio get `unavailable`).",
  }),
  transcode_video_streams: key(nonNegativeInt(), 2, {
    env: "COMMUCAT_CALLS_TRANSCODE_VIDEO_STREAMS",
    description: "New. RAW I420 streams the server encodes to VP8/VP9 at most (libav.js in a " +
      "WebAssembly Worker; about 3 at 640×480, 30 fps, per core); 0 = none.",
  }),
  libav_wasm: optional(text("path"), {
    example: "/opt/libav.js/libav-6.10.9.0-webm-vp9.wasm.wasm",
    env: "COMMUCAT_CALLS_LIBAV_WASM",
    defaultText: "the .wasm of the npm package `@libav.js/variant-webm-vp9` 6.10.9",
    description: "New. The libav.js (LGPL-2.1) WebAssembly build the video Worker loads; " +
      "replace it with your own build of the same libav.js version.",
  }),
});
