import assert from "node:assert/strict";
import { toHex, utf8 } from "../../crypto/mod.ts";
import { testClock, withStore } from "./_test_utils.ts";
import {
  ADMIN_SECRET_NAME,
  type AdminRotationPolicy,
  AdminTokenManager,
  hashToken,
  type IssuedAdminToken,
} from "./mod.ts";

const HOUR = 3_600_000;
const ON: AdminRotationPolicy = { enabled: true, intervalHours: 10, graceHours: 5, maxVersions: 2 };
const OFF: AdminRotationPolicy = { ...ON, enabled: false };

Deno.test("bootstrap stores the configured token hashed, and only into an empty table", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new AdminTokenManager({ store, policy: ON, now: clock.now });
    const configured = "configured-admin-token-0123456789";
    assert.equal(await manager.bootstrap(configured), null);
    assert.equal(await manager.verify(configured), true);
    const [row] = await store.listSecrets(ADMIN_SECRET_NAME);
    assert.equal(row.public?.length, 16);
    assert.equal(toHex(row.secret), toHex(hashToken(row.public!, configured)));
    assert.equal(row.secret.length, 32);
    assert.equal(toHex(row.secret).includes(toHex(utf8(configured))), false);
    assert.equal(row.expiresAt.getTime(), clock.t + 15 * HOUR, "enabled: interval + grace");
    // A second start does not add another token.
    assert.equal(await manager.bootstrap(configured), null);
    assert.equal(await manager.bootstrap("another-configured-token-xyz"), null);
    assert.equal((await store.listSecrets(ADMIN_SECRET_NAME)).length, 1);
    assert.equal(await manager.verify("another-configured-token-xyz"), false);
  });
});

Deno.test("bootstrap without a configured token generates one and returns it once", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new AdminTokenManager({ store, policy: OFF, now: clock.now });
    const token = await manager.bootstrap();
    assert.match(token ?? "", /^[0-9a-f]{64}$/);
    assert.equal(await manager.verify(token!), true);
    assert.equal(await manager.bootstrap(), null, "never shown again");
    const [info] = await manager.list();
    assert.equal(info.kind, "generated");
    assert.ok(info.expiresAt.getTime() - clock.t > 99 * 365 * 24 * HOUR, "disabled: ~forever");
  });
});

Deno.test("verify rejects wrong, revoked and expired tokens", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new AdminTokenManager({ store, policy: OFF, now: clock.now });
    const generated = (await manager.bootstrap())!;
    const ops = await manager.create("ops", 2);
    const ci = await manager.create("ci");
    assert.equal(await manager.verify(ops.token), true);
    assert.equal(await manager.verify(ci.token), true);
    // One character changed (a fixed "0" would be no change for 1 token in 16).
    const last = ops.token.at(-1) === "0" ? "1" : "0";
    assert.equal(await manager.verify(ops.token.slice(0, -1) + last), false);
    assert.equal(await manager.verify(""), false);
    assert.equal(await manager.verify("x".repeat(5000)), false);

    assert.equal(await manager.revoke(ci.version), true);
    assert.equal(await manager.verify(ci.token), false);
    assert.equal(await manager.revoke(ci.version), false);

    clock.advance(2 * HOUR);
    assert.equal(await manager.verify(ops.token), false, "past its ttl");
    assert.equal(await manager.verify(generated), true);
  });
});

Deno.test("list shows versions, labels and times but never secrets", async () => {
  await withStore(async (store) => {
    const manager = new AdminTokenManager({ store, policy: OFF });
    const generated = (await manager.bootstrap())!;
    const created = await manager.create("deploy bot", 24);
    const list = await manager.list();
    assert.deepEqual(list.map((t) => [t.version, t.kind, t.label, t.active]), [
      [2, "manual", "deploy bot", true],
      [1, "generated", null, true],
    ]);
    const text = JSON.stringify(list);
    const rows = await store.listSecrets(ADMIN_SECRET_NAME);
    for (const secret of [generated, created.token, ...rows.map((r) => toHex(r.secret))]) {
      assert.equal(text.includes(secret), false);
    }
    assert.deepEqual(Object.keys(list[0]).sort(), [
      "active",
      "createdAt",
      "expiresAt",
      "kind",
      "label",
      "rotatesAt",
      "validAfter",
      "version",
    ]);
  });
});

Deno.test("rotation issues a new token through the callback and keeps maxVersions", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const delivered: IssuedAdminToken[] = [];
    const manager = new AdminTokenManager({
      store,
      policy: ON,
      now: clock.now,
      deliverToken: (t) => delivered.push(t),
    });
    const events: number[] = [];
    manager.onRotation((e) => events.push(e.version));
    const first = "configured-admin-token-0123456789";
    await manager.bootstrap(first);
    const manual = await manager.create("manual", 1000);

    clock.advance(10 * HOUR - 1);
    assert.equal(await manager.tick(), null);
    clock.advance(1);
    assert.equal((await manager.tick())?.version, 3);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].kind, "rotated");
    assert.equal(await manager.verify(delivered[0].token), true);
    assert.equal(await manager.verify(first), true, "old token valid during its grace");

    clock.advance(5 * HOUR);
    assert.equal(await manager.verify(first), false, "and not after");

    clock.advance(5 * HOUR);
    await manager.tick(); // version 4
    clock.advance(10 * HOUR);
    await manager.tick(); // version 5: version 3 is beyond maxVersions = 2
    assert.deepEqual(events, [3, 4, 5]);
    const active = (await manager.list()).filter((t) => t.active).map((t) => t.version);
    assert.deepEqual(active, [5, 4, 2], "manual tokens are not counted or rotated");
    assert.equal(await manager.verify(delivered[0].token), false);
    assert.equal(await manager.verify(manual.token), true);
  });
});

Deno.test("rotation disabled: tick only removes expired tokens", async () => {
  await withStore(async (store) => {
    const clock = testClock();
    const manager = new AdminTokenManager({ store, policy: OFF, now: clock.now });
    await manager.bootstrap();
    const short = await manager.create(null, 1);
    clock.advance(1000 * HOUR);
    assert.equal(await manager.tick(), null);
    const versions = (await manager.list()).map((t) => t.version);
    assert.equal(versions.includes(short.version), false);
    assert.equal(versions.length, 1);
  });
});

Deno.test("two instances bootstrapping at once keep a single generated token", async () => {
  await withStore(async (store) => {
    const a = new AdminTokenManager({ store, policy: OFF });
    const b = new AdminTokenManager({ store, policy: OFF });
    const tokens = await Promise.all([a.bootstrap(), b.bootstrap()]);
    const shown = tokens.filter((t) => t !== null);
    assert.equal(shown.length, 1);
    assert.equal((await store.listSecrets(ADMIN_SECRET_NAME)).length, 1);
    assert.equal(await b.verify(shown[0]!), true);
  });
});

Deno.test("a revoked token's version is never issued again (#19 §3)", async () => {
  await withStore(async (store) => {
    const manager = new AdminTokenManager({ store, policy: OFF });
    await manager.bootstrap("configured-admin-token-0123456789"); // version 1
    const ops = await manager.create("ops"); // version 2
    assert.equal(ops.version, 2);
    assert.equal(await manager.revoke(ops.version), true);
    const next = await manager.create("next");
    assert.equal(next.version, 3, "not 2 again");
    // Revoke every token, then a restart bootstraps: still a new number.
    assert.equal(await manager.revoke(1), true);
    assert.equal(await manager.revoke(3), true);
    assert.deepEqual(await manager.list(), []);
    const restarted = new AdminTokenManager({ store, policy: OFF });
    const generated = await restarted.bootstrap();
    assert.ok(generated !== null);
    assert.deepEqual((await restarted.list()).map((t) => t.version), [4]);
    assert.equal(await restarted.verify(ops.token), false, "the old version 2 token stays dead");
  });
});
