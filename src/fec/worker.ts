/**
 * The FEC Worker: RaptorQ (WebAssembly) off the server's event loop, spawned
 * by {@link WorkerRaptorq} with no permissions. Messages in:
 * `{op:"encode", seq, data, symbolSize, repair}` →
 * `{seq, packets}`; `{op:"decode", seq, transferLength, symbolSize, packets}`
 * → `{seq, object}` (null when the packets do not suffice); any failure →
 * `{seq, error}`. A WebAssembly trap leaves the module's state unknown, so
 * the Worker then dies on purpose and is replaced by a fresh one.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { decodeSync, encodeSync, loadRaptorq } from "./wasm.ts";

interface Request {
  op: "encode" | "decode";
  seq: number;
  data?: Uint8Array;
  symbolSize: number;
  repair?: number;
  transferLength?: number;
  packets?: Uint8Array[];
}

const ready = loadRaptorq();

self.onmessage = async (event: MessageEvent<Request>) => {
  const r = event.data;
  try {
    await ready;
    if (r.op === "encode") {
      const packets: Uint8Array[] = encodeSync(r.data!, r.symbolSize, r.repair!);
      self.postMessage(
        { seq: r.seq, packets },
        packets.map((p: Uint8Array) => p.buffer as ArrayBuffer),
      );
    } else if (r.op === "decode") {
      const object = decodeSync(r.transferLength!, r.symbolSize, r.packets!);
      self.postMessage({ seq: r.seq, object }, object ? [object.buffer as ArrayBuffer] : []);
    } else {
      self.postMessage({ seq: r.seq, error: `unknown op ${String(r.op)}` });
    }
  } catch (error) {
    self.postMessage({ seq: r.seq, error: (error as Error).message ?? String(error) });
    if (error instanceof WebAssembly.RuntimeError) {
      setTimeout(() => {
        throw error;
      });
    }
  }
};
