/**
 * Opus encoding in a Worker ({@link ./opus_worker.ts}): requests by sequence
 * number, answered in order. A Worker that dies is replaced at once; what
 * it had in flight fails with a clear reason and each stream gets a new
 * encoder on its next frame (so a crash costs one frame per stream, not
 * the call).
 *
 * @module
 */
import { RestartingWorker } from "../../worker/mod.ts";

/** Parameters of one Opus stream (from the call's offer). */
export interface OpusStreamParams {
  sampleRate: 8000 | 12000 | 16000 | 24000 | 48000;
  channels: 1 | 2;
  bitrate: number;
  fec: boolean;
  dtx: boolean;
}

interface Stream {
  params: OpusStreamParams;
  /** The Worker generation the encoder lives in (0 = none yet). */
  generation: number;
  lookahead: number;
}

/**
 * The folder of the package's .wasm builds: the only thing the Worker may
 * read (the package loads its build from there with `fs.readFileSync`).
 */
export function opusWasmDir(): string {
  const entry = new URL(import.meta.resolve("@evan/opus"));
  return new URL("./wasm/", entry).pathname;
}

/**
 * Null when this process may start the Opus Worker, else a one-line reason:
 * the Worker's read access to {@link opusWasmDir} must be within ours.
 */
export function opusUnavailable(): string | null {
  const dir = opusWasmDir();
  const state = Deno.permissions.querySync({ name: "read", path: dir }).state;
  return state === "granted"
    ? null
    : `Opus transcoding needs read access to ${dir} (--allow-read=${dir})`;
}

/** One Opus Worker and the streams it encodes. */
export class OpusWorkerPool {
  readonly #worker = new RestartingWorker<{ packet?: Uint8Array; lookahead?: number }>({
    url: new URL("./opus_worker.ts", import.meta.url),
    // Reads only the .wasm builds; no net, write, run, FFI or system
    // access; env only for the build switch.
    permissions: {
      env: ["OPUS_FORCE_WASM"],
      read: [opusWasmDir()],
      write: false,
      net: false,
      run: false,
      ffi: false,
      sys: false,
      import: false,
    },
    encoder: "Opus encoder",
    worker: "the transcoding Worker",
  });
  #nextId = 1;
  readonly #streams = new Map<number, Stream>();

  /** Times the Worker was restarted after dying. */
  get restarts(): number {
    return this.#worker.restarts;
  }

  /** Streams open now. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Opens a stream; its encoder is created in the Worker on the first frame. */
  open(params: OpusStreamParams): number {
    const id = this.#nextId++;
    this.#streams.set(id, { params, generation: 0, lookahead: 0 });
    return id;
  }

  /** The encoder's lookahead in samples (the Ogg pre-skip), once a frame was encoded. */
  lookahead(id: number): number {
    return this.#streams.get(id)?.lookahead ?? 0;
  }

  /** Encodes one 20 ms frame of little-endian 16-bit PCM; resolves with the Opus packet. */
  async encode(id: number, pcm: Uint8Array): Promise<Uint8Array> {
    const stream = this.#streams.get(id);
    if (!stream) throw new Error("the Opus stream is closed");
    const generation = this.#worker.ensure();
    if (stream.generation !== generation) {
      stream.generation = generation;
      const opened = this.#worker.request({ op: "open", id, ...stream.params });
      // Its failure shows in the encode after it.
      opened.then((r) => (stream.lookahead = r.lookahead ?? 0), () => {});
    }
    // A copy: the caller's buffer is a view into a frame that lives on.
    const reply = await this.#worker.request({ op: "encode", id, pcm: pcm.slice() });
    return reply.packet!;
  }

  /** Closes a stream. */
  close(id: number): void {
    if (this.#streams.delete(id)) this.#worker.post({ op: "close", id });
  }

  /** Terminates the Worker as a crash would: in-flight frames fail, the next frame restarts it. */
  kill(): void {
    this.#worker.kill();
  }

  /** Stops the Worker for good. */
  shutdown(): void {
    this.#worker.shutdown();
    this.#streams.clear();
  }
}
