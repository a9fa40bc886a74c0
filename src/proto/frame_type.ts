/**
 * The 20 CCP-1 frame types: wire code, name and the label used in long-poll JSON.
 *
 * @module
 */

/** Frame type codes by name (upstream `FrameType` variant names). */
export const FrameType = {
  Hello: 0x01,
  Auth: 0x02,
  Join: 0x03,
  Leave: 0x04,
  Msg: 0x05,
  Ack: 0x06,
  Typing: 0x07,
  Presence: 0x08,
  KeyUpdate: 0x09,
  GroupCreate: 0x0a,
  GroupInvite: 0x0b,
  GroupEvent: 0x0c,
  Error: 0x0d,
  CallOffer: 0x0e,
  CallAnswer: 0x0f,
  CallEnd: 0x10,
  VoiceFrame: 0x11,
  VideoFrame: 0x12,
  CallStats: 0x13,
  TransportUpdate: 0x14,
} as const;

/** A frame type code, 0x01..=0x14. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** A frame type name such as `"KeyUpdate"`. */
export type FrameTypeName = keyof typeof FrameType;

/** Wire labels by name, as used in long-poll JSON (`key_update`, `call_offer`, …). */
export const FRAME_TYPE_LABELS = {
  Hello: "hello",
  Auth: "auth",
  Join: "join",
  Leave: "leave",
  Msg: "msg",
  Ack: "ack",
  Typing: "typing",
  Presence: "presence",
  KeyUpdate: "key_update",
  GroupCreate: "group_create",
  GroupInvite: "group_invite",
  GroupEvent: "group_event",
  Error: "error",
  CallOffer: "call_offer",
  CallAnswer: "call_answer",
  CallEnd: "call_end",
  VoiceFrame: "voice_frame",
  VideoFrame: "video_frame",
  CallStats: "call_stats",
  TransportUpdate: "transport_update",
} as const satisfies Record<FrameTypeName, string>;

/** A wire label such as `"key_update"`. */
export type FrameTypeLabel = typeof FRAME_TYPE_LABELS[FrameTypeName];

/** All frame type codes in ascending order. */
export const FRAME_TYPES: readonly FrameType[] = Object.freeze(
  Object.values(FrameType).sort((a, b) => a - b),
);

const NAME_BY_CODE = new Map<number, FrameTypeName>(
  (Object.keys(FrameType) as FrameTypeName[]).map((name) => [FrameType[name], name]),
);
const TYPE_BY_LABEL = new Map<string, FrameType>(
  (Object.keys(FrameType) as FrameTypeName[]).map((name) => [
    FRAME_TYPE_LABELS[name],
    FrameType[name],
  ]),
);

/** True when `code` is one of the 20 frame type codes. */
export function isFrameType(code: number): code is FrameType {
  return NAME_BY_CODE.has(code);
}

/** The name of `type`, e.g. `"CallOffer"` for 0x0e. */
export function frameTypeName(type: FrameType): FrameTypeName {
  const name = NAME_BY_CODE.get(type);
  if (name === undefined) throw new RangeError(`unknown frame type ${type}`);
  return name;
}

/** The wire label of `type`, e.g. `"call_offer"` for 0x0e. */
export function frameTypeLabel(type: FrameType): FrameTypeLabel {
  return FRAME_TYPE_LABELS[frameTypeName(type)];
}

/** The frame type with wire label `label`, or `undefined` when there is none. */
export function frameTypeFromLabel(label: string): FrameType | undefined {
  return TYPE_BY_LABEL.get(label);
}

/**
 * True when frames of `type` carry a control JSON payload. Only `Msg`,
 * `VoiceFrame` and `VideoFrame` are opaque; the kind depends on the type alone,
 * never on the payload bytes.
 */
export function isControlType(type: FrameType): boolean {
  return type !== FrameType.Msg && type !== FrameType.VoiceFrame &&
    type !== FrameType.VideoFrame;
}

/**
 * Frame types a route member may send to the other members (and a
 * federation peer may relay to our devices). The others are addressed to
 * the server itself (Hello, Join, Ack…).
 */
export const BROADCAST_FRAME_TYPES: ReadonlySet<FrameType> = new Set<FrameType>([
  FrameType.Msg,
  FrameType.Typing,
  FrameType.KeyUpdate,
  FrameType.GroupEvent,
  FrameType.CallOffer,
  FrameType.CallAnswer,
  FrameType.CallEnd,
  FrameType.CallStats,
  FrameType.TransportUpdate,
  FrameType.VoiceFrame,
  FrameType.VideoFrame,
]);

/**
 * Frame types kept in the offline queue for a recipient that is not
 * connected; the others (typing, media, call stats…) are live-only and
 * dropped when nobody reads them.
 */
export const QUEUED_FRAME_TYPES: ReadonlySet<FrameType> = new Set<FrameType>([
  FrameType.Msg,
  FrameType.KeyUpdate,
  FrameType.GroupCreate,
  FrameType.GroupInvite,
  FrameType.GroupEvent,
  FrameType.CallOffer,
  FrameType.CallAnswer,
  FrameType.CallEnd,
]);

/** True when frames of `type` wait in the offline queue ({@link QUEUED_FRAME_TYPES}). */
export function isQueuedFrameType(type: number): boolean {
  return QUEUED_FRAME_TYPES.has(type as FrameType);
}

/** True when a route member may broadcast frames of `type` ({@link BROADCAST_FRAME_TYPES}). */
export function isBroadcastFrameType(type: number): boolean {
  return BROADCAST_FRAME_TYPES.has(type as FrameType);
}
