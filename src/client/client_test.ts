import assert from "node:assert/strict";
import { pairDevice } from "../../tests/helpers/pairing.ts";
import { connectOptions, newDevice } from "../../tests/helpers/devices.ts";
import { startTestServer } from "../../tests/helpers/inprocess.ts";
import { within } from "../../tests/helpers/raw.ts";
import { fromUtf8 } from "../crypto/mod.ts";
import { FrameType } from "../proto/mod.ts";
import { CommuCatClient } from "./mod.ts";

Deno.test("client: a connection that does not acknowledge deliveries leaves them queued for the next one", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("alice");
    const first = await CommuCatClient.connect(connectOptions(srv, device));
    // A second device of the same user (reachable without friendship), offline for now.
    const { device: second } = await pairDevice(srv, first);
    await first.join(7, [second.deviceId]);
    const ack = await first.send(7, "queued while offline");
    assert.equal(typeof ack.sequence, "number", "send resolves with the message's own sequence");

    const isMessage = (f: { type: number; payload: Uint8Array } | null) =>
      f !== null && f.type === FrameType.Msg && fromUtf8(f.payload) === "queued while offline";

    // A one-shot connection sees the message but does not acknowledge it...
    const oneShot = await CommuCatClient.connect({
      ...connectOptions(srv, second),
      acknowledgeDeliveries: false,
    });
    assert.ok(isMessage(await within(oneShot.next(), "the queued message")));
    await oneShot.closeGracefully();
    // ...so the device's next connection gets it again.
    const next = await CommuCatClient.connect(connectOptions(srv, second));
    assert.ok(
      isMessage(await within(next.next(), "the message on the next connection")),
      "delivered again to the next connection",
    );
    await next.closeGracefully();
    first.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("client: replies need no delivery ack; a delivered frame gets one", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("alice");
    let firstOut = 0;
    const first = await CommuCatClient.connect(
      connectOptions(srv, device, { onUnit: (direction) => direction === "out" && firstOut++ }),
    );
    const { device: second } = await pairDevice(srv, first);
    await first.join(7, [second.deviceId]);
    await first.send(7, "for the second device");
    // `first` heard only replies (handshake, Acks): the server tracks none of them, so no
    // delivery ack is due — not after the 20 ms ack delay either.
    const afterSend = firstOut;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(firstOut, afterSend, "no transport message after the replies");

    // A delivered frame is acknowledged on its own (nothing else is sent)...
    let acked!: () => void;
    const ackSent = new Promise<void>((resolve) => (acked = resolve));
    const receiver = await CommuCatClient.connect(
      connectOptions(srv, second, { onUnit: (direction) => direction === "out" && acked() }),
    );
    const got = await within(receiver.next(), "the queued message");
    assert.equal(fromUtf8(got!.payload), "for the second device");
    await within(ackSent, "the delivery ack");
    receiver.close();
    // ...so the device's next connection does not get it again.
    const next = await CommuCatClient.connect(connectOptions(srv, second));
    await first.send(7, "the next one");
    const after = await within(next.next(), "the next message");
    assert.equal(
      fromUtf8(after!.payload),
      "the next one",
      "the acknowledged frame is not redelivered",
    );
    await next.closeGracefully();
    first.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("client: a delivery handler gets the queued frames, then each as it is read; its throw keeps the connection", async () => {
  const srv = await startTestServer();
  const uncaught: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    uncaught.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const device = newDevice("alice");
    const first = await CommuCatClient.connect(connectOptions(srv, device));
    const { device: second } = await pairDevice(srv, first);
    await first.join(7, [second.deviceId]);
    // WebSocket mode: the channel pushes its chunks (listen), no iterator.
    const receiver = await CommuCatClient.connect(
      connectOptions(srv, second, { mode: "websocket" }),
    );
    // Acked once the receiver acknowledged it: it waits in the receiver's queue by then.
    await first.send(7, "queued");
    const got: string[] = [];
    let heard!: () => void;
    let later = new Promise<void>((resolve) => (heard = resolve));
    receiver.setDeliveryHandler((frame) => {
      const text = fromUtf8(frame.payload);
      got.push(text);
      heard();
      if (text === "throws") throw new Error("the application's bug");
    });
    assert.deepEqual(got, ["queued"], "the queued frame, at once");
    await first.send(7, "pushed");
    await within(later, "the next delivery");
    assert.deepEqual(got, ["queued", "pushed"]);
    later = new Promise<void>((resolve) => (heard = resolve));
    await first.send(7, "throws");
    await within(later, "the throwing delivery");
    later = new Promise<void>((resolve) => (heard = resolve));
    await first.send(7, "still open");
    await within(later, "a delivery after the throw");
    assert.deepEqual(got, ["queued", "pushed", "throws", "still open"]);
    assert.equal(receiver.closed, false);
    assert.equal((uncaught[0] as Error).message, "the application's bug");
    receiver.close();
    await within(receiver.finished, "the end of the connection");
    first.close();
  } finally {
    globalThis.removeEventListener("error", onError);
    await srv.stop();
  }
});
