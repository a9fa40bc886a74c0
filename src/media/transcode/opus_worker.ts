/**
 * The Opus encoder Worker: libopus compiled to WebAssembly (`@evan/opus`,
 * forced to its WASM build), one encoder per stream, off the server's event
 * loop. Spawned by {@link OpusWorkerPool} with read access to nothing but
 * the package and no net, write, run or FFI.
 *
 * Messages in: `{op:"open", id, sampleRate, channels, bitrate, fec, dtx}`,
 * `{op:"encode", id, seq, pcm}`, `{op:"close", id}`. Out: `{seq, packet}` or
 * `{seq, error}`; `open` answers `{seq, lookahead}`.
 *
 * @module
 */
/// <reference lib="deno.worker" />

// Must be set before the import: the package picks its native or WASM build then.
Deno.env.set("OPUS_FORCE_WASM", "1");
const { Encoder } = await import("@evan/opus");

type Encoder = InstanceType<typeof Encoder>;
const encoders = new Map<number, Encoder>();

interface Request {
  op: "open" | "encode" | "close";
  id: number;
  seq: number;
  sampleRate?: 8000 | 12000 | 16000 | 24000 | 48000;
  channels?: 1 | 2;
  bitrate?: number;
  fec?: boolean;
  dtx?: boolean;
  pcm?: Uint8Array;
}

self.onmessage = (event: MessageEvent<Request>) => {
  const r = event.data;
  try {
    if (r.op === "open") {
      const encoder = new Encoder({
        sample_rate: r.sampleRate!,
        channels: r.channels!,
        application: "voip",
      });
      // As upstream: VBR, complexity 9, bitrate/FEC/DTX from the offer.
      encoder.vbr = true;
      encoder.complexity = 9;
      encoder.bitrate = r.bitrate!;
      encoder.inband_fec = r.fec!;
      encoder.dtx = r.dtx!;
      encoders.set(r.id, encoder);
      self.postMessage({
        seq: r.seq,
        lookahead: (encoder as unknown as { lookahead: number }).lookahead,
      });
    } else if (r.op === "encode") {
      const encoder = encoders.get(r.id);
      if (!encoder) throw new Error(`no encoder ${r.id}`);
      const pcm = r.pcm!;
      const packet = encoder.encode(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2));
      self.postMessage({ seq: r.seq, packet: packet.slice() });
    } else {
      encoders.delete(r.id);
    }
  } catch (error) {
    self.postMessage({ seq: r.seq, error: error instanceof Error ? error.message : String(error) });
  }
};
