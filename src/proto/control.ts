/**
 * Zod schemas for the control payloads the server interprets, and
 * {@linkcode parseControl}, which validates a decoded control value by frame
 * type and reports the first problems with their field paths.
 *
 * Objects pass unknown keys through. `Option`-like hint fields accept `null`
 * as absent, as serde does upstream.
 *
 * @module
 */

import { z } from "zod";
import {
  CallAnswerPayload,
  CallEndPayload,
  CallOfferPayload,
  CallStatsPayload,
  TransportUpdatePayload,
} from "./call.ts";
import { FrameType, frameTypeName } from "./frame_type.ts";
import { deviceIdProblem, MAX_DEVICE_ID_LENGTH, MAX_HANDLE_LENGTH } from "./ids.ts";

const u16 = z.number().int().min(0).max(0xffff);
const u32 = z.number().int().min(0).max(0xffff_ffff);
/** Non-empty, even-length hex of either case. */
const hex = z.string().regex(/^(?:[0-9a-fA-F]{2})+$/, "expected non-empty even-length hex");
/** 32 bytes of hex. */
const hex32 = z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex characters");

/** Group member roles. */
export const GroupRole = z.enum(["owner", "admin", "member"]);
/** A group member role. */
export type GroupRole = z.infer<typeof GroupRole>;

/** Any role string; unknown roles become `member`, as upstream does. */
const lenientRole = z.string().transform((role): GroupRole =>
  role === "owner" || role === "admin" ? role : "member"
);

/**
 * Size bounds of a Hello, checked before any other work on it (key proof,
 * Noise, the replay cache, the store). A Hello is small; these leave room
 * for a future KEM public key in Noise message 1.
 */
export const HELLO_LIMITS = Object.freeze({
  /** Bytes of Noise message 1 (`handshake` is twice as many hex digits). */
  handshakeBytes: 4096,
  /** Characters of a user id hint (ids are 64 hex digits). */
  userId: 128,
  /** Characters of a handle hint before normalisation (the handle rules bound it further). */
  handle: MAX_HANDLE_LENGTH * 4,
  /** Characters of a display name. */
  displayName: 256,
  /** Characters of an avatar URL. */
  avatarUrl: 2048,
  /** Entries of `supported_versions`. */
  versions: 16,
  /** Entries of `capabilities`. */
  capabilities: 32,
});

/** A string of at most `max` characters, or null/absent. */
const boundedHint = (max: number) => z.string().max(max).nullish();

/** User hints in Hello (all optional). */
export const HelloUserHints = z.looseObject({
  id: boundedHint(HELLO_LIMITS.userId),
  user_id: boundedHint(HELLO_LIMITS.userId),
  handle: boundedHint(HELLO_LIMITS.handle),
  display_name: boundedHint(HELLO_LIMITS.displayName),
  avatar_url: boundedHint(HELLO_LIMITS.avatarUrl),
});

/** A device id of this server (`ids.ts`): bounded first, then the character rules. */
const deviceId = z.string().max(
  MAX_DEVICE_ID_LENGTH,
  `must be at most ${MAX_DEVICE_ID_LENGTH} characters`,
)
  .superRefine((id, ctx) => {
    const problem = deviceIdProblem(id);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * The shape of a handshake pattern name (`XK`, `IK`, `XKhfs`, ...). Which
 * names are supported is the Noise layer's session pattern table, checked by
 * the session: proto depends on nothing of ours.
 */
const patternName = z.string().max(32).regex(
  /^[A-Z][A-Za-z0-9+]{0,31}$/,
  "expected a handshake pattern name",
);

/** Hello (client → server, first frame). */
export const HelloPayload = z.looseObject({
  pattern: patternName,
  supported_versions: z.array(u16).min(1, "must not be empty").max(HELLO_LIMITS.versions)
    .optional(),
  protocol_version: u16.optional(),
  device_id: deviceId,
  handshake: z.string().max(
    HELLO_LIMITS.handshakeBytes * 2,
    `must be at most ${HELLO_LIMITS.handshakeBytes} bytes`,
  ).pipe(hex),
  client_static: hex32,
  device_public: hex32,
  zkp: z.looseObject({ commitment: hex32, response: hex32 }),
  user: HelloUserHints.nullish(),
  /** A device certificate; validated by the crypto layer, not here. */
  certificate: z.looseObject({}).nullish(),
  /** Ignored upstream. */
  capabilities: z.array(z.unknown()).max(HELLO_LIMITS.capabilities).nullish(),
  /** Ignored upstream, so not checked to be hex. */
  device_ca_public: boundedHint(128),
});

/** Auth (client → server Noise message 3, or server → client message 2). */
export const AuthPayload = z.looseObject({ handshake: hex });

/** Ack; `ack` is the acknowledged sequence, other keys vary by frame. */
export const AckPayload = z.looseObject({ ack: u32 });

/** Error frame. */
export const ErrorPayload = z.looseObject({
  error: z.string(),
  detail: z.string().nullish(),
  title: z.string().nullish(),
});

/** Join: declare or load a channel route. */
export const JoinPayload = z.looseObject({
  relay: z.boolean().optional(),
  members: z.array(z.string()).optional(),
  group_id: z.string().nullish(),
});

/** Any JSON object (Leave, Typing, GroupEvent, KeyUpdate). */
export const AnyObjectPayload = z.looseObject({});

/** Presence; `state` defaults to "online" on the server. */
export const PresencePayload = z.looseObject({ state: z.string().optional() });

/** GroupCreate; unknown role strings are read as `member`. */
export const GroupCreatePayload = z.looseObject({
  group_id: z.string().nullish(),
  relay: z.boolean().optional(),
  members: z.array(z.string()).optional(),
  roles: z.record(z.string(), lenientRole).optional(),
});

/** GroupInvite; an unknown role string is read as `member`. */
export const GroupInvitePayload = z.looseObject({
  group_id: z.string(),
  device: z.string(),
  role: lenientRole.nullish(),
});

/** Parsed {@linkcode HelloPayload}. */
export type HelloPayload = z.infer<typeof HelloPayload>;
/** Parsed {@linkcode AuthPayload}. */
export type AuthPayload = z.infer<typeof AuthPayload>;
/** Parsed {@linkcode AckPayload}. */
export type AckPayload = z.infer<typeof AckPayload>;
/** Parsed {@linkcode ErrorPayload}. */
export type ErrorPayload = z.infer<typeof ErrorPayload>;
/** Parsed {@linkcode JoinPayload}. */
export type JoinPayload = z.infer<typeof JoinPayload>;
/** Parsed {@linkcode AnyObjectPayload}. */
export type AnyObjectPayload = z.infer<typeof AnyObjectPayload>;
/** Parsed {@linkcode PresencePayload}. */
export type PresencePayload = z.infer<typeof PresencePayload>;
/** Parsed {@linkcode GroupCreatePayload}. */
export type GroupCreatePayload = z.infer<typeof GroupCreatePayload>;
/** Parsed {@linkcode GroupInvitePayload}. */
export type GroupInvitePayload = z.infer<typeof GroupInvitePayload>;

/** The schema for each control frame type. */
export const CONTROL_SCHEMAS = {
  [FrameType.Hello]: HelloPayload,
  [FrameType.Auth]: AuthPayload,
  [FrameType.Join]: JoinPayload,
  [FrameType.Leave]: AnyObjectPayload,
  [FrameType.Ack]: AckPayload,
  [FrameType.Typing]: AnyObjectPayload,
  [FrameType.Presence]: PresencePayload,
  [FrameType.KeyUpdate]: AnyObjectPayload,
  [FrameType.GroupCreate]: GroupCreatePayload,
  [FrameType.GroupInvite]: GroupInvitePayload,
  [FrameType.GroupEvent]: AnyObjectPayload,
  [FrameType.Error]: ErrorPayload,
  [FrameType.CallOffer]: CallOfferPayload,
  [FrameType.CallAnswer]: CallAnswerPayload,
  [FrameType.CallEnd]: CallEndPayload,
  [FrameType.CallStats]: CallStatsPayload,
  [FrameType.TransportUpdate]: TransportUpdatePayload,
} as const;

/** Frame types that carry a control payload with a schema. */
export type ControlFrameType = keyof typeof CONTROL_SCHEMAS;

/** The parsed payload type for control frame type `T`. */
export type ControlPayload<T extends ControlFrameType> = z.infer<typeof CONTROL_SCHEMAS[T]>;

/** Outcome of {@linkcode parseControl}. */
export type ControlParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const MAX_REPORTED_ISSUES = 3;

/** `a.b[2].c`; `(root)` for the value itself. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Say "required" rather than "expected string, received undefined". */
const errorMap: z.core.$ZodErrorMap = (issue) =>
  issue.code === "invalid_type" && issue.input === undefined ? "required" : undefined;

/** One line naming each of the first few issues by field path. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((issue) =>
    `${formatIssuePath(issue.path)}: ${issue.message}`
  );
  const hidden = issues.length - shown.length;
  return hidden > 0 ? `${shown.join("; ")}; and ${hidden} more` : shown.join("; ");
}

/**
 * Validates the decoded control payload `value` of a frame of type `type`.
 * On failure, `error` names the field path of each problem, e.g.
 * `zkp.commitment: expected 64 hex characters`. Opaque types (Msg, VoiceFrame,
 * VideoFrame) have no schema and always fail.
 */
export function parseControl<T extends ControlFrameType>(
  type: T,
  value: unknown,
): ControlParseResult<ControlPayload<T>>;
export function parseControl(type: FrameType, value: unknown): ControlParseResult<unknown>;
export function parseControl(type: FrameType, value: unknown): ControlParseResult<unknown> {
  const schema = (CONTROL_SCHEMAS as Partial<Record<FrameType, z.ZodType>>)[type];
  if (schema === undefined) {
    return { ok: false, error: `${frameTypeName(type)} frames carry no control payload` };
  }
  const result = schema.safeParse(value, { error: errorMap });
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, error: formatIssues(result.error.issues) };
}
