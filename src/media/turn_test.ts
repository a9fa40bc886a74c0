/**
 * TURN REST credentials: the coturn formula, handed out in call Acks, and
 * accepted by a real coturn `turnserver --use-auth-secret` (fresh ones) or
 * refused (expired ones), driven by `turnutils_uclient`. The coturn part is
 * skipped, loudly, without coturn.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { FrameType, parseControlJson } from "../proto/mod.ts";
import { withCalls } from "./_test_harness.ts";
import { bindingRequest, mappedAddress } from "./stun.ts";
import { iceServers, turnRestCredential, type TurnServerConfig } from "./turn.ts";

const SECRET = "a-coturn-static-auth-secret";

Deno.test("turn: username <expiry>:<ufrag>, credential base64(HMAC-SHA1(secret, username))", () => {
  // Reference value from Python's hmac/hashlib/base64.
  assert.equal(turnRestCredential("s3cret", "1796365513:ufragA"), "gRl9XYRfxpLUWkiPzW/hJv5rMCs=");
  const servers: TurnServerConfig[] = [
    { urls: ["turn:t.example:3478"], auth: { kind: "secret", secret: "s3cret" }, realm: "r" },
    { urls: ["turn:s.example:3478"], auth: { kind: "static", username: "u", password: "p" } },
  ];
  const [rest, fixed] = iceServers(servers, "ufragA", 30, 1_796_365_453_000);
  assert.deepEqual(rest, {
    urls: ["turn:t.example:3478"],
    username: "1796365513:ufragA", // the TTL is at least 60 s
    credential: "gRl9XYRfxpLUWkiPzW/hJv5rMCs=",
    ttl_secs: 60,
    expires_at: "2026-12-04T06:25:13Z",
    realm: "r",
  });
  assert.deepEqual(fixed, {
    urls: ["turn:s.example:3478"],
    username: "u",
    credential: "p",
    ttl_secs: 0,
  });
});

Deno.test("turn: the offerer's and the accepting answerer's Acks carry their own credentials", async () => {
  const servers: TurnServerConfig[] = [{
    urls: ["turn:t.example"],
    auth: { kind: "secret", secret: SECRET },
  }];
  await withCalls(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await h.send(alice, FrameType.Join, 1, { members: ["bob"] });
    const audio = { codec: "opus", bitrate: 16000, sample_rate: 48000, channels: 1 };
    const offer = await h.send(alice, FrameType.CallOffer, 1, {
      call_id: "t",
      from: "alice",
      to: ["bob"],
      media: { audio },
      transport: { ice_credentials: { username_fragment: "aliceUfrag", password: "p".repeat(22) } },
    });
    const answer = await h.send(bob, FrameType.CallAnswer, 1, { call_id: "t", accept: true });
    type Ice = { ice_servers: { username: string; credential: string }[] };
    const a = (parseControlJson(offer!.payload) as Ice).ice_servers[0];
    const b = (parseControlJson(answer!.payload) as Ice).ice_servers[0];
    assert.match(a.username, /^\d+:aliceUfrag$/);
    assert.match(b.username, /^\d+:bob$/, "without a ufrag, the device id");
    assert.equal(a.credential, turnRestCredential(SECRET, a.username));
    assert.equal(
      h.calls.calls.icePassword("aliceUfrag"),
      "p".repeat(22),
      "kept for the STUN responder",
    );
  }, { iceServers: (device, ufrag) => iceServers(servers, ufrag ?? device, 600, Date.now()) });
});

let hasCoturn = false;
try {
  hasCoturn = ["turnserver", "turnutils_uclient"].every((tool) =>
    new Deno.Command(tool, { args: ["-h"], stdout: "null", stderr: "null" }).outputSync().code !==
      127
  );
} catch {
  hasCoturn = false;
}
if (!hasCoturn) console.warn("SKIPPED: coturn (turnserver, turnutils_uclient) is not installed");

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  s.close();
  return port;
}

/** True once a Binding Request to `port` is answered (tries 100 ms apart, for up to 30 s). */
async function answersStun(port: number): Promise<boolean> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  try {
    // A readiness wait, not a timing claim: coturn's start-up took over 5 s on a loaded machine.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 100);
        socket.once("message", (m) => {
          clearTimeout(timer);
          resolve(mappedAddress(new Uint8Array(m)) !== null);
        });
        socket.send(bindingRequest(), port, "127.0.0.1");
      });
      if (answered) return true;
      socket.removeAllListeners("message");
    }
    return false;
  } finally {
    socket.close();
  }
}

/** Runs turnutils_uclient against coturn with `username`/`credential`; true when it allocated. */
async function allocates(port: number, username: string, credential: string): Promise<boolean> {
  const out = await new Deno.Command("turnutils_uclient", {
    args: [
      "-p",
      String(port),
      "-u",
      username,
      "-w",
      credential,
      "-n",
      "1",
      "-m",
      "1",
      "-l",
      "100",
      "-y",
      "127.0.0.1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.code === 0;
}

Deno.test({
  name: "turn: coturn --use-auth-secret accepts issued credentials and refuses expired ones",
  ignore: !hasCoturn,
  async fn() {
    const port = await freeUdpPort();
    const server = new Deno.Command("turnserver", {
      args: [
        "-n",
        "--listening-ip=127.0.0.1",
        `--listening-port=${port}`,
        "--relay-ip=127.0.0.1",
        "--use-auth-secret",
        `--static-auth-secret=${SECRET}`,
        "--realm=commucat.test",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        "--no-stdout-log",
        "--min-port=49152",
        "--max-port=65535",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Ready once it answers a STUN Binding Request (retried: it takes a moment to bind).
      assert.ok(await answersStun(port), "turnserver came up");
      const servers: TurnServerConfig[] = [{
        urls: [`turn:127.0.0.1:${port}`],
        auth: { kind: "secret", secret: SECRET },
      }];
      const [fresh] = iceServers(servers, "ufragA", 600, Date.now());
      assert.ok(
        await allocates(port, fresh.username, fresh.credential),
        "fresh credentials allocate",
      );
      const [expired] = iceServers(servers, "ufragA", 60, Date.now() - 3_600_000);
      assert.ok(
        !(await allocates(port, expired.username, expired.credential)),
        "expired ones do not",
      );
      assert.ok(
        !(await allocates(port, fresh.username, "d3Jvbmc=")),
        "a wrong credential does not",
      );
    } finally {
      server.kill("SIGTERM");
      await server.status;
    }
  },
});
