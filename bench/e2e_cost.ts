/**
 * Server cost of an end-to-end encrypted message against a plaintext one
 * (issue 20: "the server's cost per E2E message stays within 10% of a
 * plaintext one"). Starts the real server (`main.ts serve`, its own
 * process), connects `--pairs` pairs of SDK clients here, and sends rounds
 * of Msg frames one way through each pair: plaintext-mode 100 B texts, and
 * the same texts end to end — real MLS PrivateMessages (ts-mls, suite 83
 * X-Wing as the clients use it, padded and marked as src/e2e does). The
 * server's CPU (from /proc) over each round, divided by the messages
 * delivered, is its cost per message; rounds alternate the two kinds so
 * drift on a shared machine hits both alike. Prints the medians and their
 * ratio as JSON.
 *
 *   scripts/deno run -A bench/e2e_cost.ts [--pairs 20] [--messages 4000] [--rounds 6]
 *     [--window 8] [--rate 0]   (rate: messages per second per pair; 0 = as fast as the window allows)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createApplicationMessage } from "ts-mls/createMessage.js";
import { createGroup, joinGroup } from "ts-mls/clientState.js";
import { createCommit } from "ts-mls/createCommit.js";
import { generateKeyPackage } from "ts-mls/keyPackage.js";
import { encodeMlsMessage } from "ts-mls/message.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { defaultLifetime } from "ts-mls/lifetime.js";
import { emptyPskIndex } from "ts-mls/pskIndex.js";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromHex, generateDeviceKeys, utf8 } from "../src/crypto/mod.ts";
import { e2eSuite, padApplication, wrapMls } from "../src/e2e/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { readCpuSeconds } from "./load/procfs.ts";
import { spawnCommuCat } from "./load/spawn.ts";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "20" },
    messages: { type: "string", default: "4000" },
    rounds: { type: "string", default: "6" },
    window: { type: "string", default: "8" },
    rate: { type: "string", default: "0" },
  },
});
const PAIRS = Number(values.pairs);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const WINDOW = Number(values.window);
/** Messages per second per pair; 0 = as fast as the window allows. */
const RATE = Number(values.rate);
const TEXT_BYTES = 100;

/** `count` distinct MLS application messages of 100 B texts, as E2E Msg payloads. */
async function e2ePayloads(count: number): Promise<Uint8Array[]> {
  const cs = await e2eSuite();
  const credential = (id: string) => ({ credentialType: "basic" as const, identity: utf8(id) });
  const a = await generateKeyPackage(
    credential("a"),
    defaultCapabilities(),
    defaultLifetime,
    [],
    cs,
  );
  const b = await generateKeyPackage(
    credential("b"),
    defaultCapabilities(),
    defaultLifetime,
    [],
    cs,
  );
  let state = await createGroup(utf8("bench"), a.publicPackage, a.privatePackage, [], cs);
  const commit = await createCommit({ state, cipherSuite: cs }, {
    extraProposals: [{ proposalType: "add", add: { keyPackage: b.publicPackage } }],
  });
  state = commit.newState;
  // Bob joins so the group is a real two-member one (the sender's ratchet advances as in use).
  await joinGroup(
    commit.welcome!,
    b.publicPackage,
    b.privatePackage,
    emptyPskIndex,
    cs,
    state.ratchetTree,
  );
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const text = utf8(`message ${i} `.padEnd(TEXT_BYTES, "x"));
    const sealed = await createApplicationMessage(state, padApplication(text), cs);
    state = sealed.newState;
    out.push(wrapMls(encodeMlsMessage({
      version: "mls10",
      wireformat: "mls_private_message",
      privateMessage: sealed.privateMessage,
    })));
  }
  return out;
}

function plainPayloads(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => utf8(`message ${i} `.padEnd(TEXT_BYTES, "x")));
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

const server = await spawnCommuCat();
const clients: CommuCatClient[] = [];
try {
  const t = server.target;
  const options = (i: number) => {
    const keys = generateDeviceKeys();
    return {
      url: t.url,
      domain: t.domain,
      serverStatic: fromHex(t.noisePublicHex, 32),
      deviceId: `bench-${i}-${crypto.randomUUID().slice(0, 8)}`,
      devicePrivateKey: keys.privateKey,
      user: { handle: `bench_${i}_${crypto.randomUUID().slice(0, 8)}` },
      caCerts: [t.certificatePem],
    };
  };
  const http = Deno.createHttpClient({ caCerts: [t.certificatePem] });
  const befriend = async (a: CommuCatClient, b: CommuCatClient) => {
    for (
      const [path, as] of [[`/api/friends/requests/${b.session.userId}`, a], [
        `/api/friends/requests/${a.session.userId}/accept`,
        b,
      ]] as const
    ) {
      const response = await fetch(`${t.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${as.session.sessionId}` },
        client: http,
      });
      if (!response.ok) {
        throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
      }
    }
  };
  const pairs: { tx: CommuCatClient; rx: CommuCatClient; channel: number }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const tx = await CommuCatClient.connect(options(2 * i));
    const rxOptions = options(2 * i + 1);
    const rx = await CommuCatClient.connect(rxOptions);
    clients.push(tx, rx);
    await befriend(tx, rx);
    const channel = 1000 + i;
    await tx.join(channel, [rxOptions.deviceId]);
    pairs.push({ tx, rx, channel });
  }
  http.close();
  const perPair = Math.ceil(MESSAGES / PAIRS);
  const e2e = await e2ePayloads(perPair);
  const kinds = {
    plaintext: plainPayloads(perPair),
    e2e,
    // Plaintext mode at the E2E size: separates the cost of size from anything else.
    sized: e2e.map((p) => crypto.getRandomValues(new Uint8Array(p.length)).fill(0x61, 0, 5)),
  };
  const sizes = {
    plaintext: kinds.plaintext[0].length,
    e2e: Math.round(kinds.e2e.reduce((s, p) => s + p.length, 0) / kinds.e2e.length),
  };

  /** Sends `payloads` through every pair; resolves when every receiver has them all. */
  const round = async (payloads: Uint8Array[]): Promise<number> => {
    const cpu0 = readCpuSeconds(server.pid);
    await Promise.all(pairs.map(async ({ tx, rx, channel }) => {
      const received = (async () => {
        let n = 0;
        while (n < payloads.length) {
          const frame = await rx.next();
          if (frame === null) throw new Error("receiver closed");
          if (frame.type === FrameType.Msg && frame.channel === channel) n++;
        }
      })();
      const inFlight = new Set<Promise<unknown>>();
      const start = performance.now();
      for (const [i, payload] of payloads.entries()) {
        if (RATE > 0) {
          const due = start + (i * 1000) / RATE - performance.now();
          if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        }
        const sent = tx.send(channel, payload).finally(() => inFlight.delete(sent));
        inFlight.add(sent);
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await received;
    }));
    const cpu1 = readCpuSeconds(server.pid);
    return (cpu1 - cpu0) / (payloads.length * pairs.length) * 1e6;
  };

  await round(kinds.plaintext.slice(0, 50)); // warm-up: JIT, statement caches
  await round(kinds.e2e.slice(0, 50));
  const samples: Record<keyof typeof kinds, number[]> = { plaintext: [], e2e: [], sized: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0
      ? ["plaintext", "e2e", "sized"] as const
      : ["sized", "e2e", "plaintext"] as const;
    for (const kind of order) samples[kind].push(await round(kinds[kind]));
  }
  const plain = median(samples.plaintext);
  const e2eCost = median(samples.e2e);
  console.log(JSON.stringify(
    {
      pairs: PAIRS,
      messagesPerRound: perPair * PAIRS,
      rounds: ROUNDS,
      ratePerPair: RATE || "max",
      payloadBytes: sizes,
      serverCpuMicrosecondsPerMessage: {
        plaintext: Math.round(plain),
        e2e: Math.round(e2eCost),
        sizedPlaintext: Math.round(median(samples.sized)),
        samples,
      },
      ratio: Number((e2eCost / plain).toFixed(3)),
    },
    null,
    2,
  ));
} finally {
  for (const c of clients) c.close();
  await server.stop();
}
