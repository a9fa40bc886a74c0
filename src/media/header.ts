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
 * Parses a media payload; returns a one-line reason instead when the header
 * is not version 1 with a known source and a codec known for `kind`.
 */
export function parseMediaPayload(
  kind: "audio" | "video",
  payload: Uint8Array,
): MediaPayload | string {
  if (payload.length < MEDIA_HEADER_BYTES) return "media payload shorter than its 3-byte header";
  const [version, source, codec] = payload;
  if (version !== MEDIA_HEADER_VERSION) return `media header version ${version} is not 1`;
  if (source > 2) return `media source id ${source} is unknown`;
  const codecs = kind === "audio" ? 1 : 6;
  if (codec > codecs) return `${kind} codec id ${codec} is unknown`;
  return { source: source as MediaSourceId, codec, data: payload.subarray(MEDIA_HEADER_BYTES) };
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
  const d = video.data;
  switch (video.codec) {
    case VideoCodecId.raw_i420:
      return true;
    case VideoCodecId.vp8:
      return d.length > 0 && (d[0] & 0x01) === 0;
    case VideoCodecId.vp9: {
      if (d.length === 0) return false;
      // frame_marker(2) profile_low(1) profile_high(1) [reserved(1) if profile 3] show_existing(1) frame_type(1)
      const b = d[0];
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
