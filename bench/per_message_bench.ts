/**
 * Per-message pieces of the 1:1 delivery path (issue 18):
 * `scripts/deno bench bench/per_message_bench.ts`. Each is run once per
 * delivered message (or per Ack) on the server; compare a base checkout
 * against a branch with the same file.
 */
import { parseControlJson } from "../src/proto/json.ts";
import { ReachCache } from "../src/router/reach_cache.ts";
import { cumulativeAckFrame } from "../src/session/owed_acks.ts";
import { KeptCopies } from "../src/router/kept_copies.ts";
import { KeptIds } from "../src/router/kept_ids.ts";

const ackBytes = new TextEncoder().encode('{"ack":123456}');
let sink = 0;

Deno.bench("parse a plain Ack payload", () => {
  sink += (parseControlJson(ackBytes) as { ack: number }).ack;
});

const reach = new ReachCache();
for (let u = 0; u < 1000; u++) reach.add(`user-${u}`, `device-${u}-a`);
const users = Array.from({ length: 1000 }, (_, u) => `user-${u}`);
const devices = Array.from({ length: 1000 }, (_, u) => `device-${(u + 1) % 1000}-a`);
let turn = 0;

Deno.bench("reach cache lookup (user → device)", () => {
  const i = turn++ % 1000;
  if (reach.has(users[i], devices[(i + 999) % 1000])) sink++;
});

let upTo = 1_000_000;
Deno.bench("cumulative Ack frame", () => {
  sink += cumulativeAckFrame(upTo++).payload.length;
});

// The durable-copy window: a copy kept per live delivery, acknowledged ~200 copies later.
function keptCopies(numericKeys: boolean): () => void {
  const ids = new KeptIds();
  const window = new KeptCopies({
    delayMs: 3_600_000,
    write: () => Promise.resolve(),
    keyOf: numericKeys ? (id) => ids.keyOf(id) : undefined,
  });
  const payload = new Uint8Array(64);
  const lag: string[] = [];
  return () => {
    const envelopeId = ids.next();
    window.keep({ envelopeId, deviceId: "d1", payload, keptAt: 0, connectionId: "c1" });
    lag.push(envelopeId);
    if (lag.length > 200 && window.acknowledge(lag.shift()!)) sink++;
  };
}
Deno.bench(
  "kept copy: keep, acknowledge (string keys)",
  { group: "kept", baseline: true },
  keptCopies(false),
);
Deno.bench("kept copy: keep, acknowledge (numeric keys)", { group: "kept" }, keptCopies(true));

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
