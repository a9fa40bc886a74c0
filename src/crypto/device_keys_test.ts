import assert from "node:assert/strict";
import { x25519 } from "@noble/curves/ed25519.js";
import { fromHex, toHex, utf8 } from "./bytes.ts";
import {
  DeviceKeyError,
  deviceKeysFromSeed,
  generateDeviceKeys,
  x25519PublicFromPrivate,
} from "./device_keys.ts";
import { nobleEd25519 } from "./ed25519.ts";

Deno.test("device keys: §21 vector for the upstream test seed", () => {
  const keys = deviceKeysFromSeed(utf8("seed-seed-seed-seed-seed-seed-seed-seed"));
  assert.equal(
    toHex(keys.privateKey),
    "c926cf5b192545bf31e2e27fe648163774cfcb03730d99492683cd849f87a96a",
  );
  assert.equal(
    toHex(keys.publicKey),
    "244cb75cb1c0d93df56dad7477c082354d40d13afe48509ddaa5cfa79134550d",
  );
  assert.deepEqual(keys.noiseStatic.privateKey, keys.privateKey);
  assert.equal(
    toHex(keys.noiseStatic.publicKey),
    "0d474a0c095793efebcb2c7b786dfbead98faa2a5a6af49aba8d9425c28e201d",
  );
});

Deno.test("device keys: sample config federation seed gives the §5.3 CA public", () => {
  const seed = fromHex("202122232425262728292a2b2c2d2e2f202122232425262728292a2b2c2d2e2f");
  assert.equal(
    toHex(deviceKeysFromSeed(seed).publicKey),
    "9719e690a626f3acdf4894922f245008e0345d1e152abe205a5e49f1f77fcbe2",
  );
});

Deno.test("device keys: X25519 helper matches §21 sample noise key and noble", () => {
  const priv = fromHex("000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f");
  assert.equal(
    toHex(x25519PublicFromPrivate(priv)),
    "0d67bf305a47b22d47e102fdd00a3b9ae7c1948a480948d6b29604a613654f08",
  );
  for (let i = 0; i < 8; i++) {
    const k = crypto.getRandomValues(new Uint8Array(32));
    assert.deepEqual(x25519PublicFromPrivate(k), x25519.getPublicKey(k));
  }
  assert.throws(() => x25519PublicFromPrivate(new Uint8Array(31)), DeviceKeyError);
});

Deno.test("device keys: seeds shorter than 32 bytes are refused; longer ones work", () => {
  assert.throws(() => deviceKeysFromSeed(new Uint8Array(31)), DeviceKeyError);
  assert.throws(() => deviceKeysFromSeed(new Uint8Array(0)), DeviceKeyError);
  const keys = deviceKeysFromSeed(new Uint8Array(32));
  assert.equal(keys.publicKey.length, 32);
  assert.notDeepEqual(deviceKeysFromSeed(new Uint8Array(33)).publicKey, keys.publicKey);
});

Deno.test("device keys: generated keys are consistent and re-derivable from their seed", () => {
  const a = generateDeviceKeys();
  const b = generateDeviceKeys(32);
  assert.equal(a.seed.length, 64);
  assert.equal(b.seed.length, 32);
  assert.notDeepEqual(a.publicKey, b.publicKey);
  for (const k of [a, b]) {
    assert.deepEqual(deviceKeysFromSeed(k.seed).publicKey, k.publicKey);
    assert.deepEqual(nobleEd25519.publicFromSeed(k.privateKey), k.publicKey);
  }
  assert.throws(() => generateDeviceKeys(16), DeviceKeyError);
});
