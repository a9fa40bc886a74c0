import assert from "node:assert/strict";
import { generateKeyPair, toHex } from "../../crypto/mod.ts";
import { testClock, withStore } from "./_test_utils.ts";
import { NOISE_SECRET_NAME, NoiseKeyManager, type NoiseRotationEvent } from "./mod.ts";

const HOUR = 3_600_000;
const POLICY = { intervalHours: 10, graceHours: 4, maxVersions: 3 };

const versions = (manager: NoiseKeyManager) => manager.active().map((k) => k.version);

Deno.test("start stores the bootstrap key once, then reuses what the store holds", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const pair = generateKeyPair();
    const manager = new NoiseKeyManager({
      store,
      policy: POLICY,
      bootstrapKey: pair,
      now: clock.now,
    });
    const keys = await manager.start();
    assert.equal(keys.length, 1);
    assert.equal(keys[0].version, 1);
    assert.equal(toHex(keys[0].publicKey), toHex(pair.publicKey));
    assert.equal(keys[0].rotatesAt.getTime(), clock.t + 10 * HOUR);
    assert.equal(keys[0].expiresAt.getTime(), clock.t + 14 * HOUR);
    const rows = await store.listSecrets(NOISE_SECRET_NAME);
    assert.equal(rows.length, 1);
    // x25519 private ‖ ML-DSA-65 seed (the version's PQ identity).
    assert.equal(rows[0].secret.length, 64);
    assert.equal(toHex(rows[0].secret.subarray(0, 32)), toHex(pair.privateKey));
    assert.equal(toHex(keys[0].privateKey), toHex(pair.privateKey));

    // A restart with another configured key keeps the stored one.
    const restarted = new NoiseKeyManager({
      store,
      policy: POLICY,
      bootstrapKey: generateKeyPair(),
      now: clock.now,
    });
    await restarted.start();
    assert.equal(toHex(restarted.newest().publicKey), toHex(pair.publicKey));
    assert.equal((await store.listSecrets(NOISE_SECRET_NAME)).length, 1);
  });
});

Deno.test("start refuses an inconsistent configured pair and generates one when none is given", async () => {
  await withStore(async (store) => {
    const bad = {
      privateKey: generateKeyPair().privateKey,
      publicKey: generateKeyPair().publicKey,
    };
    const manager = new NoiseKeyManager({ store, policy: POLICY, bootstrapKey: bad });
    await assert.rejects(manager.start(), /does not belong to the private key/);
    assert.throws(() => manager.active(), /start\(\) has not completed/);
    const generated = new NoiseKeyManager({ store, policy: POLICY });
    const keys = await generated.start();
    assert.equal(keys.length, 1);
    assert.equal(keys[0].publicKey.length, 32);
  });
});

Deno.test("tick rotates only once the interval has passed, keeping the old key for the grace", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await manager.start();
    const events: NoiseRotationEvent[] = [];
    manager.onRotation((e) => events.push(e));

    clock.advance(10 * HOUR - 1);
    assert.equal(await manager.tick(), null);
    assert.deepEqual(versions(manager), [1]);

    clock.advance(1);
    const event = await manager.tick();
    assert.equal(event?.version, 2);
    assert.equal(event?.forced, false);
    assert.deepEqual(events.map((e) => e.version), [2]);
    assert.deepEqual(versions(manager), [2, 1], "newest first, old key in its grace period");

    clock.advance(4 * HOUR - 1); // last moment of version 1's grace
    assert.equal(await manager.tick(), null);
    assert.deepEqual(versions(manager), [2, 1]);

    clock.advance(1);
    assert.deepEqual(versions(manager), [2], "expired keys are not offered even before a tick");
    await manager.tick();
    assert.deepEqual((await store.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version), [2]);
  });
});

Deno.test("at most maxVersions keys stay valid", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const policy = { intervalHours: 1, graceHours: 100, maxVersions: 2 };
    const manager = new NoiseKeyManager({ store, policy, now: clock.now });
    await manager.start();
    for (let i = 0; i < 4; i++) {
      clock.advance(HOUR);
      await manager.tick();
    }
    assert.deepEqual(versions(manager), [5, 4]);
    assert.deepEqual((await store.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version), [5, 4]);
  });
});

Deno.test("two instances ticking at once make exactly one new version", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const a = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    const b = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await a.start();
    await b.start();
    assert.deepEqual(versions(b), [1], "the second instance uses the first one's key");
    clock.advance(10 * HOUR);
    // Watch the inserts to be sure both instances really raced for version 2.
    const attempts: number[] = [];
    const insert = store.insertSecret.bind(store);
    store.insertSecret = (record) => (attempts.push(record.version), insert(record));
    const events = await Promise.all([a.tick(), b.tick()]);
    assert.deepEqual(attempts, [2, 2], "both tried version 2; one lost on the primary key");
    assert.equal(events.filter((e) => e !== null).length, 1);
    assert.deepEqual((await store.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version), [2, 1]);
    assert.equal(toHex(a.newest().publicKey), toHex(b.newest().publicKey));
  });
});

Deno.test("rotateNow forces a version and other instances pick it up on their next tick", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const server = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await server.start();
    const cli = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    const events: NoiseRotationEvent[] = [];
    cli.onRotation((e) => events.push(e));
    const key = await cli.rotateNow();
    assert.equal(key.version, 2);
    assert.equal(events[0].forced, true);
    assert.deepEqual(versions(server), [1]);
    await server.tick();
    assert.deepEqual(versions(server), [2, 1]);
    assert.equal(toHex(server.newest().publicKey), toHex(key.publicKey));
  });
});

Deno.test("a late tick still leaves the newest key usable, then rotates it", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const policy = { intervalHours: 1, graceHours: 0, maxVersions: 3 };
    const manager = new NoiseKeyManager({ store, policy, now: clock.now });
    await manager.start();
    clock.advance(HOUR + 30_000); // past expiry, the tick has not run yet
    assert.deepEqual(versions(manager), [1]);
    await manager.tick();
    assert.deepEqual(versions(manager), [2]);
  });
});

Deno.test("each version has its own ML-DSA-65 identity, which rotates with the Noise key", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await manager.start();
    const first = manager.newest();
    assert.equal(first.pqSigning?.publicKey.length, 1952);
    const rotated = await manager.rotateNow();
    assert.equal(rotated.version, first.version + 1);
    assert.notEqual(toHex(rotated.pqSigning!.publicKey), toHex(first.pqSigning!.publicKey));
    // The previous version keeps its identity through the grace period.
    const [, previous] = manager.active();
    assert.equal(toHex(previous.pqSigning!.publicKey), toHex(first.pqSigning!.publicKey));
    // Another instance derives the same identity from the stored seed.
    const other = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await other.start();
    assert.equal(toHex(other.newest().pqSigning!.publicKey), toHex(rotated.pqSigning!.publicKey));
  });
});

Deno.test("a stored key without a PQ identity (32-byte row) is rotated once at start", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const legacy = new NoiseKeyManager({
      store,
      policy: POLICY,
      now: clock.now,
      pqIdentity: false,
    });
    await legacy.start();
    assert.equal(legacy.newest().pqSigning, null);
    assert.equal((await store.listSecrets(NOISE_SECRET_NAME))[0].secret.length, 32);
    const upgraded = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await upgraded.start();
    assert.deepEqual(versions(upgraded), [2, 1]);
    assert.equal(upgraded.newest().pqSigning?.publicKey.length, 1952);
    assert.equal(upgraded.active()[1].pqSigning, null);
    await upgraded.start(); // nothing more to upgrade
    assert.deepEqual(versions(upgraded), [2, 1]);
  });
});

Deno.test("a version number is never reused, even after every stored key was deleted", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const first = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    await first.start();
    await first.rotateNow();
    const used = (await store.listSecrets(NOISE_SECRET_NAME)).map((r) => r.version);
    assert.deepEqual(used, [2, 1]);
    for (const version of used) await store.deleteSecret(NOISE_SECRET_NAME, version);

    const fresh = new NoiseKeyManager({ store, policy: POLICY, now: clock.now });
    const keys = await fresh.start();
    assert.deepEqual(keys.map((k) => k.version), [3]);
  });
});
