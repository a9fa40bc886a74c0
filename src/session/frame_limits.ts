/**
 * Frame size limits of an established session (PROTOCOL.md §2).
 *
 * @module
 */

/** Largest encoded frame one Noise message can carry (65535 − 16-byte tag). */
export const MAX_DELIVERABLE_FRAME = 65519;
/** Room the re-sequenced header may need beyond the payload. */
const HEADER_ALLOWANCE = 32;
/** Largest routable payload: it must fit one Noise message after re-sequencing. */
export const MAX_ROUTABLE_PAYLOAD = MAX_DELIVERABLE_FRAME - HEADER_ALLOWANCE;
/**
 * Largest frame (declared body length) accepted after the handshake. A longer
 * length prefix is refused at once, before its bytes arrive: no such frame
 * could ever be delivered in one Noise message.
 */
export const MAX_ESTABLISHED_FRAME = MAX_DELIVERABLE_FRAME;
