import assert from "node:assert/strict";
import {
  blake3,
  concatBytes,
  nativeEd25519,
  nobleEd25519,
  toHex,
  u64le,
  utf8,
} from "../crypto/mod.ts";
import { JsonNumber } from "./canonical.ts";
import {
  decodeSignedEvent,
  encodeSignedEvent,
  eventDigest,
  EventError,
  type FederationEvent,
  type SignedEvent,
  signEvent,
  verifySignedEvent,
} from "./event.ts";

const SEED = new Uint8Array(32).map((_, i) => i + 1);
const PUBLIC = nativeEd25519.publicFromSeed(SEED);

const EVENT: FederationEvent = {
  event_id: "ev-1",
  origin: "a.test",
  created_at: "2025-03-01T12:00:00.123456789Z",
  payload: { target: "dev@b.test", payload: "0a05", sequence: 7, channel: 3 },
  scope: "b.test",
};

Deno.test("eventDigest is BLAKE3 over id, origin, scope, i64 LE nanoseconds, sorted payload", () => {
  const expected = blake3(concatBytes(
    utf8("ev-1a.testb.test"),
    u64le(1740830400123456789n),
    utf8('{"channel":3,"payload":"0a05","sequence":7,"target":"dev@b.test"}'),
  ));
  assert.equal(toHex(eventDigest(EVENT)), toHex(expected));
  // Pinned regression value (derived here, not checked against an upstream build).
  assert.equal(
    toHex(eventDigest(EVENT)),
    "ebb19350425160d8f4388bf88438cda1a7bc92eee9bd3273b67eddacf2f9a7d3",
  );
  // Times before 1970 are negative i64s (two's complement).
  const early = { ...EVENT, created_at: "1969-12-31T23:59:59.999999999Z" };
  assert.equal(
    toHex(eventDigest(early)),
    toHex(blake3(concatBytes(
      utf8("ev-1a.testb.test"),
      new Uint8Array(8).fill(0xff),
      utf8('{"channel":3,"payload":"0a05","sequence":7,"target":"dev@b.test"}'),
    ))),
  );
});

Deno.test("signatures from either Ed25519 backend verify under both", () => {
  for (const signer of [nativeEd25519, nobleEd25519]) {
    const signed = signEvent(EVENT, SEED, signer);
    assert.equal(signed.signature.length, 64);
    for (const verifier of [nativeEd25519, nobleEd25519]) {
      verifySignedEvent(signed, PUBLIC, verifier);
    }
  }
  assert.equal(
    toHex(signEvent(EVENT, SEED, nativeEd25519).signature),
    toHex(signEvent(EVENT, SEED, nobleEd25519).signature),
  );
});

Deno.test("wire form: byte arrays as numbers; decode keeps payload numbers exact", () => {
  const signed = signEvent({ ...EVENT, payload: { x: new JsonNumber("1.0"), y: 2 } }, SEED);
  const wire = encodeSignedEvent(signed);
  const json = JSON.parse(wire);
  assert.equal(json.signature.length, 64);
  assert.ok(json.digest.every((n: unknown) => typeof n === "number"));
  assert.ok(wire.includes('"payload":{"x":1.0,"y":2}'));
  const back = decodeSignedEvent(wire);
  verifySignedEvent(back, PUBLIC, nobleEd25519);
  // Re-serialising 1.0 as 1 (what JSON.parse would do) changes the digest.
  const lossy = decodeSignedEvent(wire.replace('"x":1.0', '"x":1'));
  assert.throws(
    () => verifySignedEvent(lossy, PUBLIC),
    (e) => e instanceof EventError && e.code === "digest_mismatch",
  );
});

function expectRejected(signed: SignedEvent, code: EventError["code"], what: string) {
  for (const backend of [nativeEd25519, nobleEd25519]) {
    assert.throws(
      () => verifySignedEvent(signed, PUBLIC, backend),
      (e) => e instanceof EventError && e.code === code,
      `${what} (${backend.name})`,
    );
  }
}

Deno.test("tampering with any field, the digest or the signature is rejected", () => {
  const signed = signEvent(EVENT, SEED);
  const fields: [string, FederationEvent][] = [
    ["event_id", { ...EVENT, event_id: "ev-2" }],
    ["origin", { ...EVENT, origin: "evil.test" }],
    ["scope", { ...EVENT, scope: "c.test" }],
    ["created_at (1 ns)", { ...EVENT, created_at: "2025-03-01T12:00:00.123456788Z" }],
    ["payload", { ...EVENT, payload: { ...(EVENT.payload as object), sequence: 8 } }],
    ["payload key", { ...EVENT, payload: { ...(EVENT.payload as object), extra: "" } }],
  ];
  for (const [what, event] of fields) {
    expectRejected({ ...signed, event }, "digest_mismatch", what);
  }
  // Same instant, other spelling: the digest is over nanoseconds, so it still verifies.
  verifySignedEvent(
    { ...signed, event: { ...EVENT, created_at: "2025-03-01T14:00:00.123456789+02:00" } },
    PUBLIC,
  );
  // A consistent digest for a changed event still fails the signature.
  const changed = { ...EVENT, event_id: "ev-2" };
  expectRejected(
    { ...signed, event: changed, digest: eventDigest(changed) },
    "invalid_signature",
    "re-digested",
  );
  const digest = signed.digest.slice();
  digest[0] ^= 1;
  expectRejected({ ...signed, digest }, "digest_mismatch", "digest bit");
  const signature = signed.signature.slice();
  signature[10] ^= 1;
  expectRejected({ ...signed, signature }, "invalid_signature", "signature bit");
  expectRejected(
    { ...signed, signature: signed.signature.slice(0, 63) },
    "invalid_signature",
    "short signature",
  );
  const otherKey = nativeEd25519.publicFromSeed(new Uint8Array(32).fill(9));
  assert.throws(() => verifySignedEvent(signed, otherKey), EventError, "other key");
  expectRejected(
    { ...signed, event: { ...EVENT, created_at: "yesterday" } },
    "invalid_request",
    "bad time",
  );
});

Deno.test("decodeSignedEvent refuses malformed bodies with invalid_request", () => {
  const good = JSON.parse(encodeSignedEvent(signEvent(EVENT, SEED)));
  const bad: unknown[] = [
    "not json",
    [],
    { ...good, event: "x" },
    { ...good, event: { ...good.event, origin: 5 } },
    { ...good, signature: "ab" },
    { ...good, signature: [256] },
    { ...good, digest: [1.5] },
    { ...good, digest: new Array(65).fill(0) },
  ];
  for (const body of bad) {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    assert.throws(
      () => decodeSignedEvent(text),
      (e) => e instanceof EventError && e.code === "invalid_request",
      text,
    );
  }
});
