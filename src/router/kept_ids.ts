/**
 * The envelope ids of copies kept in the durable-copy window: this
 * instance's random prefix and a counter in base 36, unique across
 * instances and restarts (a copy whose window ends becomes an offline-queue
 * row under this id, and copies carried to other instances travel with it).
 *
 * @module
 */

/** Makes kept-copy ids and reads their counter back. */
export class KeptIds {
  /** `kept-<uuid>-`: every id this instance makes starts with it. */
  readonly prefix = `kept-${crypto.randomUUID()}-`;
  #count = 0;

  /** A new id. */
  next(): string {
    return this.idOf(this.nextCounter());
  }

  /**
   * A new id's counter (a positive integer, never repeated): held instead of
   * the id while a copy waits for its Ack; {@link idOf} makes the id.
   */
  nextCounter(): number {
    return ++this.#count;
  }

  /** The id of a counter {@link nextCounter} gave ({@link keyOf} reads it back). */
  idOf(counter: number): string {
    return this.prefix + counter.toString(36);
  }

  /**
   * The counter of an id {@link next} made, else the id itself. A number is
   * a cheap Map key: the id is a 40+ character concatenation that a string
   * key makes the Map flatten and hash, once per delivered 1:1 message.
   * Exact: a number only for the form `next` writes (no leading zero, only
   * [0-9a-z]), so two different ids never share a key.
   */
  keyOf(id: string): number | string {
    const prefix = this.prefix;
    const length = id.length;
    // An equality, not startsWith: on ids received on the bus (slices of a
    // decoded text block) startsWith took 3-5x as long.
    if (
      length <= prefix.length || length > prefix.length + 10 ||
      id.slice(0, prefix.length) !== prefix
    ) {
      return id;
    }
    let value = 0;
    for (let i = prefix.length; i < length; i++) {
      const c = id.charCodeAt(i);
      let digit: number;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (c >= 0x61 && c <= 0x7a) digit = c - 0x57;
      else return id;
      if (digit === 0 && i === prefix.length) return id; // a leading zero: not `next`'s
      value = value * 36 + digit;
    }
    return value;
  }
}
