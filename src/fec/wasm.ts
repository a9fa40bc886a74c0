/**
 * The RaptorQ WebAssembly module (`raptorq` 1.7.24 on npm: the wasm-bindgen
 * build of the Rust crate upstream uses) and the two stateless operations the
 * engines run on it. The `.wasm` bytes are imported as a module (`type:
 * "bytes"`), not read from disk, so the Worker that runs them needs no read
 * permission at all. Every wasm-bindgen object is `.free()`d.
 *
 * @module
 */
import wasmBytes from "raptorq/raptorq_bg.wasm" with { type: "bytes" };
import { Decoder, Encoder, initSync } from "raptorq/raptorq.js";

// The wasm-bindgen glue keeps its one instance in module state; the flag only
// avoids instantiating twice (there is nothing to configure).
let loaded = false;
// A trap leaves the instance in an unknown state: nothing runs on it afterwards.
let trapped: string | null = null;

/** Runs `work` on the module unless it trapped before; a trap is remembered. */
function guarded<T>(work: () => T): T {
  if (trapped !== null) {
    throw new Error(`RaptorQ is unusable after a WebAssembly trap (${trapped})`);
  }
  try {
    return work();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) trapped = error.message;
    throw error;
  }
}

/**
 * Instantiates the module once per isolate (the main one or a Worker's):
 * 240 KB, compiled synchronously (a few ms).
 */
export function loadRaptorq(): Promise<void> {
  if (!loaded) {
    initSync(wasmBytes);
    loaded = true;
  }
  return Promise.resolve();
}

/**
 * Serialised packets (payload id + symbol) of `data` with symbol size `T`:
 * all source symbols, then `repair` repair symbols (ESI from K', see
 * docs/PROTOCOL.md). {@link loadRaptorq} must have resolved.
 */
export function encodeSync(data: Uint8Array, symbolSize: number, repair: number): Uint8Array[] {
  return guarded(() => {
    const encoder = Encoder.with_defaults(data, symbolSize);
    try {
      return encoder.encode(repair);
    } finally {
      encoder.free();
    }
  });
}

/**
 * The object of `transferLength` bytes from serialised packets, or null when
 * they do not suffice (fewer than K, or a rank-deficient set).
 */
export function decodeSync(
  transferLength: number,
  symbolSize: number,
  packets: readonly Uint8Array[],
): Uint8Array | null {
  return guarded(() => {
    const decoder = Decoder.with_defaults(BigInt(transferLength), symbolSize);
    try {
      for (const packet of packets) {
        const out = decoder.decode(packet);
        if (out) return out;
      }
      return null;
    } finally {
      decoder.free();
    }
  });
}
