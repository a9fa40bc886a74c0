/**
 * The ICE-lite STUN responder on loopback: the requester's real reflexive
 * address, integrity checked with the ICE password (a wrong key gets no
 * answer), and coturn's `turnutils_stunclient` reads the address (skipped,
 * loudly, without coturn).
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { bindingRequest, mappedAddress, startStunResponder } from "./stun.ts";

const passwords: Record<string, string> = { ufragA: "a-long-ice-password-123" };
const credentials = (ufrag: string) => passwords[ufrag] ?? null;

/** Sends `request` from a fresh socket; resolves with the answer, or null after 300 ms of silence. */
async function ask(
  port: number,
  request: Uint8Array,
): Promise<{ answer: Uint8Array | null; local: number }> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  const local = socket.address().port;
  const answer = await new Promise<Uint8Array | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 300);
    socket.on("message", (m) => {
      clearTimeout(timer);
      resolve(new Uint8Array(m));
    });
    socket.send(request, port, "127.0.0.1");
  });
  socket.close();
  return { answer, local };
}

Deno.test("stun: the answer carries the requester's own address; a wrong integrity key gets none", async () => {
  const responder = await startStunResponder("127.0.0.1", 0, credentials);
  try {
    const good = await ask(
      responder.port,
      bindingRequest({ username: "ufragA:remote", password: passwords.ufragA }),
    );
    assert.deepEqual(mappedAddress(good.answer!), { address: "127.0.0.1", port: good.local });
    const plain = await ask(responder.port, bindingRequest());
    assert.deepEqual(mappedAddress(plain.answer!), { address: "127.0.0.1", port: plain.local });
    const wrong = await ask(
      responder.port,
      bindingRequest({ username: "ufragA:remote", password: "wrong" }),
    );
    assert.equal(wrong.answer, null, "wrong MESSAGE-INTEGRITY: no answer");
    const unknown = await ask(
      responder.port,
      bindingRequest({ username: "nobody:x", password: "x" }),
    );
    assert.equal(unknown.answer, null, "unknown ufrag: no answer");
  } finally {
    responder.close();
  }
});

let hasStunClient = false;
try {
  hasStunClient =
    new Deno.Command("turnutils_stunclient", { stdout: "null", stderr: "null" }).outputSync()
      .code !== 127;
} catch {
  hasStunClient = false;
}
if (!hasStunClient) console.warn("SKIPPED: turnutils_stunclient (coturn) is not installed");

Deno.test({
  name:
    "stun: coturn's turnutils_stunclient gets its reflexive address (and our FINGERPRINT parses)",
  ignore: !hasStunClient,
  async fn() {
    const responder = await startStunResponder("127.0.0.1", 0, credentials);
    try {
      const out = await new Deno.Command("turnutils_stunclient", {
        args: ["-p", String(responder.port), "127.0.0.1"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.match(text, /UDP reflexive addr: 127\.0\.0\.1:\d+/, text);
    } finally {
      responder.close();
    }
  },
});
