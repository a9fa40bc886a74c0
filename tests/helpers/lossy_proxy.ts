/**
 * An in-process TCP proxy on loopback that makes a path bad on purpose:
 * it drops or reorders whole WebSocket messages (after the HTTP upgrade,
 * so the stream stays valid: datagram-like loss on a path), delays chunks,
 * stalls, or cuts connections mid-stream. Bounded: a stalled direction
 * holds at most `maxHeldBytes`, then the connection is cut.
 */

/** What the proxy does to the connections through it. */
export interface ProxyFaults {
  /** Probability of dropping a WebSocket data message (each direction), after `spareMessages`. */
  dropRate?: number;
  /** Probability of swapping a WebSocket data message with the next one. */
  reorderRate?: number;
  /** Messages per direction let through untouched first (the attach exchange). */
  spareMessages?: number;
  /** Every chunk waits this long (ms). */
  delayMs?: number;
  /** The first connection is cut after this many bytes (both directions together). */
  cutFirstAfterBytes?: number;
  /** PRNG seed (deterministic faults). */
  seed?: number;
  /** Bytes a stalled direction may hold before the connection is cut. */
  maxHeldBytes?: number;
}

/** A running proxy. */
export interface LossyProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Connections cut so far. */
  readonly cuts: number;
  /** WebSocket messages dropped so far. */
  readonly dropped: number;
  /** Stops forwarding (both directions) until {@link resume}. */
  stall(): void;
  resume(): void;
  /** Cuts every open connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const HEAD_END = new TextEncoder().encode("\r\n\r\n");

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Splits a byte stream into the HTTP head, then whole WebSocket frames. */
class WsFramer {
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #inHead = true;
  push(chunk: Uint8Array): Array<{ bytes: Uint8Array; data: boolean }> {
    this.#buf = concat(this.#buf, chunk);
    const out: Array<{ bytes: Uint8Array; data: boolean }> = [];
    if (this.#inHead) {
      const end = indexOf(this.#buf, HEAD_END);
      if (end < 0) return out;
      out.push({ bytes: this.#buf.slice(0, end + 4), data: false });
      this.#buf = this.#buf.slice(end + 4);
      this.#inHead = false;
    }
    while (this.#buf.length >= 2) {
      const b = this.#buf;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = (b[2] << 8) | b[3];
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
        at = 10;
      }
      if (b[1] & 0x80) at += 4;
      if (b.length < at + len) break;
      const opcode = b[0] & 0x0f;
      out.push({ bytes: b.slice(0, at + len), data: opcode === 1 || opcode === 2 });
      this.#buf = b.slice(at + len);
    }
    return out;
  }
}

/** Starts a proxy to `127.0.0.1:targetPort` with `faults`. */
export function startLossyProxy(targetPort: number, faults: ProxyFaults = {}): LossyProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const random = prng(faults.seed ?? 7);
  const maxHeld = faults.maxHeldBytes ?? 4 * 1024 * 1024;
  const open = new Set<{ cut(): void }>();
  const waiters = new Set<() => void>();
  let stalled = false;
  let cuts = 0;
  let dropped = 0;
  let first = true;
  const tasks: Promise<void>[] = [];

  const accept = async () => {
    for await (const client of listener) {
      let server: Deno.TcpConn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        client.close();
        continue;
      }
      const cutAfter = first ? faults.cutFirstAfterBytes : undefined;
      first = false;
      let moved = 0;
      let closed = false;
      const conn = {
        cut() {
          if (closed) return;
          closed = true;
          cuts++;
          try {
            client.close();
          } catch { /* closed */ }
          try {
            server.close();
          } catch { /* closed */ }
        },
      };
      open.add(conn);
      const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
        const framer = faults.dropRate || faults.reorderRate ? new WsFramer() : null;
        let seen = 0;
        let heldBack: Uint8Array | null = null;
        const buf = new Uint8Array(64 * 1024);
        try {
          while (!closed) {
            const n = await from.read(buf);
            if (n === null) break;
            let chunk: Uint8Array = buf.slice(0, n);
            while (stalled && !closed) {
              await new Promise<void>((resolve) => waiters.add(resolve));
            }
            if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
            moved += n;
            if (cutAfter !== undefined && moved > cutAfter) {
              conn.cut();
              break;
            }
            if (framer) {
              const parts: Uint8Array[] = [];
              for (const frame of framer.push(chunk)) {
                if (!frame.data || seen++ < (faults.spareMessages ?? 2)) {
                  parts.push(frame.bytes);
                  continue;
                }
                if (faults.dropRate && random() < faults.dropRate) {
                  dropped++;
                  continue;
                }
                if (heldBack) {
                  parts.push(frame.bytes, heldBack);
                  heldBack = null;
                } else if (faults.reorderRate && random() < faults.reorderRate) {
                  heldBack = frame.bytes;
                } else parts.push(frame.bytes);
              }
              chunk = parts.reduce((a, b) => concat(a, b), new Uint8Array(0));
              if (chunk.length > maxHeld) throw new Error("held too much");
            }
            let off = 0;
            while (off < chunk.length) off += await to.write(chunk.subarray(off));
          }
        } catch { /* either side went away */ }
        conn.cut();
      };
      tasks.push(
        Promise.all([pipe(client, server), pipe(server, client)]).then(() => {
          open.delete(conn);
        }),
      );
    }
  };
  const accepting = accept().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    get dropped() {
      return dropped;
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const w of waiters) w();
      waiters.clear();
    },
    cutAll() {
      for (const c of open) c.cut();
    },
    async close() {
      listener.close();
      this.resume();
      this.cutAll();
      await accepting;
      await Promise.all(tasks);
    },
  };
}
