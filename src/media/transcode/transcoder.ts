/**
 * The server's {@link MediaTranscoder}: RAW PCM → Opus in the Opus Worker,
 * one encoder per (call, sender), with a cap on the streams this server
 * encodes. RAW video is refused until a VP8 encoder is configured.
 *
 * @module
 */
import type { Call } from "../call_table.ts";
import type { MediaTranscoder } from "../call_service.ts";
import { AudioCodecId, type MediaPayload, mediaPayload, MediaSource } from "../header.ts";
import { type OpusStreamParams, opusUnavailable, OpusWorkerPool } from "./opus_pool.ts";

const OPUS_RATES = new Set([8000, 12000, 16000, 24000, 48000]);

/** Options of the {@link WasmTranscoder}. */
export interface WasmTranscoderOptions {
  /** RAW audio streams (one per sending participant) this server encodes at most. */
  maxAudioStreams: number;
  /** Observes the time one frame took in the Worker, seconds (metrics). */
  observe?(kind: "audio" | "video", seconds: number): void;
}

/** RAW media → Opus in WebAssembly Workers. */
export class WasmTranscoder implements MediaTranscoder {
  readonly pool = new OpusWorkerPool();
  readonly #o: WasmTranscoderOptions;
  /** Streams reserved per call at admission (one per participant). */
  readonly #reserved = new Map<Call, number>();
  readonly #streams = new Map<Call, Map<string, number>>();
  #reservedTotal = 0;

  constructor(options: WasmTranscoderOptions) {
    this.#o = options;
  }

  admit(call: Call): string | null {
    const v = call.media.video;
    if (v != null && v.source !== "encoded" && v.codec !== "raw_i420") {
      return 'this server does not transcode RAW video yet; offer video with source "encoded"';
    }
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
    if (kind === "video") throw new Error("this server does not transcode RAW video");
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
  }

  /** Stops the Workers (server shutdown). */
  shutdown(): void {
    this.pool.shutdown();
  }
}
