/**
 * The 3-byte header of VoiceFrame/VideoFrame payloads (upstream §6.6):
 * `[version=1][source][codec]` then the codec data. Upstream forwarded
 * payloads without looking at it; here a payload whose header is not
 * version 1 with a known source and codec is refused.
 *
 * @module
 */

/** The only media header version. */
export const MEDIA_HEADER_VERSION = 1;
/** Length of the media header in bytes. */
export const MEDIA_HEADER_BYTES = 3;

/** Source ids: what the sender put after the header. */
export const MediaSource = { encoded: 0, raw: 1, hybrid: 2 } as const;
/** A source id. */
export type MediaSourceId = typeof MediaSource[keyof typeof MediaSource];

/** Audio codec ids. */
export const AudioCodecId = { opus: 0, raw_pcm: 1 } as const;
/** Video codec ids. */
export const VideoCodecId = {
  raw_i420: 0,
  vp8: 1,
  vp9: 2,
  h264_baseline: 3,
  h264_main: 4,
  h265_main: 5,
  av1_main: 6,
} as const;

/** A parsed media payload. */
export interface MediaPayload {
  source: MediaSourceId;
  codec: number;
  /** The codec data after the header (a view, not a copy). */
  data: Uint8Array;
}

/**
 * Why `payload` is not a media payload of `kind` (a one-line reason), or null
 * when its header is version 1 with a known source and a codec known for
 * `kind`. Reads the three header bytes only: nothing is allocated for a good
 * payload (the SFU's per-frame check).
 */
export function mediaHeaderError(kind: "audio" | "video", payload: Uint8Array): string | null {
  if (payload.length < MEDIA_HEADER_BYTES) return "media payload shorter than its 3-byte header";
  const version = payload[0];
  if (version !== MEDIA_HEADER_VERSION) return `media header version ${version} is not 1`;
  const source = payload[1];
  if (source > 2) return `media source id ${source} is unknown`;
  const codec = payload[2];
  const codecs = kind === "audio" ? 1 : 6;
  if (codec > codecs) return `${kind} codec id ${codec} is unknown`;
  return null;
}

/**
 * Parses a media payload; returns a one-line reason instead when the header
 * is not version 1 with a known source and a codec known for `kind`.
 */
export function parseMediaPayload(
  kind: "audio" | "video",
  payload: Uint8Array,
): MediaPayload | string {
  const error = mediaHeaderError(kind, payload);
  if (error !== null) return error;
  return {
    source: payload[1] as MediaSourceId,
    codec: payload[2],
    data: payload.subarray(MEDIA_HEADER_BYTES),
  };
}

/** A media payload: header then `data`. */
export function mediaPayload(source: MediaSourceId, codec: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(MEDIA_HEADER_BYTES + data.length);
  out[0] = MEDIA_HEADER_VERSION;
  out[1] = source;
  out[2] = codec;
  out.set(data, MEDIA_HEADER_BYTES);
  return out;
}

/**
 * True when a video payload starts a decodable picture on its own: every raw
 * I420 frame; a VP8 frame whose frame-tag P bit is 0 (RFC 6386 §9.1); a VP9
 * frame whose uncompressed header says KEY_FRAME. Other codecs are treated
 * as key frames (the SFU cannot tell, so it never holds them back).
 */
export function isKeyFrame(video: MediaPayload): boolean {
  return keyFrameAt(video.codec, video.data, 0);
}

/**
 * {@link isKeyFrame} of a whole video payload whose header
 * {@link mediaHeaderError} accepted (no view of its data is made).
 */
export function isKeyFramePayload(payload: Uint8Array): boolean {
  return keyFrameAt(payload[2], payload, MEDIA_HEADER_BYTES);
}

/** {@link isKeyFrame} of `codec` data that starts at `d[at]`. */
function keyFrameAt(codec: number, d: Uint8Array, at: number): boolean {
  switch (codec) {
    case VideoCodecId.raw_i420:
      return true;
    case VideoCodecId.vp8:
      return d.length > at && (d[at] & 0x01) === 0;
    case VideoCodecId.vp9: {
      if (d.length <= at) return false;
      // frame_marker(2) profile_low(1) profile_high(1) [reserved(1) if profile 3] show_existing(1) frame_type(1)
      const b = d[at];
      const profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
      let bit = 3; // bit index from the MSB, after marker and profile bits
      if (profile === 3) bit++;
      if ((b >> (7 - bit)) & 1) return false; // show_existing_frame
      bit++;
      return ((b >> (7 - bit)) & 1) === 0;
    }
    default:
      return true;
  }
}
