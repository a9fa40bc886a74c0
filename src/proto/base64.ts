/**
 * Native base64 (TC39 Uint8Array base64, shipped in Deno 2.9's V8).
 *
 * @module
 */

interface Base64Uint8Array extends Uint8Array {
  toBase64(): string;
}
interface Base64Uint8ArrayConstructor {
  fromBase64(text: string): Uint8Array;
}

/** Standard base64 (with padding) of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  return (bytes as Base64Uint8Array).toBase64();
}

/** Decodes standard base64; throws `SyntaxError` on malformed input. */
export function decodeBase64(text: string): Uint8Array {
  return (Uint8Array as unknown as Base64Uint8ArrayConstructor).fromBase64(text.trim());
}
