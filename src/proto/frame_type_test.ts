import assert from "node:assert/strict";
import {
  BROADCAST_FRAME_TYPES,
  FRAME_TYPES,
  FrameType,
  frameTypeFromLabel,
  frameTypeLabel,
  frameTypeName,
  isBroadcastFrameType,
  isControlType,
  isFrameType,
  isQueuedFrameType,
  QUEUED_FRAME_TYPES,
} from "./frame_type.ts";

const TABLE: [number, string, string][] = [
  [0x01, "Hello", "hello"],
  [0x02, "Auth", "auth"],
  [0x03, "Join", "join"],
  [0x04, "Leave", "leave"],
  [0x05, "Msg", "msg"],
  [0x06, "Ack", "ack"],
  [0x07, "Typing", "typing"],
  [0x08, "Presence", "presence"],
  [0x09, "KeyUpdate", "key_update"],
  [0x0a, "GroupCreate", "group_create"],
  [0x0b, "GroupInvite", "group_invite"],
  [0x0c, "GroupEvent", "group_event"],
  [0x0d, "Error", "error"],
  [0x0e, "CallOffer", "call_offer"],
  [0x0f, "CallAnswer", "call_answer"],
  [0x10, "CallEnd", "call_end"],
  [0x11, "VoiceFrame", "voice_frame"],
  [0x12, "VideoFrame", "video_frame"],
  [0x13, "CallStats", "call_stats"],
  [0x14, "TransportUpdate", "transport_update"],
];

Deno.test("frame types: codes, names and labels match the §1.2 table", () => {
  assert.deepEqual([...FRAME_TYPES], TABLE.map(([code]) => code));
  for (const [code, name, label] of TABLE) {
    assert.ok(isFrameType(code));
    assert.equal(FrameType[name as keyof typeof FrameType], code);
    assert.equal(frameTypeName(code as FrameType), name);
    assert.equal(frameTypeLabel(code as FrameType), label);
    assert.equal(frameTypeFromLabel(label), code);
  }
});

Deno.test("frame types: unknown codes and labels", () => {
  for (const code of [0x00, 0x15, 0xff, -1, 1.5]) assert.equal(isFrameType(code), false);
  assert.equal(frameTypeFromLabel("data"), undefined);
  assert.equal(frameTypeFromLabel("Msg"), undefined);
  assert.equal(frameTypeFromLabel("keepalive"), undefined);
  assert.throws(() => frameTypeName(0x15 as FrameType), RangeError);
});

Deno.test("frame types: only Msg, VoiceFrame and VideoFrame are opaque", () => {
  const opaque = FRAME_TYPES.filter((type) => !isControlType(type));
  assert.deepEqual(opaque, [FrameType.Msg, FrameType.VoiceFrame, FrameType.VideoFrame]);
});

Deno.test("frame types: what is queued offline and what a member may broadcast (PROTOCOL.md §4)", () => {
  const names = (types: ReadonlySet<FrameType>) =>
    FRAME_TYPES.filter((t) => types.has(t)).map((t) => frameTypeName(t));
  assert.deepEqual(names(QUEUED_FRAME_TYPES), [
    "Msg",
    "KeyUpdate",
    "GroupCreate",
    "GroupInvite",
    "GroupEvent",
    "CallOffer",
    "CallAnswer",
    "CallEnd",
  ]);
  assert.deepEqual(names(BROADCAST_FRAME_TYPES), [
    "Msg",
    "Typing",
    "KeyUpdate",
    "GroupEvent",
    "CallOffer",
    "CallAnswer",
    "CallEnd",
    "VoiceFrame",
    "VideoFrame",
    "CallStats",
    "TransportUpdate",
  ]);
  // Live-only: typing, presence, media and call statistics are never stored.
  for (const type of [FrameType.Typing, FrameType.Presence, FrameType.VoiceFrame]) {
    assert.equal(isQueuedFrameType(type), false);
  }
  assert.equal(isBroadcastFrameType(FrameType.Join), false);
  assert.equal(isQueuedFrameType(0x99), false);
});
