/**
 * The WebAssembly AEAD's own memory as the place a sender builds a transport
 * message in, sealed there without a copy in or out (see `aeadArea` in
 * noise/wasm_chacha_poly.ts): the server's outbound writes.
 *
 * An entry of its own, not re-exported from ./mod.ts: the web client's
 * bundle reaches ./mod.ts, swaps the native primitives for noble's and must
 * not load the module (a browser refuses to compile it synchronously on its
 * main thread).
 *
 * @module
 */
export { AEAD_AREA_AT, aeadArea, aeadAreaView } from "./noise/wasm_chacha_poly.ts";
