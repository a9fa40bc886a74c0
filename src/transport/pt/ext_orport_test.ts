import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  acceptExtOrPort,
  COOKIE_HEADER,
  ExtOrCommand,
  ExtOrPortError,
  type ExtOrPortHello,
  writeAuthCookie,
} from "./ext_orport.ts";

/** The PT's side, as goptlib runs it (tested against obfs4proxy in tests/obfs4_test.ts). */
async function ptSide(conn: Deno.Conn, cookie: Uint8Array, commands: [number, string][]) {
  const read = async (n: number) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n;) {
      const got = await conn.read(out.subarray(off));
      if (got === null) throw new Error("closed");
      off += got;
    }
    return out;
  };
  assert.deepEqual([...await read(2)], [1, 0]);
  const clientNonce = crypto.getRandomValues(new Uint8Array(32));
  await conn.write(new Uint8Array([1, ...clientNonce]));
  const reply = await read(64);
  const serverNonce = reply.subarray(32);
  const mac = (label: string) =>
    new Uint8Array(
      createHmac("sha256", cookie).update(label).update(clientNonce).update(serverNonce).digest(),
    );
  const serverOk = mac("ExtORPort authentication server-to-client hash")
    .every((b, i) => b === reply[i]);
  await conn.write(mac("ExtORPort authentication client-to-server hash"));
  const [status] = await read(1);
  if (status !== 1) return { serverOk, status, answer: null };
  for (const [type, body] of commands) {
    const b = new TextEncoder().encode(body);
    await conn.write(
      new Uint8Array([type >> 8, type & 0xff, b.length >> 8, b.length & 0xff, ...b]),
    );
  }
  const answer = await read(4);
  return { serverOk, status, answer: (answer[0] << 8) | answer[1] };
}

async function pair(): Promise<[Deno.Conn, Deno.Conn]> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    l.accept(),
    Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port }),
  ]);
  l.close();
  return [a, b];
}

Deno.test("the cookie file is Tor's format, mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cookie = await writeAuthCookie(`${dir}/cookie`);
    const bytes = await Deno.readFile(`${dir}/cookie`);
    assert.equal(bytes.length, 64);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 32)), COOKIE_HEADER);
    assert.deepEqual(bytes.subarray(32), cookie);
    assert.equal((await Deno.stat(`${dir}/cookie`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Extended ORPort: the right cookie, USERADDR and TRANSPORT, then OKAY", async () => {
  const [server, pt] = await pair();
  const cookie = crypto.getRandomValues(new Uint8Array(32));
  const [hello, side] = await Promise.all([
    acceptExtOrPort(server, cookie).then(async (h: ExtOrPortHello) => {
      await h.reply(true);
      return h;
    }),
    ptSide(pt, cookie, [
      [ExtOrCommand.USERADDR, "[2001:db8::7]:50123"],
      [ExtOrCommand.TRANSPORT, "obfs4"],
      [0x0777, "an unknown command is ignored"],
      [ExtOrCommand.DONE, ""],
    ]),
  ]);
  assert.deepEqual(hello.userAddr, { transport: "tcp", hostname: "2001:db8::7", port: 50123 });
  assert.equal(hello.transport, "obfs4");
  assert.deepEqual(side, { serverOk: true, status: 1, answer: ExtOrCommand.OKAY });
  server.close();
  pt.close();
});

Deno.test("Extended ORPort: a wrong cookie gets status 0 and an error", async () => {
  const [server, pt] = await pair();
  const cookie = crypto.getRandomValues(new Uint8Array(32));
  const guess = crypto.getRandomValues(new Uint8Array(32));
  const [error, side] = await Promise.all([
    acceptExtOrPort(server, cookie).then(() => null, (e) => e),
    ptSide(pt, guess, []),
  ]);
  assert.ok(error instanceof ExtOrPortError);
  assert.equal(error.message, "wrong auth cookie");
  // The guesser cannot even check our hash: it does not know the cookie.
  assert.deepEqual(side, { serverOk: false, status: 0, answer: null });
  server.close();
  pt.close();
});
