/**
 * Test helper: that a text does not stand in stored or relayed bytes in any
 * of the forms a leak would take.
 */
import assert from "node:assert/strict";
import { toHex } from "../../src/crypto/mod.ts";
import { encodeBase64 } from "../../src/proto/mod.ts";

/** Fails when `haystack` holds `text` raw, as hex, or as base64 at any alignment. */
export function assertNoText(where: string, haystack: string, text: string): void {
  const raw = new TextEncoder().encode(text);
  const forms = [text, toHex(raw)];
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + raw.length);
    padded.set(raw, shift);
    const b64 = encodeBase64(padded);
    forms.push(b64.slice(Math.ceil(shift / 3) * 4, Math.floor((shift + raw.length) / 3) * 4));
  }
  for (const form of forms) {
    assert.equal(haystack.includes(form), false, `${where} holds "${text}"`);
  }
}
