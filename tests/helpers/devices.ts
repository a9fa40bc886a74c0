/**
 * Test helpers: fresh device identities and connect options for a server.
 */
import { generateDeviceKeys } from "../../src/crypto/mod.ts";
import type { ClientOptions } from "../../src/client/mod.ts";
import type { ConnectMode } from "../../src/transport/mod.ts";

/** A device identity for tests. */
export interface TestDevice {
  deviceId: string;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  handle: string;
}

let counter = 0;

/** A new random device with a unique handle. */
export function newDevice(prefix = "dev"): TestDevice {
  const keys = generateDeviceKeys();
  const n = `${Date.now().toString(36)}${(counter++).toString(36)}`;
  return {
    deviceId: `${prefix}-${n}`,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    handle: `${prefix}_${n}`,
  };
}

/** What a test needs to know about a running server. */
export interface ServerHandle {
  url: string;
  domain: string;
  noisePublic: Uint8Array;
  certificatePem: string;
}

/** Connect options for `device` against `server`. */
export function connectOptions(
  server: ServerHandle,
  device: TestDevice,
  extra: Partial<ClientOptions> & { mode?: ConnectMode } = {},
): ClientOptions {
  return {
    url: server.url,
    domain: server.domain,
    serverStatic: server.noisePublic,
    deviceId: device.deviceId,
    devicePrivateKey: device.privateKey,
    user: { handle: device.handle },
    caCerts: [server.certificatePem],
    ...extra,
  };
}
