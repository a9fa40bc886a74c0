import assert from "node:assert/strict";
import { describeNoiseKeyForAck, type NoiseKey, toHex } from "../crypto/mod.ts";
import { establishedAckKeysText } from "../proto/mod.ts";
import { AckKeysCache } from "./ack_keys.ts";

function key(version: number): NoiseKey {
  return {
    version,
    privateKey: new Uint8Array(32).fill(version),
    publicKey: new Uint8Array(32).fill(0x40 + version),
    validAfter: new Date(version * 1000),
    rotatesAt: new Date(version * 1000 + 500),
    expiresAt: new Date(version * 1000 + 900),
  };
}

/** What the Ack carried before the cache: everything made afresh. */
function fresh(ca: Uint8Array, used: NoiseKey, active: NoiseKey[], keepalive: number): string {
  return establishedAckKeysText({
    deviceCaPublic: toHex(ca),
    noiseKey: {
      publicKey: toHex(used.publicKey),
      version: used.version,
      rotatesAt: used.rotatesAt,
      expiresAt: used.expiresAt,
    },
    noiseKeys: active.map((k) => describeNoiseKeyForAck(k, toHex)),
    keepaliveIntervalSeconds: keepalive,
  });
}

Deno.test("AckKeysCache: the fresh text for each key, keyring state, CA key and keepalive", () => {
  const cache = new AckKeysCache();
  const ca = new Uint8Array(32).fill(7);
  const [k1, k2, k3] = [key(1), key(2), key(3)];
  const cases: [Uint8Array, NoiseKey, NoiseKey[], number][] = [
    [ca, k2, [k2, k1], 30],
    [ca, k2, [k2, k1], 30], // again: from the cache
    [ca, k1, [k2, k1], 30], // the older key
    [ca, k3, [k3, k2], 30], // after a rotation
    [ca, k3, [k3], 30], // k2 expired
    [ca, k3, [k3], 45], // another keepalive
    [new Uint8Array(32).fill(8), k3, [k3], 45], // another CA key
  ];
  for (const [caPublic, used, active, keepalive] of cases) {
    const text = cache.text(caPublic, used, active, keepalive);
    assert.equal(text, fresh(caPublic, used, active, keepalive));
    // The members of one JSON object, as the Ack splices them in.
    const members = JSON.parse(`{${text}}`);
    assert.equal(members.noise_key_version, used.version);
    assert.equal(members.noise_keys.length, active.length);
  }
});

Deno.test("AckKeysCache: a keyring array changed in place after the call is noticed", () => {
  const cache = new AckKeysCache();
  const ca = new Uint8Array(32).fill(7);
  const [k1, k2] = [key(1), key(2)];
  const active = [k2, k1];
  cache.text(ca, k2, active, 30);
  active.pop();
  assert.equal(cache.text(ca, k2, active, 30), fresh(ca, k2, [k2], 30));
});
