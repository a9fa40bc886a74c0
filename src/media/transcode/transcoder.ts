/**
 * The server's {@link MediaTranscoder}: RAW PCM → Opus in the Opus Worker,
 * and RAW I420 → VP8/VP9 in the libav.js Worker, one encoder per (call,
 * sender), with caps on the streams this server encodes.
 *
 * @module
 */
import type { Call } from "../call_table.ts";
import type { MediaTranscoder } from "../call_deps.ts";
import {
  AudioCodecId,
  type MediaPayload,
  mediaPayload,
  MediaSource,
  VideoCodecId,
} from "../header.ts";
import { type OpusStreamParams, opusUnavailable, OpusWorkerPool } from "./opus_pool.ts";
import { defaultLibavWasm, vpxUnavailable, VpxWorkerPool } from "./vpx_pool.ts";

const OPUS_RATES = new Set([8000, 12000, 16000, 24000, 48000]);

/** Options of the {@link WasmTranscoder}. */
export interface WasmTranscoderOptions {
  /** RAW audio streams (one per sending participant) this server encodes at most. */
  maxAudioStreams: number;
  /** RAW video streams this server encodes at most (0 = no video transcoding). */
  maxVideoStreams?: number;
  /** The libav.js .wasm build to load (default: the npm package's). */
  libavWasm?: string;
  /** Observes the time one frame took in the Worker, seconds (metrics). */
  observe?(kind: "audio" | "video", seconds: number): void;
}

/** RAW media → Opus in WebAssembly Workers. */
export class WasmTranscoder implements MediaTranscoder {
  readonly pool = new OpusWorkerPool();
  readonly video: VpxWorkerPool;
  readonly #o: WasmTranscoderOptions;
  readonly #libavWasm: string;
  /** Streams reserved per call at admission (one per participant). */
  readonly #reserved = new Map<Call, number>();
  readonly #reservedVideo = new Map<Call, number>();
  readonly #streams = new Map<Call, Map<string, number>>();
  readonly #videoStreams = new Map<Call, Map<string, number>>();
  #reservedTotal = 0;
  #reservedVideoTotal = 0;

  constructor(options: WasmTranscoderOptions) {
    this.#o = options;
    this.#libavWasm = options.libavWasm ?? defaultLibavWasm();
    this.video = new VpxWorkerPool(this.#libavWasm);
  }

  admit(call: Call): string | null {
    const video = this.#admitVideo(call);
    if (video !== null) return video;
    const audio = this.#admitAudio(call);
    if (audio !== null) this.#releaseVideo(call);
    return audio;
  }

  #admitVideo(call: Call): string | null {
    const v = call.media.video;
    if (v == null || v.source === "encoded" || v.codec === "raw_i420") return null;
    if (v.codec !== "vp8" && v.codec !== "vp9") {
      return `this server encodes RAW video to vp8 or vp9, not ${v.codec}`;
    }
    const { width, height } = v.max_resolution;
    if (width < 16 || height < 16 || width > 1920 || height > 1080) {
      return `video resolution ${width}x${height} is outside 16x16..1920x1080`;
    }
    if (v.frame_rate < 1 || v.frame_rate > 60) {
      return `video frame rate ${v.frame_rate} is outside 1..60`;
    }
    if (v.max_bitrate < 50_000) return `video bitrate ${v.max_bitrate} bit/s is under 50000`;
    const unavailable = vpxUnavailable(this.#libavWasm);
    if (unavailable !== null) return unavailable;
    const max = this.#o.maxVideoStreams ?? 0;
    const need = call.participants.size;
    if (this.#reservedVideoTotal + need > max) {
      return `this server transcodes at most ${max} RAW video streams ` +
        `(calls.transcode_video_streams); ${this.#reservedVideoTotal} are in use`;
    }
    this.#reservedVideo.set(call, need);
    this.#reservedVideoTotal += need;
    return null;
  }

  #admitAudio(call: Call): string | null {
    const a = call.media.audio;
    if (a.codec !== "opus" || a.source === "encoded") return null;
    if (!OPUS_RATES.has(a.sample_rate)) {
      return `Opus cannot encode ${a.sample_rate} Hz (8000, 12000, 16000, 24000 or 48000)`;
    }
    if (a.channels !== 1 && a.channels !== 2) {
      return `Opus encodes 1 or 2 channels, not ${a.channels}`;
    }
    if (a.bitrate < 6000 || a.bitrate > 510_000) {
      return `Opus bitrate ${a.bitrate} bit/s is outside 6000..510000`;
    }
    const unavailable = opusUnavailable();
    if (unavailable !== null) return unavailable;
    const need = call.participants.size;
    if (this.#reservedTotal + need > this.#o.maxAudioStreams) {
      return `this server transcodes at most ${this.#o.maxAudioStreams} RAW audio streams ` +
        `(calls.transcode_audio_streams); ${this.#reservedTotal} are in use`;
    }
    this.#reserved.set(call, need);
    this.#reservedTotal += need;
    return null;
  }

  async transcode(
    call: Call,
    sender: string,
    kind: "audio" | "video",
    media: MediaPayload,
  ): Promise<Uint8Array> {
    if (kind === "video") return await this.#transcodeVideo(call, sender, media);
    if (!this.#reserved.has(call)) throw new Error("this call was not offered with RAW audio");
    const a = call.media.audio;
    if (media.codec !== AudioCodecId.raw_pcm) {
      throw new Error("RAW audio must carry codec raw_pcm (1)");
    }
    const expected = (a.sample_rate / 50) * a.channels * 2;
    if (media.data.length !== expected) {
      throw new Error(
        `a RAW PCM frame is exactly ${expected} bytes (${a.sample_rate} Hz × ${a.channels} ch × ` +
          `20 ms × 16-bit little-endian), not ${media.data.length}`,
      );
    }
    let streams = this.#streams.get(call);
    if (!streams) this.#streams.set(call, streams = new Map());
    let id = streams.get(sender);
    if (id === undefined) {
      const params: OpusStreamParams = {
        sampleRate: a.sample_rate as OpusStreamParams["sampleRate"],
        channels: a.channels as 1 | 2,
        bitrate: a.bitrate,
        fec: a.fec,
        dtx: a.dtx,
      };
      id = this.pool.open(params);
      streams.set(sender, id);
    }
    const started = performance.now();
    const packet = await this.pool.encode(id, media.data);
    this.#o.observe?.("audio", (performance.now() - started) / 1000);
    return mediaPayload(MediaSource.encoded, AudioCodecId.opus, packet);
  }

  async #transcodeVideo(call: Call, sender: string, media: MediaPayload): Promise<Uint8Array> {
    const v = call.media.video;
    if (v == null || !this.#reservedVideo.has(call)) {
      throw new Error("this call was not offered with RAW video");
    }
    if (media.codec !== VideoCodecId.raw_i420) {
      throw new Error("RAW video must carry codec raw_i420 (0)");
    }
    const { width: w, height: h } = v.max_resolution;
    const expected = w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2);
    if (media.data.length !== expected) {
      throw new Error(
        `a RAW I420 frame at ${w}x${h} is exactly ${expected} bytes (planar Y, U, V), not ` +
          `${media.data.length}`,
      );
    }
    let streams = this.#videoStreams.get(call);
    if (!streams) this.#videoStreams.set(call, streams = new Map());
    let id = streams.get(sender);
    const codec = v.codec === "vp9" ? "vp9" : "vp8";
    if (id === undefined) {
      id = this.video.open({
        codec,
        width: w,
        height: h,
        frameRate: v.frame_rate,
        bitrate: v.max_bitrate,
      });
      streams.set(sender, id);
    }
    const started = performance.now();
    const { packet } = await this.video.encode(id, media.data);
    this.#o.observe?.("video", (performance.now() - started) / 1000);
    return mediaPayload(MediaSource.encoded, VideoCodecId[codec], packet);
  }

  /** `sender`'s next encoded video frame in `call` is a key frame. */
  forceKeyFrame(call: Call, sender: string): void {
    const id = this.#videoStreams.get(call)?.get(sender);
    if (id !== undefined) this.video.forceKeyFrame(id);
  }

  #releaseVideo(call: Call): void {
    for (const id of this.#videoStreams.get(call)?.values() ?? []) this.video.close(id);
    this.#videoStreams.delete(call);
    this.#reservedVideoTotal -= this.#reservedVideo.get(call) ?? 0;
    this.#reservedVideo.delete(call);
  }

  /** The Ogg pre-skip of `sender`'s stream in `call` (its encoder's lookahead). */
  lookahead(call: Call, sender: string): number {
    const id = this.#streams.get(call)?.get(sender);
    return id === undefined ? 0 : this.pool.lookahead(id);
  }

  release(call: Call): void {
    for (const id of this.#streams.get(call)?.values() ?? []) this.pool.close(id);
    this.#streams.delete(call);
    this.#reservedTotal -= this.#reserved.get(call) ?? 0;
    this.#reserved.delete(call);
    this.#releaseVideo(call);
  }

  /** Stops the Workers (server shutdown). */
  shutdown(): void {
    this.pool.shutdown();
    this.video.shutdown();
  }
}
