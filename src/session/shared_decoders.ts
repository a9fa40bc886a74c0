/**
 * The unit and frame decoders of established sessions with nothing
 * half-received, shared by all of them: an empty decoder holds no state and
 * a push runs to completion synchronously, so one instance serves every
 * such session. A session left holding part of a unit or frame takes the
 * shared decoder over (a fresh one is shared from then on) and gives it up
 * once it is empty again; a decoder that failed is never shared again. An
 * idle session held two decoders of its own (~0.14 KiB).
 *
 * @module
 */
import { FrameDecoder, UnitDecoder } from "../proto/mod.ts";
import { MAX_ESTABLISHED_FRAME } from "./frame_limits.ts";

/** A frame decoder as established sessions use it (payloads are views of the unit). */
function newFrameDecoder(): FrameDecoder {
  return new FrameDecoder({ maxFrameLength: MAX_ESTABLISHED_FRAME, viewPayloads: true });
}

let sharedUnits = new UnitDecoder();
let sharedFrames = newFrameDecoder();

/** The unit decoder to push to: the session's own (`own`), or the shared one. */
export function unitDecoder(own: UnitDecoder | null): UnitDecoder {
  return own ?? sharedUnits;
}

/** The frame decoder to push to: the session's own (`own`), or the shared one. */
export function frameDecoder(own: FrameDecoder | null): FrameDecoder {
  return own ?? sharedFrames;
}

/**
 * After a push to `used` (`ok`: it did not throw): what the session keeps as
 * its own unit decoder — null when nothing is buffered (or it failed).
 */
export function keptUnitDecoder(used: UnitDecoder, ok: boolean): UnitDecoder | null {
  const kept = ok && used.buffered > 0 ? used : null;
  if (used === sharedUnits && (kept !== null || !ok)) sharedUnits = new UnitDecoder();
  return kept;
}

/** Like {@link keptUnitDecoder}, for the frame decoder. */
export function keptFrameDecoder(used: FrameDecoder, ok: boolean): FrameDecoder | null {
  const kept = ok && used.buffered > 0 ? used : null;
  if (used === sharedFrames && (kept !== null || !ok)) sharedFrames = newFrameDecoder();
  return kept;
}
