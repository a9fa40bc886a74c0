import assert from "node:assert/strict";
import { generateDeviceKeys } from "./device_keys.ts";
import { signDevicePqKeys, verifyDevicePqKeys } from "./device_pq_keys.ts";

Deno.test("device pq keys: the device key's signature binds the id and both keys", () => {
  const device = generateDeviceKeys();
  const kem = new Uint8Array(1184).fill(1);
  const dsa = new Uint8Array(1952).fill(2);
  const sig = signDevicePqKeys(device.privateKey, "phone", kem, dsa);
  assert.ok(verifyDevicePqKeys(device.publicKey, "phone", kem, dsa, sig));
  assert.equal(verifyDevicePqKeys(device.publicKey, "laptop", kem, dsa, sig), false, "other id");
  const otherKem = kem.slice();
  otherKem[0] ^= 1;
  assert.equal(verifyDevicePqKeys(device.publicKey, "phone", otherKem, dsa, sig), false);
  assert.equal(verifyDevicePqKeys(generateDeviceKeys().publicKey, "phone", kem, dsa, sig), false);
  assert.equal(verifyDevicePqKeys(device.publicKey, "phone", kem.subarray(1), dsa, sig), false);
});
