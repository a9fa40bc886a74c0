/**
 * PEM (RFC 7468) armour: base64 in 64-column lines between BEGIN/END labels.
 *
 * @module
 */

/** Error thrown when text holds no well-formed PEM block of the wanted label. */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PemError";
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunked so large inputs never hit the argument-count limit of fromCharCode.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** PEM text for `der` under `label` (e.g. "CERTIFICATE"), ending in a newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * DER bytes of every PEM block labelled `label` in `text`, in order
 * (a certificate file may hold a chain). Throws when there is none.
 */
export function decodePemAll(text: string, label: string): Uint8Array<ArrayBuffer>[] {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(
    `-----BEGIN ${escaped}-----([\\s\\S]*?)-----END ${escaped}-----`,
    "g",
  );
  const out: Uint8Array<ArrayBuffer>[] = [];
  for (const match of text.matchAll(re)) {
    const b64 = match[1].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new PemError(`PEM block "${label}" is not valid base64`);
    }
    const binary = atob(b64);
    const der = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
    out.push(der);
  }
  if (out.length === 0) throw new PemError(`no PEM block labelled "${label}" found`);
  return out;
}

/** DER bytes of the first PEM block labelled `label` in `text`. */
export function decodePem(text: string, label: string): Uint8Array<ArrayBuffer> {
  return decodePemAll(text, label)[0];
}
