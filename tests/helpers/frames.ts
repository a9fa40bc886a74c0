/**
 * Test helper: waiting for a frame of one type on an SDK connection.
 */
import assert from "node:assert/strict";
import type { CommuCatClient } from "../../src/client/mod.ts";
import type { FrameType } from "../../src/proto/mod.ts";

/**
 * The next frame of `client` that is of `type` (others are skipped). A
 * safety cap (not a speed check) closes the client after 30 s, so a hang
 * fails instead.
 */
export async function nextOfType(client: CommuCatClient, type: FrameType) {
  const deadline = setTimeout(() => client.close(), 30_000);
  try {
    while (true) {
      const frame = await client.next();
      assert.ok(frame, `connection closed waiting for frame type ${type}`);
      if (frame.type === type) return frame;
    }
  } finally {
    clearTimeout(deadline);
  }
}
