import assert from "node:assert/strict";
import { MultipathEndpoint, type PathLink } from "./endpoint.ts";
import type { FecCodec } from "./fec.ts";
import { PathKeys } from "./keys.ts";
import { dataUnit, decodePathUnit } from "./wire.ts";
import { UnitDecoder } from "../proto/mod.ts";

const keys = () => PathKeys.derive(new Uint8Array(32).fill(7), new Uint8Array(32).fill(9));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A path that records the kinds of the units written on it. */
function recorder(): { link: PathLink; kinds: string[] } {
  const kinds: string[] = [];
  const units = new UnitDecoder();
  return {
    kinds,
    link: {
      backlogBytes: 0,
      send(bytes) {
        for (const body of units.push(bytes)) kinds.push(decodePathUnit(body).kind);
      },
      close() {},
    },
  };
}

/** A codec whose encoder answers only when the test says so (a Worker still starting). */
function coldCodec() {
  const waiting: Array<() => void> = [];
  const codec: FecCodec = {
    encode: (objectId) =>
      new Promise((resolve) => {
        // Two packets of a 16-byte object (T = 16): version 1, the id, F = 16, T = 16, ESI 0 / 1.
        const packet = (esi: number) => {
          const p = new Uint8Array(16 + 16);
          const view = new DataView(p.buffer);
          p[0] = 1;
          view.setUint32(2, objectId);
          view.setUint32(6, 16);
          view.setUint16(10, 16);
          p[15] = esi;
          return p;
        };
        waiting.push(() => resolve([packet(0), packet(1)]));
      }),
    receiver: () => ({ push: () => null, close() {} }),
  };
  return { codec, release: () => waiting.splice(0).forEach((go) => go()) };
}

Deno.test("endpoint: a unit waiting for a cold FEC encoder is not timed out (sent once), its timeout starts when its packets leave", async () => {
  const { codec, release } = coldCodec();
  const paths = [recorder(), recorder(), recorder()];
  const e = new MultipathEndpoint({
    side: "client",
    keys: keys(),
    deliver: () => {},
    onFatal: (d) => assert.fail(d),
    fec: codec,
    minFecBytes: 0,
    minRtoMs: 10,
    maxRtoMs: 40,
  });
  try {
    for (const p of paths) e.addPath(p.link, "x");
    e.send(new TextEncoder().encode("hello"));
    // Several largest timeouts pass while the encoder starts: nothing may go out as DATA.
    await sleep(150);
    const all = () => paths.flatMap((p) => p.kinds);
    assert.deepEqual(all(), [], "nothing sent before the encoder answered");
    assert.equal(e.stats.retransmitted, 0);
    release();
    await sleep(0);
    assert.deepEqual(all().sort(), ["fec", "fec"], "the object's packets, no copy");
    // No ACK comes: the timeout, counted from the packets, resends the unit as DATA.
    for (let i = 0; i < 50 && !all().includes("data"); i++) await sleep(10);
    assert.ok(all().includes("data"), "resent after its timeout");
    assert.ok(e.stats.retransmitted >= 1);
  } finally {
    e.close();
  }
});

Deno.test("endpoint: the planned second copy of a unit just acknowledged asks for no ACK; a later resend does", async () => {
  let now = 1000;
  const a = recorder();
  const b = recorder();
  const e = new MultipathEndpoint({
    side: "server",
    keys: keys(),
    deliver: () => {},
    onFatal: (d) => assert.fail(d),
    ackDelayMs: 5,
    now: () => now,
  });
  try {
    const pa = e.addPath(a.link, "a");
    const pb = e.addPath(b.link, "b");
    const acks = () => [...a.kinds, ...b.kinds].filter((k) => k === "ack").length;
    const unit = dataUnit(1, new TextEncoder().encode("x"));
    e.receive(pa, unit);
    for (let i = 0; i < 50 && acks() === 0; i++) await sleep(5);
    assert.equal(acks(), 1, "the first copy is acknowledged");
    // The second copy, right behind the ACK: nothing more to say.
    e.receive(pb, unit);
    await sleep(30);
    assert.equal(acks(), 1, "the planned copy costs no ACK");
    // The same unit long after the ACK: a resend, so that ACK may have been lost.
    now += 200;
    e.receive(pb, unit);
    for (let i = 0; i < 50 && acks() === 1; i++) await sleep(5);
    assert.equal(acks(), 2, "a resend is acknowledged again");
  } finally {
    e.close();
  }
});
