/**
 * Issue 19 §2, established-session bounds against the real server process:
 * a client that provokes Errors and never reads, and frames started but never
 * finished (declared too long, or simply left incomplete). Each attack must end
 * in a close, and other clients must still be served. Bounded, loopback only.
 */
import assert from "node:assert/strict";
import { encodeFrame, encodeVarint, FrameType } from "../src/proto/mod.ts";
import { newDevice } from "./helpers/devices.ts";
import { spawnServer } from "./helpers/process.ts";
import { healthyPair, openRawSession, type RawSession } from "./helpers/raw.ts";

const encoder = new TextEncoder();

/** Reads what the server sends until it closes; returns the frames' Error codes. */
async function errorsUntilClosed(session: RawSession): Promise<string[]> {
  const codes: string[] = [];
  for (
    let frame = await session.next("the close");
    frame;
    frame = await session.next("the close")
  ) {
    if (frame.type === FrameType.Error) codes.push((frame.control as { error: string }).error);
  }
  return codes;
}

const msg = (sequence: number, text = "") => ({
  type: FrameType.Msg,
  channel: 9,
  sequence,
  payload: encoder.encode(text),
});

Deno.test("established: a client that packs bad frames into its units and never reads is closed", async () => {
  const server = await spawnServer({ env: { COMMUCAT_PARTIAL_FRAME_TIMEOUT_MS: "500" } });
  try {
    const pair = await healthyPair(server);
    const session = await openRawSession(server, newDevice("flood"));
    // Each unit: 2,000 frames whose sequence never increases; each would draw an Error.
    const frames = Array.from({ length: 2000 }, () => encodeFrame(msg(1)));
    const unit = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => (unit.set(f, at), at + f.length), 0);
    for (let i = 0; i < 20; i++) session.conn.write(session.sealUnit(unit));
    // Nothing was read while sending. Before the fix: 40,000 Errors queued, never closed.
    const codes = await errorsUntilClosed(session);
    assert.ok(codes.length <= 70, `${codes.length} Errors sent to a client that does not read`);
    assert.equal(codes.at(-1), "too_many_errors");
    await pair.exchange("after the flood");
    await pair.close();
  } finally {
    await server.stop();
  }
});

Deno.test("established: a frame declaring 16 MiB is refused at its first unit", async () => {
  const server = await spawnServer();
  try {
    const session = await openRawSession(server, newDevice("huge"));
    const start = new Uint8Array([...encodeVarint(16 * 1024 * 1024), FrameType.Msg, 9, 2]);
    session.conn.write(session.sealUnit(start));
    // Before the fix the server waited for the other 16 MiB.
    assert.deepEqual(await errorsUntilClosed(session), ["decode"]);
  } finally {
    await server.stop();
  }
});

Deno.test("established: a frame never completed is timed out (server.partial_frame_timeout_ms)", async () => {
  const server = await spawnServer({ env: { COMMUCAT_PARTIAL_FRAME_TIMEOUT_MS: "500" } });
  try {
    const pair = await healthyPair(server);
    const session = await openRawSession(server, newDevice("partial"));
    const frame = encodeFrame(msg(2, "x".repeat(4000)));
    session.conn.write(session.sealUnit(frame.subarray(0, 1000)));
    // Before the fix the partial frame was held until the client left.
    assert.deepEqual(await errorsUntilClosed(session), ["timeout"]);
    await pair.exchange("after the partial frame");
    await pair.close();
  } finally {
    await server.stop();
  }
});
