/**
 * Test helpers: waiting for a frame of one type on an SDK connection, and
 * receiving a number of messages.
 */
import assert from "node:assert/strict";
import type { CommuCatClient } from "../../src/client/mod.ts";
import { fromUtf8 } from "../../src/crypto/mod.ts";
import { FrameType } from "../../src/proto/mod.ts";

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

/** Reads `n` Msg frames from `client` (others are skipped); their texts in arrival order. */
export async function receiveTexts(client: CommuCatClient, n: number): Promise<string[]> {
  const texts: string[] = [];
  while (texts.length < n) {
    const frame = await client.next();
    if (!frame) throw new Error(`connection closed after ${texts.length} of ${n}`);
    if (frame.type === FrameType.Msg) texts.push(fromUtf8(frame.payload));
  }
  return texts;
}
