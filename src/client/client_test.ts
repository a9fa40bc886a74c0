import assert from "node:assert/strict";
import { api } from "../../tests/helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "../../tests/helpers/devices.ts";
import { startTestServer } from "../../tests/helpers/inprocess.ts";
import { within } from "../../tests/helpers/raw.ts";
import { fromHex, fromUtf8, publicFromSeed } from "../crypto/mod.ts";
import { FrameType } from "../proto/mod.ts";
import { CommuCatClient } from "./mod.ts";

Deno.test("client: a connection that does not acknowledge deliveries leaves them queued for the next one", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("alice");
    const first = await CommuCatClient.connect(connectOptions(srv, device));
    // A second device of the same user (reachable without friendship), offline for now.
    const code = (await api(srv, "POST", "/api/pair", { as: first })).body!.pair_code;
    const claim = (await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } })).body!;
    const key = fromHex(String(claim.private_key), 32);
    const second: TestDevice = {
      deviceId: String(claim.device_id),
      privateKey: key,
      publicKey: publicFromSeed(key),
      handle: device.handle,
    };
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
    const code = (await api(srv, "POST", "/api/pair", { as: first })).body!.pair_code;
    const claim = (await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } })).body!;
    const key = fromHex(String(claim.private_key), 32);
    const second: TestDevice = {
      deviceId: String(claim.device_id),
      privateKey: key,
      publicKey: publicFromSeed(key),
      handle: device.handle,
    };
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
