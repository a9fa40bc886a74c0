import assert from "node:assert/strict";
import { type Frame, FrameType } from "../proto/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { OfflineQueue } from "../router/mod.ts";
import { Delivery } from "./delivery.ts";

function msg(sequence: number, type: FrameType = FrameType.Msg): Frame {
  return { type, channel: 1, sequence, payload: new Uint8Array([sequence]) };
}

/** A Delivery over a fake offline queue that records what it is told. */
function tracked(outboundQueueFrames = 4) {
  const calls = { settled: [] as string[][], released: [] as string[][], requeued: [] as number[] };
  const offlineQueue = {
    settle: (_device: string, ids: string[]) => {
      calls.settled.push(ids);
      return null;
    },
    releaseKept: (ids: string[]) => calls.released.push(ids),
    requeue: (_device: string, frame: Frame) => {
      calls.requeued.push(frame.sequence);
      return Promise.resolve();
    },
  } as unknown as OfflineQueue;
  const delivery = new Delivery(
    {
      connectionId: "c1",
      deviceId: "bob",
      established: true,
      deliver: () => true,
      checkOfflineQueue: () => {},
    },
    { router: { offlineQueue }, log: silentLogger, outboundQueueFrames },
  );
  return { delivery, calls };
}

Deno.test("delivery: a cumulative Ack settles the frames up to it, removing their kept copies' rows", () => {
  const { delivery, calls } = tracked();
  delivery.track(1, msg(1), "e1");
  delivery.track(2, msg(2, FrameType.Typing), undefined);
  delivery.track(3, msg(3), "e3");
  delivery.settle(0);
  assert.deepEqual(calls.settled, [], "nothing up to 0");
  delivery.settle(2);
  assert.deepEqual(calls.settled, [["e1"]], "the frame without a copy has no row");
  delivery.settle(2);
  assert.deepEqual(calls.settled, [["e1"]], "settled once");
  delivery.settle(5);
  assert.deepEqual(calls.settled, [["e1"], ["e3"]]);
});

Deno.test("delivery: the outbound bound counts frames with and without copies", () => {
  const { delivery } = tracked(4);
  delivery.track(1, msg(1), "e1");
  assert.equal(delivery.underHalfFull, true);
  delivery.track(2, msg(2, FrameType.Typing), undefined);
  assert.equal(delivery.underHalfFull, false);
  delivery.track(3, msg(3), "e3");
  delivery.track(4, msg(4), "e4");
  assert.equal(delivery.full, true);
  delivery.settle(1);
  assert.equal(delivery.full, false);
});

Deno.test("delivery: on close, kept copies are released and only frames without one are requeued, in order", async () => {
  const { delivery, calls } = tracked(10);
  delivery.track(1, msg(1), "e1");
  delivery.track(2, msg(2), undefined);
  delivery.track(3, msg(3), "e3");
  delivery.track(4, msg(4), undefined);
  delivery.settle(1);
  await Promise.all(delivery.requeueUnacked());
  assert.deepEqual(calls.released, [["e3"]]);
  assert.deepEqual(calls.requeued, [2, 4]);
  assert.equal(delivery.underHalfFull, true, "nothing tracked after");
  assert.deepEqual(delivery.requeueUnacked(), []);
});

Deno.test("delivery: frames tracked after everything was acknowledged are tracked again (the window empties and refills)", async () => {
  const { delivery, calls } = tracked(4);
  assert.equal(delivery.full, false);
  delivery.settle(9); // nothing tracked yet: nothing to settle
  assert.deepEqual(calls.settled, []);
  delivery.track(1, msg(1), "e1");
  delivery.track(2, msg(2), "e2");
  delivery.settle(2); // all acknowledged: the window is empty again
  assert.deepEqual(calls.settled, [["e1", "e2"]]);
  assert.equal(delivery.underHalfFull, true);
  for (let sequence = 3; sequence <= 6; sequence++) {
    delivery.track(sequence, msg(sequence), `e${sequence}`);
  }
  assert.equal(delivery.full, true, "the refilled window counts its frames");
  delivery.settle(4); // part of it
  assert.deepEqual(calls.settled, [["e1", "e2"], ["e3", "e4"]]);
  assert.equal(delivery.full, false);
  delivery.track(7, msg(7, FrameType.Typing), undefined);
  await Promise.all(delivery.requeueUnacked());
  assert.deepEqual(calls.released, [["e5", "e6"]]);
  assert.deepEqual(calls.requeued, [7]);
  // After the close's requeue nothing is held: a later track starts a new window.
  delivery.track(8, msg(8), "e8");
  delivery.settle(8);
  assert.deepEqual(calls.settled.at(-1), ["e8"]);
});

Deno.test("delivery: a full settle of frames that all have copies removes their rows in order, and later tracking leaves that list alone", () => {
  const { delivery, calls } = tracked(10);
  delivery.track(1, msg(1), "e1");
  delivery.track(2, msg(2), "e2");
  delivery.track(3, msg(3), "e3");
  delivery.settle(3);
  assert.deepEqual(calls.settled, [["e1", "e2", "e3"]]);
  delivery.track(4, msg(4), "e4");
  delivery.track(5, msg(5), undefined);
  assert.deepEqual(calls.settled, [["e1", "e2", "e3"]], "the settled list is not reused");
  delivery.settle(5);
  assert.deepEqual(calls.settled, [["e1", "e2", "e3"], ["e4"]]);
});
