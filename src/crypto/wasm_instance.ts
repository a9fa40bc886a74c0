/**
 * Instantiates a WebAssembly module embedded as base64 (the committed,
 * generated `*_module.ts` files of `wasm/`): synchronous, so a module is ready
 * at import with no top-level await.
 *
 * @module
 */

/** Decodes `base64` and instantiates it with no imports; its exports as `T`. */
export function instantiateEmbedded<T>(base64: string): T {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as T;
}
