/**
 * Test helper: a second device for a connected user, the way a user adds
 * one (a pair code issued over the owner's session, claimed without one).
 */
import assert from "node:assert/strict";
import { fromHex, publicFromSeed } from "../../src/crypto/mod.ts";
import { api, type Party } from "./api.ts";
import type { ServerHandle, TestDevice } from "./devices.ts";

/** A device paired to `owner`'s user, and its certificate JSON as the claim returned it. */
export interface PairedDevice {
  device: TestDevice;
  certificate: string;
}

/** Pairs a new device to `owner`'s user (pair code, claim): its identity and certificate. */
export async function pairDevice(server: ServerHandle, owner: Party): Promise<PairedDevice> {
  const issued = await api(server, "POST", "/api/pair", { as: owner });
  assert.equal(issued.status, 200, issued.text);
  const claim = await api(server, "POST", "/api/pair/claim", {
    json: { pair_code: issued.body!.pair_code },
  });
  assert.equal(claim.status, 200, claim.text);
  const c = claim.body!;
  const match = /"device_certificate":(\{[^{}]*\})/.exec(claim.text);
  assert.ok(match, "claim response carries device_certificate");
  const privateKey = fromHex(String(c.private_key), 32);
  const device: TestDevice = {
    deviceId: String(c.device_id),
    privateKey,
    publicKey: publicFromSeed(privateKey),
    handle: String((c.user as Record<string, unknown>).handle),
  };
  return { device, certificate: match[1] };
}
