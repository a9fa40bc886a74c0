/**
 * End-to-end encryption costs (MLS, suite 83 X-Wing, src/e2e/): one application message
 * encrypted by a member and decrypted by another, and one commit (a fresh update path, as after a
 * device removal) created by a member and processed by another, in groups of 2, 10 and 100
 * devices. Setup (key packages, group creation, every member joining) happens once, outside the
 * measured functions. Figures: docs/PERFORMANCE.md "End-to-end encryption".
 *
 * Run: `scripts/deno bench --allow-read bench/e2e_bench.ts`
 */
import { generateDeviceKeys } from "../src/crypto/mod.ts";
import {
  E2EDevice,
  type FetchedKeyPackage,
  type KeyPackageSource,
  MemoryE2EStore,
} from "../src/e2e/mod.ts";

const SIZES = [2, 10, 100];
const MESSAGE = new TextEncoder().encode(
  "a typical chat message of some sixty bytes, give or take.",
);

async function device(id: string): Promise<E2EDevice> {
  const keys = generateDeviceKeys();
  return await E2EDevice.open(
    { deviceId: id, privateKey: keys.privateKey, publicKey: keys.publicKey },
    new MemoryE2EStore(),
  );
}

/** A group of `size` devices on channel 1: [creator, one other member]. */
async function group(size: number): Promise<[E2EDevice, E2EDevice]> {
  const creator = await device(`d0-${size}`);
  const others = await Promise.all(
    Array.from({ length: size - 1 }, (_, i) => device(`d${i + 1}-${size}`)),
  );
  const packages = new Map<string, FetchedKeyPackage>();
  for (const other of others) {
    const [upload] = await other.newKeyPackages(1);
    packages.set(other.identity.deviceId, {
      device_id: other.identity.deviceId,
      key_package: upload.data,
      signature: upload.signature,
    });
  }
  const source: KeyPackageSource = {
    fetchKeyPackage: (id) => Promise.resolve(packages.get(id)!),
  };
  const [welcome] = await creator.createGroup(
    1,
    others.map((o) => ({ deviceId: o.identity.deviceId, publicKey: o.identity.publicKey })),
    source,
  );
  // Only the member the bench talks to needs to join; the others' leaves are in the tree.
  await others[0].receive(1, welcome);
  return [creator, others[0]];
}

for (const size of SIZES) {
  const [a, b] = await group(size);
  Deno.bench({
    name: `e2e message encrypt+decrypt, group of ${size}`,
    group: `e2e message`,
    baseline: size === 2,
    async fn() {
      const payload = await a.encrypt(1, MESSAGE);
      const events = await b.receive(1, payload);
      if (events[0]?.kind !== "message") throw new Error(`not decrypted: ${events[0]?.kind}`);
    },
  });
  Deno.bench({
    name: `e2e commit create+process, group of ${size}`,
    group: `e2e commit`,
    baseline: size === 2,
    async fn() {
      const [commit] = await a.updateKeys(1);
      const events = await b.receive(1, commit);
      if (events[0]?.kind !== "membership") throw new Error(`not applied: ${events[0]?.kind}`);
    },
  });
}
