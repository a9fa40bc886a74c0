/**
 * Test helpers for end-to-end encrypted chats through the SDK: a connected
 * device with its E2E client, reading until an event, and the messages read.
 */
import assert from "node:assert/strict";
import { CommuCatClient, E2EClient, type E2EDelivery } from "../../src/client/mod.ts";
import { type E2EEvent, MemoryE2EStore } from "../../src/e2e/mod.ts";
import { connectOptions, type ServerHandle, type TestDevice } from "./devices.ts";

/** A connected device and its E2E client over `store`. */
export interface AttachedDevice {
  client: CommuCatClient;
  e2e: E2EClient;
  store: MemoryE2EStore;
}

/**
 * Connects `device` to `server` (with its `certificate`, for a paired one)
 * and attaches an E2E client keeping its state in `store` (a new one unless given).
 */
export async function attach(
  server: ServerHandle,
  device: TestDevice,
  options: { store?: MemoryE2EStore; certificate?: string } = {},
): Promise<AttachedDevice> {
  const { store = new MemoryE2EStore(), certificate } = options;
  const client = await CommuCatClient.connect(
    connectOptions(server, device, certificate ? { certificate } : {}),
  );
  const e2e = await E2EClient.attach(client, {
    store,
    deviceId: device.deviceId,
    devicePrivateKey: device.privateKey,
    rest: { url: server.url, caCerts: [server.certificatePem] },
  });
  return { client, e2e, store };
}

/**
 * Reads deliveries until one has an event of `kind`; returns every event read
 * on the way. With `failOnRefused`, a `refused` event fails at once. A safety
 * cap (not a speed check) turns a hang into a failure.
 */
export async function until(
  e2e: E2EClient,
  kind: E2EEvent["kind"],
  failOnRefused = false,
): Promise<E2EEvent[]> {
  const seen: E2EEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${kind} event within 60 s`)), 60_000);
  });
  try {
    while (true) {
      const delivery: E2EDelivery | null = await Promise.race([e2e.next(), cap]);
      assert.ok(delivery, `connection closed while waiting for ${kind}`);
      seen.push(...delivery.events);
      if (failOnRefused) {
        assert.ok(
          !delivery.events.some((e) => e.kind === "refused"),
          `refused: ${
            JSON.stringify(delivery.events, (_, v) => typeof v === "bigint" ? `${v}` : v)
          }`,
        );
      }
      if (delivery.events.some((e) => e.kind === kind)) return seen;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The messages among `events`, as `sender:text`. */
export function texts(events: E2EEvent[]): string[] {
  return events.flatMap((e) =>
    e.kind === "message" ? [`${e.sender}:${new TextDecoder().decode(e.data)}`] : []
  );
}
