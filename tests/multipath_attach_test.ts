/**
 * Bad attaches (issue #14 "Bad input"): forged and replayed tokens, a token
 * of another session, garbage and oversized first units are refused with an
 * Error frame on the new connection, and the session they named goes on.
 */
import assert from "node:assert/strict";
import { type ClientChannel, CommuCatClient, openChannel } from "../src/client/mod.ts";
import { attachUnit } from "../src/multipath/mod.ts";
import { decodeFrame, encodeUnit, UnitDecoder } from "../src/proto/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

/** Opens an attach connection, writes `bytes`, returns the Error the server answers with. */
async function attachWith(srv: TestServer, bytes: Uint8Array): Promise<Record<string, unknown>> {
  const channel: ClientChannel = await openChannel({
    url: srv.url,
    mode: "binary",
    caCerts: [srv.certificatePem],
    attach: true,
  });
  try {
    channel.write(bytes);
    const units = new UnitDecoder();
    for await (const chunk of channel.chunks) {
      const [first] = units.push(chunk);
      if (!first) continue;
      const frame = decodeFrame(encodeUnit(first))!.frame;
      return frame.control as Record<string, unknown>;
    }
    throw new Error("closed without an answer");
  } finally {
    channel.close();
  }
}

Deno.test("multipath attach: forged, replayed, foreign, garbage and oversized attaches are refused", async () => {
  const srv = await startTestServer();
  let alice: CommuCatClient | undefined;
  let bob: CommuCatClient | undefined;
  try {
    alice = await within(
      CommuCatClient.connect(connectOptions(srv, newDevice("alice"), { paths: ["websocket"] })),
      "alice",
    );
    bob = await within(
      CommuCatClient.connect(connectOptions(srv, newDevice("bob"), { paths: ["sse"] })),
      "bob",
    );
    await within(alice.multipath!.waitForPaths(2), "alice's paths");
    await within(bob.multipath!.waitForPaths(2), "bob's paths");
    const keys = alice.multipath!.keys;
    const other = bob.multipath!.keys;

    const forged = await attachWith(srv, attachUnit(keys.setId, 7, new Uint8Array(32).fill(1)));
    assert.equal(forged.error, "attach");
    assert.match(String(forged.detail), /does not match any session/);

    // Counter 1 was the SDK's own attach: the same token again is a replay.
    const replayed = await attachWith(srv, attachUnit(keys.setId, 1, keys.attachToken(1)));
    assert.match(String(replayed.detail), /attach counter 1 was used before/);

    // Bob's valid token does not attach a path to Alice's session.
    const foreign = await attachWith(srv, attachUnit(keys.setId, 9, other.attachToken(9)));
    assert.match(String(foreign.detail), /does not match any session/);

    const garbage = await attachWith(srv, encodeUnit(new Uint8Array([0xee, 1, 2, 3])));
    assert.match(String(garbage.detail), /not an attach unit/);

    const oversized = await attachWith(srv, new Uint8Array(4096).fill(0x7f));
    assert.match(String(oversized.detail), /before the attach completed/);

    // A fresh counter with the right token still works, and Alice's session is unharmed.
    const ok = await openChannel({
      url: srv.url,
      mode: "binary",
      caCerts: [srv.certificatePem],
      attach: true,
    });
    ok.write(attachUnit(keys.setId, 40, keys.attachToken(40)));
    const first = await ok.chunks[Symbol.asyncIterator]().next();
    assert.equal(new UnitDecoder().push(first.value!)[0][0], 0xa5, "ATTACHED");
    ok.close();
    await within(alice.join(3), "alice still works");
    assert.ok(!alice.closed && !bob.closed);
  } finally {
    alice?.close();
    bob?.close();
    await srv.stop();
  }
});

Deno.test("multipath attach: a server with multipath off answers problem+json; the client gets one path", async () => {
  const srv = await startTestServer({ multipath: false });
  let alice: CommuCatClient | undefined;
  try {
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    const response = await fetch(`${srv.url}/connect?mode=binary&attach`, {
      method: "POST",
      body: new Uint8Array(1),
      client,
    } as RequestInit);
    assert.equal(response.status, 404);
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    await response.body?.cancel();
    client.close();
    alice = await within(
      CommuCatClient.connect(connectOptions(srv, newDevice("alice"), { paths: ["websocket"] })),
      "alice",
    );
    assert.equal(alice.paths, null);
    await within(alice.join(3), "one-path session works");
  } finally {
    alice?.close();
    await srv.stop();
  }
});
