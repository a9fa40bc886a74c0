/**
 * Zod schemas for the call control payloads (CallOffer, CallAnswer, CallEnd,
 * CallStats, TransportUpdate), mirroring upstream `proto::call` and
 * `media-types`: snake_case enums, serde defaults applied, `Option` fields
 * accept `null` or absence, unknown keys passed through.
 *
 * @module
 */

import { z } from "zod";

const u8 = z.number().int().min(0).max(0xff);
const u16 = z.number().int().min(0).max(0xffff);
const u32 = z.number().int().min(0).max(0xffff_ffff);
/** u64 fields (timestamps) as safe integers; larger values are not used in practice. */
const u64 = z.number().int().min(0);

/** Audio codecs. */
export const AudioCodec = z.enum(["opus", "raw_pcm"]);
/** Video codecs. */
export const VideoCodec = z.enum([
  "raw_i420",
  "vp8",
  "vp9",
  "h264_baseline",
  "h264_main",
  "h265_main",
  "av1_main",
]);
/** Where media comes from; defaults to `encoded` when absent. */
export const MediaSourceMode = z.enum(["encoded", "raw", "hybrid"]);
/** Hardware acceleration kinds. */
export const HardwareAcceleration = z.enum(["cpu", "nvidia", "amd", "intel", "apple"]);
/** Call duplex mode. */
export const CallMode = z.enum(["full_duplex", "half_duplex"]);
/** Candidate transport protocol; defaults to `udp`. */
export const TransportProtocol = z.enum(["tcp", "udp"]);
/** ICE candidate types. */
export const IceCandidateType = z.enum(["host", "srflx", "prflx", "relay"]);
/** ICE TCP candidate types. */
export const IceTcpCandidateType = z.enum(["active", "passive", "so"]);
/** Why a call was rejected. */
export const CallRejectReason = z.enum(["busy", "decline", "unsupported", "timeout", "error"]);
/** Why a call ended. */
export const CallEndReason = z.enum(["hangup", "cancel", "failure", "timeout"]);
/** Direction of a stats report. */
export const CallMediaDirection = z.enum(["send", "receive"]);

/** Video resolution in pixels. */
export const VideoResolution = z.looseObject({ width: u16, height: u16 });

/** An audio codec offer. `priority` defaults to 0. */
export const AudioCodecDescriptor = z.looseObject({
  codec: AudioCodec,
  bitrate: u32.nullish(),
  sample_rate: u32.nullish(),
  channels: u8.nullish(),
  priority: u8.default(0),
});

/** A video codec offer. */
export const VideoCodecDescriptor = z.looseObject({
  codec: VideoCodec,
  max_bitrate: u32.nullish(),
  max_resolution: VideoResolution.nullish(),
  frame_rate: u8.nullish(),
  hardware: z.array(HardwareAcceleration).default([]),
  priority: u8.default(0),
  supports_scalability: z.boolean().default(false),
});

/** Codec capabilities of an endpoint. */
export const MediaCapabilities = z.looseObject({
  audio: z.array(AudioCodecDescriptor).default([]),
  video: z.array(VideoCodecDescriptor).default([]),
  allow_raw_audio: z.boolean().default(false),
  allow_raw_video: z.boolean().default(false),
});

/** Audio stream parameters; codec, bitrate, sample_rate and channels are required. */
export const AudioParameters = z.looseObject({
  codec: AudioCodec,
  bitrate: u32,
  sample_rate: u32,
  channels: u8,
  fec: z.boolean().default(false),
  dtx: z.boolean().default(false),
  source: MediaSourceMode.default("encoded"),
  preferred_codecs: z.array(AudioCodec).default([]),
  available_codecs: z.array(AudioCodecDescriptor).default([]),
  allow_passthrough: z.boolean().default(false),
});

/** Video stream parameters; codec, max_bitrate, max_resolution and frame_rate are required. */
export const VideoParameters = z.looseObject({
  codec: VideoCodec,
  max_bitrate: u32,
  max_resolution: VideoResolution,
  frame_rate: u8,
  adaptive: z.boolean().default(false),
  source: MediaSourceMode.default("encoded"),
  preferred_codecs: z.array(VideoCodec).default([]),
  available_codecs: z.array(VideoCodecDescriptor).default([]),
  hardware: z.array(HardwareAcceleration).default([]),
  allow_passthrough: z.boolean().default(false),
  capabilities: MediaCapabilities.nullish(),
});

/** A call's media profile; `audio` is required. */
export const CallMediaProfile = z.looseObject({
  audio: AudioParameters,
  video: VideoParameters.nullish(),
  mode: CallMode.default("full_duplex"),
  capabilities: MediaCapabilities.nullish(),
});

/** Parsed {@linkcode CallMediaProfile}. */
export type CallMediaProfile = z.infer<typeof CallMediaProfile>;

/**
 * The profile a CallOffer without `media` gets: upstream `CallMediaProfile::default()`
 * (Opus 16 kb/s, 48 kHz mono, FEC and DTX on, raw source, no video).
 */
export function defaultCallMediaProfile(): CallMediaProfile {
  return {
    audio: {
      codec: "opus",
      bitrate: 16_000,
      sample_rate: 48_000,
      channels: 1,
      fec: true,
      dtx: true,
      source: "raw",
      preferred_codecs: ["opus"],
      available_codecs: [
        { codec: "opus", bitrate: 16_000, sample_rate: 48_000, channels: 1, priority: 100 },
      ],
      allow_passthrough: false,
    },
    mode: "full_duplex",
  };
}

/** One ICE/transport candidate; `address` and `port` are required. */
export const TransportCandidate = z.looseObject({
  address: z.string(),
  port: u16,
  protocol: TransportProtocol.default("udp"),
  foundation: z.string().nullish(),
  component: u8.nullish(),
  priority: u32.nullish(),
  candidate_type: IceCandidateType.nullish(),
  related_address: z.string().nullish(),
  related_port: u16.nullish(),
  tcp_type: IceTcpCandidateType.nullish(),
  sdp_mid: z.string().nullish(),
  sdp_mline_index: u16.nullish(),
  url: z.string().nullish(),
});

/** A reference to a candidate in a selected pair. */
export const TransportCandidateRef = z.looseObject({
  address: z.string(),
  port: u16,
  protocol: TransportProtocol.default("udp"),
  candidate_type: IceCandidateType.nullish(),
  foundation: z.string().nullish(),
  priority: u32.nullish(),
});

/** ICE credentials. */
export const IceCredentials = z.looseObject({
  username_fragment: z.string(),
  password: z.string(),
  expires_at: u64.nullish(),
});

/** Moves the upstream alias `udp_candidates` to `candidates` when only the alias is given. */
function candidatesAlias(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if (record.udp_candidates === undefined || record.candidates !== undefined) return value;
  const { udp_candidates, ...rest } = record;
  return { ...rest, candidates: udp_candidates };
}

/** Transport preferences of a call; `candidates` may also be sent as `udp_candidates`. */
export const CallTransport = z.preprocess(
  candidatesAlias,
  z.looseObject({
    prefer_relay: z.boolean().default(false),
    candidates: z.array(TransportCandidate).default([]),
    fingerprints: z.array(z.string()).default([]),
    ice_credentials: IceCredentials.nullish(),
    trickle: z.boolean().default(false),
    consent_interval_secs: u16.nullish(),
  }),
);

/** Free-form metadata; `null` when absent. */
const metadata = z.unknown().default(null);

/** CallOffer payload. `call_id` must be non-empty; `media` defaults to {@linkcode defaultCallMediaProfile}. */
export const CallOfferPayload = z.looseObject({
  call_id: z.string().min(1, "must not be empty"),
  from: z.string(),
  to: z.array(z.string()),
  media: CallMediaProfile.default(defaultCallMediaProfile),
  metadata,
  transport: CallTransport.nullish(),
  expires_at: u64.nullish(),
  ephemeral_key: z.string().nullish(),
});

/** CallAnswer payload; `accept` is required. */
export const CallAnswerPayload = z.looseObject({
  call_id: z.string(),
  accept: z.boolean(),
  media: CallMediaProfile.nullish(),
  transport: CallTransport.nullish(),
  reason: CallRejectReason.nullish(),
  metadata,
  selected_audio_codec: AudioCodec.nullish(),
  selected_video_codec: VideoCodec.nullish(),
  audio_source: MediaSourceMode.nullish(),
  video_source: MediaSourceMode.nullish(),
  video_hardware: HardwareAcceleration.nullish(),
});

/** CallEnd payload; `reason` is required. */
export const CallEndPayload = z.looseObject({
  call_id: z.string(),
  reason: CallEndReason,
  metadata,
});

/** Per-stream statistics; `bitrate` is required. */
export const MediaStreamStats = z.looseObject({
  bitrate: u32,
  packet_loss: z.number().default(0),
  jitter_ms: u32.default(0),
  rtt_ms: u32.nullish(),
  frames_per_second: u8.nullish(),
  key_frames: u32.nullish(),
  codec: z.string().nullish(),
  source: MediaSourceMode.nullish(),
  hardware: HardwareAcceleration.nullish(),
});

/** CallStats payload; `direction` is required. */
export const CallStatsPayload = z.looseObject({
  call_id: z.string(),
  direction: CallMediaDirection,
  audio: MediaStreamStats.nullish(),
  video: MediaStreamStats.nullish(),
  timestamp: u64.nullish(),
});

/** TransportUpdate payload, tagged by `update`. */
export const TransportUpdatePayload = z.discriminatedUnion("update", [
  z.looseObject({
    call_id: z.string(),
    update: z.literal("candidate"),
    candidate: TransportCandidate,
  }),
  z.looseObject({
    call_id: z.string(),
    update: z.literal("selected_candidate_pair"),
    local: TransportCandidateRef,
    remote: TransportCandidateRef,
    rtt_ms: u32.nullish(),
  }),
  z.looseObject({
    call_id: z.string(),
    update: z.literal("consent_keepalive"),
    interval_secs: u16.nullish(),
  }),
]);

/** Parsed {@linkcode CallOfferPayload}. */
export type CallOfferPayload = z.infer<typeof CallOfferPayload>;
/** Parsed {@linkcode CallAnswerPayload}. */
export type CallAnswerPayload = z.infer<typeof CallAnswerPayload>;
/** Parsed {@linkcode CallEndPayload}. */
export type CallEndPayload = z.infer<typeof CallEndPayload>;
/** Parsed {@linkcode CallStatsPayload}. */
export type CallStatsPayload = z.infer<typeof CallStatsPayload>;
/** Parsed {@linkcode TransportUpdatePayload}. */
export type TransportUpdatePayload = z.infer<typeof TransportUpdatePayload>;
/** Parsed {@linkcode TransportCandidate}. */
export type TransportCandidate = z.infer<typeof TransportCandidate>;
/** Parsed {@linkcode CallTransport}. */
export type CallTransport = z.infer<typeof CallTransport>;
/** Parsed {@linkcode MediaStreamStats}. */
export type MediaStreamStats = z.infer<typeof MediaStreamStats>;
