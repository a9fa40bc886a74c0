/**
 * The RaptorQ engine seam: two stateless operations (encode an object, decode
 * one from a set of packets), run either in this isolate
 * ({@link InProcessRaptorq}) or in a permission-scoped Worker
 * ({@link WorkerRaptorq}). The encoder and decoder classes (framing,
 * validation, limits) sit above it and are the same for both.
 *
 * Stateless on purpose: the decoder buffers symbols itself and calls the
 * engine once it holds K of them, so a Worker hop is one per object, not
 * one per packet, and a restarted Worker loses nothing.
 *
 * @module
 */
import { RestartingWorker } from "../worker/mod.ts";
import { decodeSync, encodeSync, loadRaptorq } from "./wasm.ts";

/** Where RaptorQ runs; see the module doc. */
export interface RaptorqEngine {
  /** `inprocess` or `worker` (for logs and the bench). */
  readonly kind: "inprocess" | "worker";
  /**
   * Serialised packets (payload id + symbol) of `data`: all K source symbols,
   * then `repair` repair symbols.
   */
  encode(data: Uint8Array, symbolSize: number, repair: number): Promise<Uint8Array[]>;
  /** The object from serialised packets, or null when they do not suffice. */
  decode(
    transferLength: number,
    symbolSize: number,
    packets: readonly Uint8Array[],
  ): Promise<Uint8Array | null>;
  /** Releases the engine (a Worker is terminated). */
  close(): void;
}

/**
 * RaptorQ on this isolate's event loop: no hop, but a 64 KiB object blocks it
 * for ~1 ms. The module is one per isolate and a WebAssembly trap leaves its
 * state unknown, so after one it refuses all further work (./wasm.ts; the
 * Worker engine restarts instead).
 */
export class InProcessRaptorq implements RaptorqEngine {
  readonly kind = "inprocess";

  private constructor() {}

  /** Instantiates the WebAssembly module (once per isolate). */
  static async create(): Promise<InProcessRaptorq> {
    await loadRaptorq();
    return new InProcessRaptorq();
  }

  encode(data: Uint8Array, symbolSize: number, repair: number): Promise<Uint8Array[]> {
    return this.#run(() => encodeSync(data, symbolSize, repair));
  }

  decode(
    transferLength: number,
    symbolSize: number,
    packets: readonly Uint8Array[],
  ): Promise<Uint8Array | null> {
    return this.#run(() => decodeSync(transferLength, symbolSize, packets));
  }

  #run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): void {}
}

const WORKER_URL = new URL("./worker.ts", import.meta.url);

/** What the FEC Worker answers. */
interface FecReply {
  packets?: Uint8Array[];
  object?: Uint8Array | null;
}

/**
 * RaptorQ in a Worker with no permissions at all (no net, env, read, write,
 * run, FFI or sys: the `.wasm` is imported as bytes), restarted after a crash
 * (requests in flight then fail; the decoder keeps its symbols and retries).
 */
export class WorkerRaptorq implements RaptorqEngine {
  readonly kind = "worker";
  readonly #worker = new RestartingWorker<FecReply>({
    url: WORKER_URL,
    permissions: {
      env: false,
      // Its modules load under the parent's permissions (the server reads `.`).
      read: false,
      write: false,
      net: false,
      run: false,
      ffi: false,
      sys: false,
      import: false,
    },
    encoder: "RaptorQ",
    worker: "the FEC Worker",
  });

  /** Times the Worker was restarted after dying. */
  get restarts(): number {
    return this.#worker.restarts;
  }

  async encode(data: Uint8Array, symbolSize: number, repair: number): Promise<Uint8Array[]> {
    const reply = await this.#worker.request({ op: "encode", data, symbolSize, repair });
    return reply.packets ?? [];
  }

  async decode(
    transferLength: number,
    symbolSize: number,
    packets: readonly Uint8Array[],
  ): Promise<Uint8Array | null> {
    const reply = await this.#worker.request({ op: "decode", transferLength, symbolSize, packets });
    return reply.object ?? null;
  }

  /** Kills the Worker as a crash would (tests: the next request restarts it). */
  kill(): void {
    this.#worker.kill();
  }

  close(): void {
    this.#worker.shutdown();
  }
}

/** An engine of the kind asked for (`worker` is what the server uses). */
export function createRaptorqEngine(kind: "inprocess" | "worker"): Promise<RaptorqEngine> {
  return kind === "worker" ? Promise.resolve(new WorkerRaptorq()) : InProcessRaptorq.create();
}
