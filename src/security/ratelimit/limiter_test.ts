import assert from "node:assert/strict";
import { EVICTION_SCAN, RateLimiter, type RateLimitRule } from "./limiter.ts";
import { rateLimitRules, RateLimits, type RateLimitScope } from "./scopes.ts";

/** A virtual clock: tests move time by hand, nothing sleeps. */
function virtualClock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

Deno.test("limiter: allows up to the burst within a window", () => {
  const clock = virtualClock();
  const limiter = new RateLimiter({ burst: 3, windowMs: 1000, penaltyMs: 5000 }, clock);
  for (let i = 0; i < 3; i++) assert.deepEqual(limiter.check("a"), { allowed: true });
  assert.deepEqual(limiter.check("a"), { allowed: false, retryAfterMs: 5000 });
});

Deno.test("limiter: blocks for the penalty and recovers after it (burst 2, window 50, penalty 80)", () => {
  const clock = virtualClock();
  const limiter = new RateLimiter({ burst: 2, windowMs: 50, penaltyMs: 80 }, clock);
  assert.equal(limiter.check("ip").allowed, true);
  clock.advance(10);
  assert.equal(limiter.check("ip").allowed, true);
  clock.advance(10);
  assert.deepEqual(limiter.check("ip"), { allowed: false, retryAfterMs: 80 }, "blocked");
  clock.advance(30);
  // The hits have left the window, but the block still holds: remaining time.
  assert.deepEqual(limiter.check("ip"), { allowed: false, retryAfterMs: 50 });
  clock.advance(49);
  assert.deepEqual(limiter.check("ip"), { allowed: false, retryAfterMs: 1 });
  clock.advance(1);
  assert.deepEqual(limiter.check("ip"), { allowed: true }, "block ended at exactly 80 ms");
  assert.equal(limiter.check("ip").allowed, true);
  assert.equal(limiter.check("ip").allowed, false, "a fresh burst is limited again");
  assert.deepEqual(limiter.stats(), { keys: 1, allowed: 4, denied: 4, swept: 0, evicted: 0 });
});

Deno.test("limiter: the window slides (hits expire one by one)", () => {
  const clock = virtualClock();
  const limiter = new RateLimiter({ burst: 2, windowMs: 100, penaltyMs: 0 }, clock);
  limiter.check("k");
  clock.advance(60);
  limiter.check("k");
  clock.advance(39);
  assert.equal(limiter.check("k").allowed, false, "both hits still within 100 ms");
  clock.advance(1);
  assert.equal(limiter.check("k").allowed, true, "the first hit is exactly a window old");
  assert.equal(limiter.check("k").allowed, false);
});

Deno.test("limiter: with penalty 0, denies with retry after the window and never blocks", () => {
  const clock = virtualClock();
  const limiter = new RateLimiter({ burst: 1, windowMs: 250, penaltyMs: 0 }, clock);
  assert.equal(limiter.check("k").allowed, true);
  assert.deepEqual(limiter.check("k"), { allowed: false, retryAfterMs: 250 });
  clock.advance(100);
  assert.deepEqual(limiter.check("k"), { allowed: false, retryAfterMs: 250 });
  clock.advance(150);
  assert.equal(limiter.check("k").allowed, true, "no block: allowed once the hit left the window");
});

Deno.test("limiter: separate keys are independent", () => {
  const clock = virtualClock();
  const limiter = new RateLimiter({ burst: 1, windowMs: 1000, penaltyMs: 1000 }, clock);
  assert.equal(limiter.check("a").allowed, true);
  assert.equal(limiter.check("a").allowed, false);
  assert.equal(limiter.check("b").allowed, true, "b has its own budget");
  assert.equal(limiter.check("a").allowed, false, "a is still blocked");
});

Deno.test("limiter: an explicit now overrides the clock", () => {
  const limiter = new RateLimiter({ burst: 1, windowMs: 10, penaltyMs: 0 }, {
    now: () => {
      throw new Error("clock must not be read");
    },
  });
  assert.equal(limiter.check("k", 0).allowed, true);
  assert.equal(limiter.check("k", 5).allowed, false);
  assert.equal(limiter.check("k", 10).allowed, true);
});

Deno.test("limiter: sweep removes idle keys and keeps blocked or recent ones", () => {
  const clock = virtualClock(0);
  const limiter = new RateLimiter({ burst: 1, windowMs: 100, penaltyMs: 1000 }, clock);
  limiter.check("idle");
  limiter.check("blocked");
  limiter.check("blocked");
  clock.advance(90);
  limiter.check("recent");
  clock.advance(10);
  assert.equal(limiter.sweep(), 1, "only 'idle' has been quiet a whole window");
  assert.equal(limiter.size, 2);
  clock.advance(100);
  assert.equal(limiter.sweep(), 1, "'recent' is idle now; 'blocked' is still blocked");
  assert.equal(limiter.check("blocked").allowed, false, "the block survived the sweeps");
  clock.advance(1000);
  assert.equal(limiter.sweep(), 1);
  assert.equal(limiter.size, 0);
  assert.equal(limiter.check("blocked").allowed, true);
});

Deno.test("limiter: sweeps by itself every sweepEvery checks", () => {
  const clock = virtualClock(0);
  const limiter = new RateLimiter({ burst: 5, windowMs: 10, penaltyMs: 0 }, {
    ...clock,
    sweepEvery: 100,
  });
  for (let i = 0; i < 99; i++) limiter.check(`k${i}`);
  assert.equal(limiter.size, 99);
  clock.advance(10);
  limiter.check("trigger");
  assert.equal(limiter.size, 1, "the 100th check swept the 99 idle keys");
  assert.equal(limiter.stats().swept, 99);
});

Deno.test("limiter: the key cap holds under 100k distinct keys", () => {
  const clock = virtualClock(0);
  const maxKeys = 1_000;
  const limiter = new RateLimiter({ burst: 2, windowMs: 60_000, penaltyMs: 60_000 }, {
    ...clock,
    maxKeys,
  });
  let peak = 0;
  for (let i = 0; i < 100_000; i++) {
    // An attacker rotating addresses, all within one window: nothing is idle.
    assert.equal(limiter.check(`198.51.${i >> 8}.${i & 255}#${i}`).allowed, true);
    peak = Math.max(peak, limiter.size);
  }
  assert.equal(peak, maxKeys);
  assert.equal(limiter.stats().evicted, 100_000 - maxKeys);
});

Deno.test("limiter: at the cap, idle keys go first and a busy client keeps its block", () => {
  const clock = virtualClock(0);
  const limiter = new RateLimiter({ burst: 1, windowMs: 100, penaltyMs: 10_000 }, {
    ...clock,
    maxKeys: 4,
  });
  limiter.check("quiet");
  limiter.check("abuser");
  limiter.check("abuser");
  clock.advance(200); // "quiet" is idle now; "abuser" is blocked
  limiter.check("x1");
  limiter.check("x2");
  limiter.check("x3"); // at the cap: the idle "quiet" goes, not "abuser"
  assert.equal(limiter.stats().swept, 1);
  assert.equal(limiter.stats().evicted, 0);
  assert.equal(limiter.check("abuser").allowed, false);
  // Nothing idle now: the least recently checked keys are forgotten, not "abuser",
  // which has just been checked.
  limiter.check("x4");
  limiter.check("x5");
  assert.equal(limiter.stats().evicted, 2);
  assert.equal(limiter.check("abuser").allowed, false, "still blocked");
  assert.equal(limiter.size, 4);
});

Deno.test("limiter: the admission scan at the cap is bounded", () => {
  const clock = virtualClock(0);
  const limiter = new RateLimiter({ burst: 1, windowMs: 100, penaltyMs: 0 }, {
    ...clock,
    maxKeys: EVICTION_SCAN * 4,
    sweepEvery: 1_000_000,
  });
  for (let i = 0; i < EVICTION_SCAN * 4; i++) limiter.check(`old${i}`);
  clock.advance(100); // all idle
  limiter.check("new");
  assert.equal(limiter.stats().swept, EVICTION_SCAN, "only the scanned prefix was dropped");
  assert.equal(limiter.size, EVICTION_SCAN * 3 + 1);
});

Deno.test("limiter: a large burst costs memory only as hits arrive", () => {
  const clock = virtualClock(0);
  const limiter = new RateLimiter({ burst: 1_000_000, windowMs: 1000, penaltyMs: 0 }, clock);
  for (let i = 0; i < 5; i++) assert.equal(limiter.check("k").allowed, true);
  const small = new RateLimiter({ burst: 3, windowMs: 1000, penaltyMs: 0 }, clock);
  for (let i = 0; i < 3; i++) assert.equal(small.check("k").allowed, true);
  assert.equal(small.check("k").allowed, false, "the ring grows to exactly the burst");
});

Deno.test("limiter: bad rules and options are RangeErrors naming the field", () => {
  const ok: RateLimitRule = { burst: 1, windowMs: 1, penaltyMs: 0 };
  const cases: [RateLimitRule, RegExp][] = [
    [{ ...ok, burst: 0 }, /burst/],
    [{ ...ok, burst: 1.5 }, /burst/],
    [{ ...ok, windowMs: 0 }, /windowMs/],
    [{ ...ok, windowMs: Infinity }, /windowMs/],
    [{ ...ok, penaltyMs: -1 }, /penaltyMs/],
    [{ ...ok, penaltyMs: NaN }, /penaltyMs/],
  ];
  for (const [rule, message] of cases) {
    assert.throws(
      () => new RateLimiter(rule),
      (e) => e instanceof RangeError && message.test(e.message),
    );
  }
  assert.throws(() => new RateLimiter(ok, { maxKeys: 0 }), /maxKeys/);
  assert.throws(() => new RateLimiter(ok, { sweepEvery: 0 }), /sweepEvery/);
  assert.throws(() => new RateLimiter(ok).check("k", NaN), RangeError);
});

Deno.test("limits: three scopes from the flat config shape, each its own budget", () => {
  const clock = virtualClock(0);
  const denials: [RateLimitScope, number][] = [];
  const limits = new RateLimits(
    rateLimitRules({
      httpBurst: 2,
      httpWindowMs: 1000,
      httpPenaltyMs: 10_000,
      connectBurst: 1,
      connectWindowMs: 1000,
      connectPenaltyMs: 30_000,
      pairingBurst: 1,
      pairingWindowMs: 60_000,
      pairingPenaltyMs: 0,
    }),
    { ...clock, onDenied: (scope, ms) => denials.push([scope, ms]) },
  );
  assert.deepEqual(limits.http.rule, { burst: 2, windowMs: 1000, penaltyMs: 10_000 });
  assert.equal(limits.check("connect", "ip").allowed, true);
  assert.equal(limits.check("connect", "ip").allowed, false);
  assert.equal(limits.check("http", "ip").allowed, true, "http is unaffected by connect");
  assert.equal(limits.check("pairing", "ip").allowed, true);
  assert.equal(limits.check("pairing", "ip").allowed, false);
  assert.deepEqual(denials, [["connect", 30_000], ["pairing", 60_000]]);
  assert.equal(limits.stats().connect.denied, 1);
  clock.advance(20_000);
  assert.equal(limits.sweep(), 1, "http is idle; connect is blocked and pairing in its window");
  clock.advance(40_000);
  assert.equal(limits.sweep(), 2);
});
