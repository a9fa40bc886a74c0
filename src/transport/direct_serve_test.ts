import assert from "node:assert/strict";
import { silentLogger } from "../log/mod.ts";
import { DirectListener } from "./direct_serve.ts";
import { holdSlotUntil } from "./listener.ts";

/** A plaintext direct listener whose caps count slots taken and given back. */
function listener() {
  const slots = { taken: 0, released: 0 };
  const ends: (() => void)[] = [];
  const direct = new DirectListener({
    configKey: "test.bind",
    hostname: "127.0.0.1",
    port: 0,
    admit: () => {
      slots.taken++;
      let released = false;
      return {
        release() {
          // Given back once per slot: a second release would be a bookkeeping bug.
          assert.equal(released, false, "slot released twice");
          released = true;
          slots.released++;
        },
      };
    },
    log: silentLogger,
  });
  direct.start({
    handle: (request) => {
      if (new URL(request.url).pathname !== "/ws") return new Response("plain");
      const { socket, response } = Deno.upgradeWebSocket(request);
      // The session ends when the test says (a connection's onDone), not at the socket's close.
      holdSlotUntil(request, (end) => ends.push(() => end.connectionDone()), socket);
      return response;
    },
  });
  return { direct, slots, ends, url: `127.0.0.1:${direct.addr.port}` };
}

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://${url}/ws`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("websocket failed"));
  });
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e as CloseEvent)));
}

Deno.test("direct accept: a held session's slot is given back once, at its end; a plain request's once answered", async () => {
  const { direct, slots, ends, url } = listener();
  try {
    assert.equal(await (await fetch(`http://${url}/`)).text(), "plain");
    const ws = await open(url);
    // The plain request's slot is back; the session's is held past its 101.
    assert.equal(slots.taken, 2);
    assert.equal(slots.released, 1);
    assert.equal(ends.length, 1);
    ws.close();
    await closed(ws);
    assert.equal(slots.released, 1, "held until the session says it is done");
    ends[0]();
    assert.equal(slots.released, 2);
    // The ended session left the open set: the drain has nothing to close or wait for.
    await direct.shutdown();
  } finally {
    direct.close();
  }
});

Deno.test("direct accept: shutdown closes (1001) the sessions still holding slots, and their end gives them back", async () => {
  const { direct, slots, ends, url } = listener();
  try {
    const a = await open(url);
    const b = await open(url);
    const closes = [closed(a), closed(b)];
    const ended = ends[0];
    ended(); // a's session ended on its own: only b is still held
    const drained = direct.shutdown();
    assert.equal((await closes[1]).code, 1001);
    ends[1]();
    await drained;
    assert.deepEqual(slots, { taken: 2, released: 2 });
    // a was no longer in the open set: not closed by the drain, only cut with the port.
    assert.notEqual((await closes[0]).code, 1001);
  } finally {
    direct.close();
  }
});
