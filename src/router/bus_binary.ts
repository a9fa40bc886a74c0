/**
 * The binary form of the bus's one hot message, `held-copies` (bus.ts): the
 * copies one instance carries to another in one event-loop turn and its
 * answers about the copies that instance carried to it, in one Redis
 * message. Frames travel as their bytes (no base64, no JSON): the JSON form
 * cost a string of ~350 bytes per carried frame that was built, copied into
 * the socket as UTF-8, decoded back into a string, parsed and base64-decoded
 * — and, held by the Redis client until PUBLISH's reply, often outlived the
 * young generation (issue 18, docs/PERFORMANCE.md round 10).
 *
 * Layout (integers big-endian). Every text — the sender's instance id, then
 * each device id and envelope id in the order below — is in one UTF-8 block,
 * decoded with one call and cut by lengths in UTF-16 code units (a decode per
 * id cost more than the JSON it replaces):
 *
 *     u8 0xC1 (version 1; a JSON message starts with "{")
 *     u32 block bytes, the block
 *     u16 from length
 *     u32 copies,   per copy:  u16 deviceId length, u16 envelopeId length, u32 frame length, frame bytes
 *     u32 acked,    per ref:   u16 deviceId length, u16 envelopeId length
 *     u32 released, per ref:   u16 deviceId length, u16 envelopeId length
 *
 * @module
 */
import type { HeldCopiesMessage, KeptCopyRef } from "./bus.ts";

/** First byte of a binary bus message (a byte that never occurs in UTF-8, so in no JSON text). */
export const BINARY_BUS_MESSAGE = 0xc1;

/** Entries accepted per list on receipt (senders cut at 1024 refs and 256 copies). */
const MAX_ENTRIES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Throws a RangeError for a text longer than a u16 length allows. */
function checked(text: string): string {
  if (text.length > 0xffff) throw new RangeError("bus text over 65,535 code units");
  return text;
}

/** `message` in the binary layout of the module doc. */
export function encodeHeldCopies(message: HeldCopiesMessage): Uint8Array {
  const { copies, acked, released } = message;
  let text = checked(message.from);
  let frames = 0;
  for (const c of copies) {
    text += checked(c.deviceId) + checked(c.envelopeId);
    frames += c.frame.length;
  }
  for (const r of acked) text += checked(r.deviceId) + checked(r.envelopeId);
  for (const r of released) text += checked(r.deviceId) + checked(r.envelopeId);
  const block = encoder.encode(text);
  const size = 1 + 4 + block.length + 2 + 12 + copies.length * 8 + frames +
    (acked.length + released.length) * 4;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = BINARY_BUS_MESSAGE;
  view.setUint32(1, block.length);
  bytes.set(block, 5);
  let at = 5 + block.length;
  view.setUint16(at, message.from.length);
  view.setUint32(at + 2, copies.length);
  at += 6;
  for (const c of copies) {
    view.setUint16(at, c.deviceId.length);
    view.setUint16(at + 2, c.envelopeId.length);
    view.setUint32(at + 4, c.frame.length);
    bytes.set(c.frame, at + 8);
    at += 8 + c.frame.length;
  }
  for (const list of [acked, released]) {
    view.setUint32(at, list.length);
    at += 4;
    for (const r of list) {
      view.setUint16(at, r.deviceId.length);
      view.setUint16(at + 2, r.envelopeId.length);
      at += 4;
    }
  }
  return bytes;
}

/** Reads the message's fixed parts; throws a RangeError past its end or on a bad count. */
class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #text: string;
  at: number;
  /** Position in the decoded text block. */
  #cut = 0;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = this.#view.getUint32(1);
    if (5 + length > bytes.length) throw new RangeError("truncated bus message");
    this.#text = decoder.decode(bytes.subarray(5, 5 + length));
    this.at = 5 + length;
  }
  #need(n: number): void {
    if (this.at + n > this.#bytes.length) throw new RangeError("truncated bus message");
  }
  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.at);
    this.at += 2;
    return value;
  }
  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.at);
    this.at += 4;
    return value;
  }
  count(): number {
    const n = this.u32();
    if (n > MAX_ENTRIES) throw new RangeError("too many bus entries");
    return n;
  }
  /** The next text of the block, `length` code units; throws for an empty one or past its end. */
  text(length: number): string {
    if (length === 0 || this.#cut + length > this.#text.length) {
      throw new RangeError("bad bus text");
    }
    const value = this.#text.slice(this.#cut, this.#cut + length);
    this.#cut += length;
    return value;
  }
  /** The next `length` bytes, viewed (not copied). */
  view(length: number): Uint8Array {
    this.#need(length);
    const value = this.#bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
  /** Every byte and every text read. */
  get done(): boolean {
    return this.at === this.#bytes.length && this.#cut === this.#text.length;
  }
}

function refs(r: Reader): KeptCopyRef[] {
  const list: KeptCopyRef[] = [];
  for (let i = r.count(); i > 0; i--) {
    const d = r.u16(), e = r.u16();
    list.push({ deviceId: r.text(d), envelopeId: r.text(e) });
  }
  return list;
}

/**
 * The `held-copies` message in `bytes` (frames are views into `bytes`);
 * null for anything malformed or empty.
 */
export function decodeHeldCopies(bytes: Uint8Array): HeldCopiesMessage | null {
  try {
    if (bytes.length < 5 || bytes[0] !== BINARY_BUS_MESSAGE) return null;
    const r = new Reader(bytes);
    const from = r.text(r.u16());
    const copies: HeldCopiesMessage["copies"] = [];
    for (let i = r.count(); i > 0; i--) {
      const d = r.u16(), e = r.u16(), length = r.u32();
      copies.push({ deviceId: r.text(d), envelopeId: r.text(e), frame: r.view(length) });
    }
    const acked = refs(r);
    const released = refs(r);
    if (!r.done || copies.length + acked.length + released.length === 0) return null;
    return { kind: "held-copies", from, copies, acked, released };
  } catch {
    return null;
  }
}
