/**
 * Media frames of a call (VoiceFrame/VideoFrame): who may send them, and the
 * way to the other participants: through the SFU as they are, or RAW media
 * transcoded first when the call's offer asked for it.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import { ack, type FrameRequest, RouteError } from "../router/mod.ts";
import type { CallMetrics, MediaTranscoder } from "./call_deps.ts";
import type { Call, CallTable } from "./call_table.ts";
import {
  isKeyFrame,
  isKeyFramePayload,
  mediaHeaderError,
  type MediaPayload,
  MediaSource,
  parseMediaPayload,
} from "./header.ts";
import type { Sfu } from "./sfu.ts";

/** What media routing uses of the call service's dependencies. */
export interface MediaRouteDeps {
  sfu: Sfu;
  transcoder?: MediaTranscoder;
  metrics?: CallMetrics;
}

/** True when the offer announced RAW (or hybrid) media the server must encode. */
export function needsTranscoding(call: Call): boolean {
  const a = call.media.audio;
  const v = call.media.video;
  return (a.codec === "opus" && a.source !== "encoded") ||
    (v != null && v.source !== "encoded" && v.codec !== "raw_i420");
}

/**
 * A VoiceFrame/VideoFrame: checked (an accepted participant of the call on
 * its channel, a known media header) and forwarded as it is, or RAW media
 * transcoded first. The encoded path allocates only the SFU's item.
 */
export function routeMedia(
  calls: CallTable,
  deps: MediaRouteDeps,
  kind: "audio" | "video",
  { sender, frame, options }: FrameRequest,
): Frame | null | Promise<Frame | null> {
  const call = calls.onChannel(frame.channel);
  if (call === undefined) throw new RouteError("no_route", `no call on channel ${frame.channel}`);
  const device = sender.deviceId;
  if (!call.accepted.has(device)) {
    throw new RouteError(
      "not_member",
      `device is not an accepted participant of call ${JSON.stringify(call.id)}`,
    );
  }
  const payload = frame.payload;
  const bad = mediaHeaderError(kind, payload);
  if (bad !== null) throw new RouteError("invalid_payload", bad);
  deps.metrics?.mediaIn?.(kind, payload.length);
  // Like any broadcast: a plain Ack, or none when the client acks cumulatively.
  const reply = options?.deferPlainAck ? null : ack(frame);
  if (payload[1] === MediaSource.encoded) {
    deps.sfu.forward(call.accepted, {
      frame,
      kind,
      sender: device,
      keyFrame: kind === "video" && isKeyFramePayload(payload),
    });
    return reply;
  }
  const transcoder = deps.transcoder;
  if (!transcoder || !needsTranscoding(call)) {
    throw new RouteError(
      "unsupported",
      `call ${JSON.stringify(call.id)} was not offered with RAW ${kind}`,
    );
  }
  const media = parseMediaPayload(kind, payload) as MediaPayload;
  return transcoder.transcode(call, device, kind, media).then(
    (encoded) => {
      // The call may have ended while the Worker encoded.
      if (calls.get(call.id) !== call) return reply;
      const parsed = parseMediaPayload(kind, encoded) as MediaPayload;
      deps.sfu.forward(call.accepted, {
        frame: { ...frame, payload: encoded },
        kind,
        sender: device,
        keyFrame: kind === "video" && isKeyFrame(parsed),
      });
      return reply;
    },
    (error: unknown) => {
      throw new RouteError(
        "invalid_payload",
        error instanceof Error ? error.message : String(error),
      );
    },
  );
}
