/**
 * Conformance cases for federation peers and the federation outbox.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { FederationOutboxRecord, FederationPeerRecord } from "../store.ts";
import type { ConformanceCase } from "./mod.ts";
import { assertSame, at, bytes, T0 } from "./fixtures.ts";

function peer(domain: string, overrides: Partial<FederationPeerRecord> = {}) {
  return {
    domain,
    endpoint: `https://${domain}:8443`,
    publicKey: bytes(...new Array(32).fill(domain.length)),
    status: "active" as const,
    updatedAt: T0,
    ...overrides,
  };
}

function entry(
  outboxId: string,
  seconds: number,
  overrides: Partial<FederationOutboxRecord> = {},
): Omit<FederationOutboxRecord, "attempts" | "lastError"> {
  return {
    outboxId,
    destinationDomain: "b.example",
    endpoint: "https://b.example:8443",
    payload: `{"event":{"event_id":"${outboxId}","n":1.5},"signature":[1,2]}`,
    publicKey: bytes(...new Array(32).fill(7)),
    nextAttemptAt: at(seconds),
    createdAt: at(seconds),
    ...overrides,
  };
}

/** Federation peers and outbox. */
export const federationCases: ConformanceCase[] = [
  {
    name: "federation peers: upsert, get, list by domain, replace, delete",
    fn: async (store) => {
      assert.deepEqual(await store.listFederationPeers(), []);
      assert.equal(await store.getFederationPeer("b.example"), null);
      await store.upsertFederationPeer(peer("c.example", { status: "pending" }));
      await store.upsertFederationPeer(peer("b.example"));
      assertSame(await store.getFederationPeer("b.example"), peer("b.example"));
      assertSame((await store.listFederationPeers()).map((p) => p.domain), [
        "b.example",
        "c.example",
      ]);
      await store.upsertFederationPeer(
        peer("b.example", { status: "blocked", endpoint: "https://x", updatedAt: at(5) }),
      );
      assertSame(
        await store.getFederationPeer("b.example"),
        peer("b.example", { status: "blocked", endpoint: "https://x", updatedAt: at(5) }),
      );
      assert.equal(await store.deleteFederationPeer("b.example"), true);
      assert.equal(await store.deleteFederationPeer("b.example"), false);
      assertSame((await store.listFederationPeers()).map((p) => p.domain), ["c.example"]);
    },
  },
  {
    name: "federation outbox: enqueue keeps the payload's JSON value; duplicate id is a conflict",
    fn: async (store) => {
      await store.enqueueFederationOutbox(entry("o1", 0));
      const [row] = await store.listFederationOutbox(10);
      assertSame({ ...row, payload: "" }, {
        ...entry("o1", 0),
        payload: "",
        attempts: 0,
        lastError: null,
      });
      // PostgreSQL's JSONB may reorder keys and whitespace, never values.
      assert.deepEqual(JSON.parse(row.payload), JSON.parse(entry("o1", 0).payload));
      assert.match(row.payload, /1\.5/);
      await assert.rejects(store.enqueueFederationOutbox(entry("o1", 1)));
    },
  },
  {
    name: "federation outbox: claim leases due entries oldest first, once per lease",
    fn: async (store) => {
      await store.enqueueFederationOutbox(entry("late", 100));
      await store.enqueueFederationOutbox(entry("b", 2));
      await store.enqueueFederationOutbox(entry("a", 1));
      await store.enqueueFederationOutbox(entry("c", 3));
      const first = await store.claimFederationOutbox(at(10), 30_000, 2);
      assert.deepEqual(first.map((r) => r.outboxId), ["a", "b"]);
      for (const r of first) {
        assert.equal(r.attempts, 1);
        assert.equal(r.nextAttemptAt.getTime(), at(40).getTime());
      }
      // Leased entries are not claimed again; the rest is.
      const second = await store.claimFederationOutbox(at(10), 30_000, 10);
      assert.deepEqual(second.map((r) => r.outboxId), ["c"]);
      assert.deepEqual(await store.claimFederationOutbox(at(10), 30_000, 10), []);
      // After the lease runs out they come back, attempts counted.
      const third = await store.claimFederationOutbox(at(40), 1_000, 10);
      assert.deepEqual(third.map((r) => [r.outboxId, r.attempts]), [["a", 2], ["b", 2], ["c", 2]]);
    },
  },
  {
    name: "federation outbox: fail reschedules with the error, complete removes",
    fn: async (store) => {
      await store.enqueueFederationOutbox(entry("x", 0));
      await store.claimFederationOutbox(at(0), 60_000, 10);
      assert.equal(await store.failFederationOutbox("x", "HTTP 503", at(5)), true);
      const [row] = await store.listFederationOutbox(10);
      assert.equal(row.lastError, "HTTP 503");
      assert.equal(row.nextAttemptAt.getTime(), at(5).getTime());
      assert.equal(row.attempts, 1);
      assert.deepEqual(await store.claimFederationOutbox(at(4), 1_000, 10), []);
      assert.equal((await store.claimFederationOutbox(at(5), 1_000, 10)).length, 1);
      assert.equal(await store.completeFederationOutbox("x"), true);
      assert.equal(await store.completeFederationOutbox("x"), false);
      assert.equal(await store.failFederationOutbox("x", "gone", at(9)), false);
      assert.deepEqual(await store.listFederationOutbox(10), []);
    },
  },
];
