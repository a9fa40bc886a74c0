/**
 * One shared `Deno.HttpClient` carrying many long-lived `/connect` streams
 * (binary, SSE, long-poll share its HTTP/2 connection): past
 * MAX_STREAMS_PER_HTTP_CLIENT the SDK refuses with HttpClientFullError instead
 * of waiting behind the server's concurrent-stream cap (200), where a session
 * hung until its handshake timeout. Slots come back when channels end.
 */
import assert from "node:assert/strict";
import {
  type ClientChannel,
  CommuCatClient,
  HttpClientFullError,
  MAX_STREAMS_PER_HTTP_CLIENT,
  openChannel,
  openStreamsOn,
} from "../src/client/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

for (const accept of ["guarded", "direct"] as const) {
  Deno.test(`a shared HTTP client past its stream budget fails clearly (${accept} accept)`, async () => {
    const srv = await startTestServer({ accept });
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    const channels: ClientChannel[] = [];
    try {
      // Opened all at once, binary and SSE mixed: the budget is taken synchronously, so exactly
      // MAX of them get through (below the server's cap, so none of those waits).
      const modes = ["binary", "sse"] as const;
      const opened = await Promise.allSettled(
        Array.from(
          { length: MAX_STREAMS_PER_HTTP_CLIENT + 2 },
          (_, i) => openChannel({ url: srv.url, mode: modes[i % 2], httpClient: client }),
        ),
      );
      for (const r of opened) if (r.status === "fulfilled") channels.push(r.value);
      const refused = opened.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
      assert.equal(channels.length, MAX_STREAMS_PER_HTTP_CLIENT);
      assert.equal(refused.length, 2);
      for (const error of refused) {
        assert.ok(error instanceof HttpClientFullError, String(error));
        assert.equal(error.name, "HttpClientFullError");
      }
      assert.equal(openStreamsOn(client), MAX_STREAMS_PER_HTTP_CLIENT);

      // A session on the full client is refused the same way, not left to its handshake timeout.
      await assert.rejects(
        CommuCatClient.connect({ ...connectOptions(srv, newDevice()), httpClient: client }),
        HttpClientFullError,
      );

      // A closed channel gives its slot back: a whole session then runs on the client.
      channels.pop()!.close();
      assert.equal(openStreamsOn(client), MAX_STREAMS_PER_HTTP_CLIENT - 1);
      const session = await CommuCatClient.connect({
        ...connectOptions(srv, newDevice()),
        httpClient: client,
      });
      assert.equal(openStreamsOn(client), MAX_STREAMS_PER_HTTP_CLIENT);
      session.close();
      await session.finished;
      assert.equal(openStreamsOn(client), MAX_STREAMS_PER_HTTP_CLIENT - 1);
    } finally {
      for (const channel of channels) channel.close();
      assert.equal(openStreamsOn(client), 0, "every slot given back");
      client.close();
      await srv.stop();
    }
  });
}

Deno.test("a refused /connect stream gives its slot back; own clients are not counted", async () => {
  const srv = await startTestServer();
  const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    await assert.rejects(
      openChannel({
        url: srv.url,
        connectPath: "/no-such-path",
        mode: "binary",
        httpClient: client,
      }),
      /HTTP 404/,
    );
    assert.equal(openStreamsOn(client), 0);
    // caCerts without httpClient: each session has its own client, nothing shared to count.
    const own = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    assert.equal(openStreamsOn(client), 0);
    own.close();
  } finally {
    client.close();
    await srv.stop();
  }
});
