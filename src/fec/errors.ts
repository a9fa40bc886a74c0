/**
 * The typed errors of the FEC engine: every refusal names what was wrong so
 * a session can log it and drop the packet (or the path) without guessing.
 *
 * @module
 */

/** Base class: anything the FEC engine refuses. */
export class FecError extends Error {
  /** A stable machine-readable code (`malformed`, `too_large`, …). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "FecError";
    this.code = code;
  }
}

/** The packet is not a well-formed FEC packet (length, version, OTI, SBN). */
export class FecMalformedPacketError extends FecError {
  constructor(message: string) {
    super("malformed", `malformed FEC packet: ${message}`);
    this.name = "FecMalformedPacketError";
  }
}

/** The object declares (or is) longer than the configured limit: a memory bomb is refused here. */
export class FecObjectTooLargeError extends FecError {
  constructor(length: number, limit: number) {
    super("too_large", `FEC object of ${length} bytes exceeds the limit of ${limit} bytes`);
    this.name = "FecObjectTooLargeError";
  }
}

/** Accepting the packet would exceed the decoder's buffered-bytes budget even after evictions. */
export class FecBufferFullError extends FecError {
  constructor(needed: number, limit: number) {
    super("buffer_full", `FEC decoder budget of ${limit} bytes cannot hold ${needed} more bytes`);
    this.name = "FecBufferFullError";
  }
}

/** The object did not decode even with many more symbols than it needs (corrupt symbols). */
export class FecUndecodableError extends FecError {
  constructor(objectId: number, symbols: number) {
    super("undecodable", `FEC object ${objectId} did not decode from ${symbols} symbols`);
    this.name = "FecUndecodableError";
  }
}

/** Encoder options out of range (symbol size, overhead, empty object). */
export class FecOptionsError extends FecError {
  constructor(message: string) {
    super("options", `FEC options: ${message}`);
    this.name = "FecOptionsError";
  }
}
