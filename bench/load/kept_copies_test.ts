import assert from "node:assert/strict";
import { CommuCatClient } from "../../src/client/mod.ts";
import { toHex } from "../../src/crypto/mod.ts";
import { befriend } from "../../tests/helpers/api.ts";
import { connectOptions, newDevice } from "../../tests/helpers/devices.ts";
import { startTestServer } from "../../tests/helpers/inprocess.ts";
import type { TargetJson } from "./agent.ts";
import {
  bothHooks,
  keptBetween,
  keptCopiesHooks,
  keptCopiesNote,
  readKeptCounts,
} from "./kept_copies.ts";
import type { TrafficSummary } from "./report_types.ts";

Deno.test("kept copies: the difference of two readings and the written share", () => {
  const before = { written: 10, acknowledgedInWindow: 90 };
  assert.deepEqual(keptBetween(before, { written: 40, acknowledgedInWindow: 180 }), {
    written: 30,
    acknowledgedInWindow: 90,
    writtenShare: 0.25,
  });
  assert.equal(keptBetween(before, before)?.writtenShare, null, "nothing settled: no share");
  assert.equal(keptBetween(null, before), undefined, "an unreadable /healthz: no figure");
});

Deno.test("bothHooks: each hook's start, end and stop, in order; an absent first one skipped", async () => {
  const calls: string[] = [];
  const hooks = (name: string, withEnd: boolean) => ({
    start: () => void calls.push(`${name}.start`),
    ...(withEnd ? { end: () => void calls.push(`${name}.end`) } : {}),
    stop: () => Promise.resolve(void calls.push(`${name}.stop`)),
  });
  const both = bothHooks(hooks("a", true), hooks("b", true));
  both.start();
  both.end?.();
  await both.stop();
  // A perf-stat counter (the first hook) ends with the window, not after the drain.
  assert.deepEqual(calls, ["a.start", "b.start", "a.end", "b.end", "a.stop", "b.stop"]);
  calls.length = 0;
  const only = bothHooks(undefined, hooks("b", false));
  only.start();
  only.end?.();
  await only.stop();
  assert.deepEqual(calls, ["b.start", "b.stop"]);
});

Deno.test("kept copies: the report's note names each phase that has the figure", () => {
  const phase = (keptCopies?: TrafficSummary["keptCopies"]) =>
    ({ keptCopies }) as unknown as TrafficSummary;
  const note = keptCopiesNote([
    ["pairs, max", phase({ written: 1_500, acknowledgedInWindow: 8_500, writtenShare: 0.15 })],
    ["pairs, 50%", phase({ written: 0, acknowledgedInWindow: 0, writtenShare: null })],
    ["direct", phase()],
    ["absent", undefined],
  ]);
  assert.match(note ?? "", /pairs, max: 15\.0% written \(1,500 written, 8,500 acknowledged/);
  assert.match(note ?? "", /pairs, 50%: – written \(0 written, 0 acknowledged/);
  assert.doesNotMatch(note ?? "", /direct|absent/);
  assert.equal(keptCopiesNote([["direct", phase()]]), null);
});

Deno.test("kept copies: one live delivery of a real server settles as exactly one copy", async () => {
  const srv = await startTestServer();
  const target: TargetJson = {
    url: srv.url,
    domain: srv.domain,
    noisePublicHex: toHex(srv.noisePublic),
    certificatePem: srv.certificatePem,
  };
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  const a = await CommuCatClient.connect(connectOptions(srv, alice));
  const b = await CommuCatClient.connect(connectOptions(srv, bob));
  try {
    await befriend(srv, a, b);
    await a.join(7, [bob.deviceId]);
    const kept = keptCopiesHooks(target);
    kept.hooks.start();
    // The start reading must be in before the copy can settle, or it already counts the copy.
    await kept.started();
    await a.send(7, "kept?");
    assert.ok(await b.next());
    // The copy settles when bob's acknowledgement arrives or the window ends (then it is written).
    const start = await readKeptCounts(target);
    assert.ok(start, "/healthz has the kept-copy counters");
    for (let i = 0; i < 100; i++) {
      const now = await readKeptCounts(target);
      if (now && now.written + now.acknowledgedInWindow > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await kept.hooks.stop();
    const summary = kept.result();
    assert.ok(summary, "both readings succeeded");
    assert.equal(summary.written + summary.acknowledgedInWindow, 1);
    assert.equal(summary.writtenShare, summary.written);
  } finally {
    a.close();
    b.close();
    await srv.stop();
  }
});
