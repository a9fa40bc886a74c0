/**
 * The SDK's reconnecting client survives a server restart: it comes back by
 * itself (with backoff) and receives what was queued while it was away.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ReconnectingClient, ServerError } from "../src/client/mod.ts";
import { connectWithBackoff } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { startLossyProxy } from "./helpers/lossy_proxy.ts";
import { within } from "./helpers/raw.ts";
import { freePort } from "./helpers/services.ts";

Deno.test("reconnecting client: server restarts, the device reconnects and gets its queue", async () => {
  const port = freePort();
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-reconnect-" });
  let srv = await startTestServer({ port, dataDir });
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const resilient = new ReconnectingClient(connectOptions(srv, bob), { initialMs: 50, maxMs: 500 });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, alice));
    await befriend(srv, a, await resilient.client());
    await a.join(8, [bob.deviceId]);
    await a.send(8, "first");
    assert.equal(fromUtf8((await resilient.next())!.payload), "first");
    a.close();

    await srv.stop();
    srv = await startTestServer({ port, dataDir });
    const a2 = await CommuCatClient.connect(connectOptions(srv, alice));
    await a2.send(8, "after restart");
    // At-least-once: "first" comes again if its delivery ack did not reach
    // the server before the restart cut the connection.
    let text: string;
    do text = fromUtf8((await resilient.next())!.payload); while (text === "first");
    assert.equal(text, "after restart");
    assert.ok(resilient.reconnects >= 1);
    a2.close();
  } finally {
    resilient.stop();
    await srv.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("connectWithBackoff does not retry a refusal by the server", async () => {
  const srv = await startTestServer();
  try {
    const wrongKey = crypto.getRandomValues(new Uint8Array(32));
    let attempts = 0;
    const options = { ...connectOptions(srv, newDevice()), serverStatic: wrongKey };
    const started = connectWithBackoff(options, { initialMs: 10, maxAttempts: 5 }).finally(() =>
      attempts++
    );
    await assert.rejects(started, (e: unknown) => e instanceof ServerError);
    assert.equal(attempts, 1);
  } finally {
    await srv.stop();
  }
});

Deno.test("a send cut mid-flight rejects, is not resent by itself; the caller's resend goes once", async () => {
  const srv = await startTestServer({ h2c: { hostname: "127.0.0.1", port: 0 } });
  const proxy = startLossyProxy(srv.server.h2cAddr!.port);
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const resilient = new ReconnectingClient(
    connectOptions(srv, alice, { url: proxy.url, mode: "websocket" }),
    { initialMs: 20, maxMs: 200 },
  );
  const b = await CommuCatClient.connect(connectOptions(srv, bob));
  try {
    await befriend(srv, await resilient.client(), b);
    await (await resilient.client()).join(8, [bob.deviceId]);
    // The proxy holds everything from now on, then cuts: the frame never reaches the server.
    proxy.stall();
    const cut = resilient.send(8, "cut");
    proxy.cutAll();
    await assert.rejects(within(cut, "the cut send to settle"), /connection closed/);
    proxy.resume();
    // The application resends; the next send after it shows nothing came twice in between.
    await within(resilient.send(8, "cut"), "the resend's Ack");
    await within(resilient.send(8, "after"), "the next Ack");
    const texts: string[] = [];
    while (texts.length < 2) {
      const frame = await within(b.next(), "bob's messages");
      assert.ok(frame, "bob's connection closed");
      if (frame.type === FrameType.Msg) texts.push(fromUtf8(frame.payload));
    }
    assert.deepEqual(texts, ["cut", "after"]);
    assert.equal(resilient.reconnects, 1);
  } finally {
    resilient.stop();
    b.close();
    await proxy.close();
    await srv.stop();
  }
});
