/**
 * `ClientOptions.webSocketChannel`: a `websocket`-mode session runs over the
 * channel the opener gives (here the load tool's TCP_NODELAY client) instead
 * of the platform's `WebSocket`, handshake and messages both ways; other
 * modes never call it.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import type { WebSocketChannelOpener } from "../src/client/channel.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { noDelayChannelOpener } from "../bench/load/ws_channel.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

Deno.test("websocket sessions run over the given opener's channel; other modes do not use it", async () => {
  const srv = await startTestServer();
  const urls: string[] = [];
  const inner = noDelayChannelOpener([srv.certificatePem]);
  const opener: WebSocketChannelOpener = (url) => {
    urls.push(url);
    return inner(url);
  };
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  try {
    const a = await CommuCatClient.connect(
      connectOptions(srv, alice, { mode: "websocket", webSocketChannel: opener }),
    );
    const b = await CommuCatClient.connect(
      connectOptions(srv, bob, { mode: "websocket", webSocketChannel: opener }),
    );
    assert.deepEqual(urls, [`${srv.url.replace(/^https/, "wss")}/connect`, urls[0]]);
    await befriend(srv, a, b);
    await a.join(8, [bob.deviceId]);
    await a.send(8, "over nodelay");
    assert.equal(fromUtf8((await within(b.next(), "bob's message"))!.payload), "over nodelay");
    await b.send(8, "and back");
    assert.equal(fromUtf8((await within(a.next(), "alice's message"))!.payload), "and back");
    const c = await CommuCatClient.connect(
      connectOptions(srv, newDevice("carol"), { mode: "binary", webSocketChannel: opener }),
    );
    assert.equal(urls.length, 2, "a binary session does not open a WebSocket");
    for (const client of [a, b, c]) client.close();
    await Promise.all([a.finished, b.finished, c.finished]);
  } finally {
    await srv.stop();
  }
});
