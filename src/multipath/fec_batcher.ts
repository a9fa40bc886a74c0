/**
 * The sending side of RaptorQ scheduling: the units sent in one event-loop
 * turn become one FEC object (a batch), encoded and handed back as packets.
 * A batch too small to be worth the codec's fixed cost goes out as copies
 * instead; while an object is being encoded, a large batch waits for the
 * next one, so objects grow under load rather than queueing behind the
 * codec.
 *
 * @module
 */
import type { FecCodec } from "./fec.ts";
import type { Outstanding } from "./retransmit.ts";
import { encodeBatch } from "./wire.ts";

/** Largest FEC object (bytes of batched units) and most units in one. */
export const MAX_BATCH_BYTES = 64 * 1024;
export const MAX_BATCH_UNITS = 1024;

/** Where a batch goes. */
export interface BatchOutput {
  /** A batch under the smallest FEC object: plain copies. */
  copies(units: Outstanding[]): void;
  /** An encoded object's packets (and the units they carry). */
  packets(packets: Uint8Array[], units: Outstanding[]): void;
  /** Encoding failed (the Worker died): plain copies instead, nothing is lost. */
  failed(units: Outstanding[]): void;
}

/** Batches units into FEC objects. */
export class FecBatcher {
  readonly #codec: FecCodec;
  /** Overrides the schedule's smallest batch (tests), or null. */
  readonly #fixedMinBytes: number | null;
  #minBytes = 0;
  readonly #out: BatchOutput;
  #batch: Outstanding[] = [];
  #bytes = 0;
  #overhead = 0;
  #queued = false;
  #encoding = 0;
  #objectId = 0;
  #closed = false;

  constructor(codec: FecCodec, minBytes: number | null, out: BatchOutput) {
    this.#codec = codec;
    this.#fixedMinBytes = minBytes;
    this.#out = out;
  }

  /**
   * Adds a unit to this turn's batch, to be encoded with `overhead` if the
   * batch reaches `minBytes` (else copies).
   */
  add(unit: Outstanding, overhead: number, minBytes: number): void {
    this.#batch.push(unit);
    this.#bytes += unit.ciphertext.length + 3;
    this.#overhead = overhead;
    this.#minBytes = this.#fixedMinBytes ?? minBytes;
    if (this.#bytes >= MAX_BATCH_BYTES || this.#batch.length >= MAX_BATCH_UNITS) {
      this.flush();
    } else if (!this.#queued) {
      this.#queued = true;
      // Everything sent in this turn goes into one object (fixed cost per object).
      queueMicrotask(() => {
        this.#queued = false;
        if (this.#encoding === 0 || this.#bytes < this.#minBytes) this.flush();
      });
    }
  }

  /** Sends what is batched now (the schedule changed, or the session ends). */
  flush(): void {
    const batch = this.#batch;
    if (batch.length === 0 || this.#closed) return;
    this.#batch = [];
    const bytes = this.#bytes;
    this.#bytes = 0;
    if (bytes < this.#minBytes) {
      this.#out.copies(batch);
      return;
    }
    const object = encodeBatch(batch[0].seq, batch.map((u) => u.ciphertext));
    const objectId = this.#objectId = (this.#objectId + 1) >>> 0;
    this.#encoding++;
    this.#codec.encode(objectId, object, this.#overhead).then(
      (packets) => {
        if (!this.#closed) this.#out.packets(packets, batch);
      },
      () => {
        if (!this.#closed) this.#out.failed(batch);
      },
    ).finally(() => {
      this.#encoding--;
      if (this.#encoding === 0) this.flush();
    });
  }

  /** Drops what is batched (the session ended). */
  close(): void {
    this.#closed = true;
    this.#batch = [];
  }
}
