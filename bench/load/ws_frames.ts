/**
 * RFC 6455 framing for a WebSocket client: frames it sends (always masked,
 * section 5.3) and an incremental reader of the frames a server sends
 * (never masked; messages may be fragmented, with control frames between
 * the fragments, section 5.4). Pure byte work, no I/O: ws_client.ts owns
 * the socket.
 *
 * @module
 */

/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close codes this client uses (RFC 6455 section 7.4.1). */
export const CloseCode = { Normal: 1000, ProtocolError: 1002, TooBig: 1009 } as const;

/** The largest control frame payload (section 5.5). */
const MAX_CONTROL_PAYLOAD = 125;

/** Random masking keys, drawn 4 KiB at a time: one `getRandomValues` per 1024 frames. */
export class MaskSource {
  #pool = new Uint8Array(4096);
  #at = this.#pool.length;

  /** Writes the next 4-byte masking key into `into` at `offset`. */
  next(into: Uint8Array, offset: number): void {
    if (this.#at === this.#pool.length) {
      crypto.getRandomValues(this.#pool);
      this.#at = 0;
    }
    into.set(this.#pool.subarray(this.#at, this.#at + 4), offset);
    this.#at += 4;
  }
}

/**
 * One client frame: FIN set (this client never fragments), the payload
 * masked with a fresh key from `masks` (a server must fail an unmasked
 * client frame, section 5.1).
 */
export function encodeClientFrame(
  opcode: number,
  payload: Uint8Array,
  masks: MaskSource,
): Uint8Array {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const header = 2 + lengthBytes + 4;
  const frame = new Uint8Array(header + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  masks.next(frame, header - 4);
  const k0 = frame[header - 4], k1 = frame[header - 3], k2 = frame[header - 2];
  const k3 = frame[header - 1];
  let i = 0;
  // Four bytes a turn: the key repeats every four payload bytes.
  for (; i + 4 <= length; i += 4) {
    frame[header + i] = payload[i] ^ k0;
    frame[header + i + 1] = payload[i + 1] ^ k1;
    frame[header + i + 2] = payload[i + 2] ^ k2;
    frame[header + i + 3] = payload[i + 3] ^ k3;
  }
  const key = [k0, k1, k2, k3];
  for (; i < length; i++) frame[header + i] = payload[i] ^ key[i & 3];
  return frame;
}

/** A close frame's payload: the code, then the UTF-8 reason (at most 123 bytes). */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason).subarray(0, MAX_CONTROL_PAYLOAD - 2);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** What the server sent, one complete item at a time. */
export type ServerEvent =
  | { kind: "message"; text: boolean; data: Uint8Array }
  | { kind: "ping"; data: Uint8Array }
  | { kind: "pong"; data: Uint8Array }
  | { kind: "close"; code: number; reason: string };

/** The server broke RFC 6455; `code` is the close code to answer with. */
export class WebSocketProtocolError extends Error {
  override name = "WebSocketProtocolError";
  constructor(message: string, readonly code: number = CloseCode.ProtocolError) {
    super(message);
  }
}

/**
 * Parses server frames from stream chunks in any split. Fragments of a
 * message are joined; control frames are reported as they come, even
 * between fragments. Throws {@link WebSocketProtocolError} on a frame a
 * client must fail the connection for.
 */
export class FrameReader {
  #buffer = new Uint8Array(0);
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentText = false;
  #inMessage = false;

  constructor(readonly maxMessageBytes = 64 * 1024 * 1024) {}

  /** Feeds `chunk` (copied where kept) and returns every event it completes. */
  push(chunk: Uint8Array): ServerEvent[] {
    const events: ServerEvent[] = [];
    let data: Uint8Array;
    if (this.#buffer.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer);
      data.set(chunk, this.#buffer.length);
    }
    let at = 0;
    while (true) {
      const used = this.#frame(data, at, events);
      if (used === 0) break;
      at += used;
    }
    // Keep the unparsed tail as our own copy: `chunk` is the caller's read buffer.
    this.#buffer = at === data.length ? new Uint8Array(0) : data.slice(at);
    return events;
  }

  /** Parses one frame at `at`; returns its length, or 0 when it is not all here yet. */
  #frame(data: Uint8Array, at: number, events: ServerEvent[]): number {
    if (data.length - at < 2) return 0;
    const b0 = data[at], b1 = data[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) throw new WebSocketProtocolError("RSV bits set without an extension");
    if ((b1 & 0x80) !== 0) throw new WebSocketProtocolError("the server masked a frame");
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - at < 4) return 0;
      length = (data[at + 2] << 8) | data[at + 3];
      header = 4;
    } else if (length === 127) {
      if (data.length - at < 10) return 0;
      const big = new DataView(data.buffer, data.byteOffset + at + 2, 8).getBigUint64(0);
      if (big > BigInt(this.maxMessageBytes)) {
        throw new WebSocketProtocolError("frame larger than allowed", CloseCode.TooBig);
      }
      length = Number(big);
      header = 10;
    }
    if (length > this.maxMessageBytes) {
      throw new WebSocketProtocolError("frame larger than allowed", CloseCode.TooBig);
    }
    if (data.length - at < header + length) return 0;
    const payload = data.subarray(at + header, at + header + length);
    if (opcode >= 0x8) this.#control(opcode, fin, payload, events);
    else this.#dataFrame(opcode, fin, payload, events);
    return header + length;
  }

  #control(opcode: number, fin: boolean, payload: Uint8Array, events: ServerEvent[]): void {
    if (!fin) throw new WebSocketProtocolError("fragmented control frame");
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new WebSocketProtocolError("control frame payload over 125 bytes");
    }
    if (opcode === Opcode.Ping) events.push({ kind: "ping", data: payload.slice() });
    else if (opcode === Opcode.Pong) events.push({ kind: "pong", data: payload.slice() });
    else if (opcode === Opcode.Close) {
      if (payload.length === 1) throw new WebSocketProtocolError("close payload of one byte");
      // 1005: no status code was present (section 7.1.5).
      const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
      const reason = new TextDecoder().decode(payload.subarray(2));
      events.push({ kind: "close", code, reason });
    } else throw new WebSocketProtocolError(`reserved control opcode ${opcode}`);
  }

  #dataFrame(opcode: number, fin: boolean, payload: Uint8Array, events: ServerEvent[]): void {
    if (opcode === Opcode.Continuation) {
      if (!this.#inMessage) throw new WebSocketProtocolError("continuation without a message");
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.#inMessage) throw new WebSocketProtocolError("new message inside a fragmented one");
      this.#fragmentText = opcode === Opcode.Text;
      if (fin) {
        events.push({ kind: "message", text: this.#fragmentText, data: payload.slice() });
        return;
      }
      this.#inMessage = true;
    } else throw new WebSocketProtocolError(`reserved data opcode ${opcode}`);
    this.#fragmentBytes += payload.length;
    if (this.#fragmentBytes > this.maxMessageBytes) {
      throw new WebSocketProtocolError("message larger than allowed", CloseCode.TooBig);
    }
    this.#fragments.push(payload.slice());
    if (!fin) return;
    const data = new Uint8Array(this.#fragmentBytes);
    let offset = 0;
    for (const part of this.#fragments) {
      data.set(part, offset);
      offset += part.length;
    }
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#inMessage = false;
    events.push({ kind: "message", text: this.#fragmentText, data });
  }
}
