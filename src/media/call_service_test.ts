/** Call state and the SFU as router handlers: who gets media, and what is refused. */
import assert from "node:assert/strict";
import { FrameType, parseControlJson } from "../proto/mod.ts";
import { RouteError } from "../router/mod.ts";
import { answeredCall, type CallHarness, type FakePeer, withCalls } from "./_test_harness.ts";
import { mediaPayload, VideoCodecId } from "./header.ts";

const ENCODED_AUDIO = { ...{}, codec: "opus", bitrate: 16000, sample_rate: 48000, channels: 1 };
const OPUS = (n: number) => mediaPayload(0, 0, new Uint8Array(60).fill(n));
const VP8_KEY = (n: number) => mediaPayload(0, VideoCodecId.vp8, new Uint8Array([0x10, n]));
const VP8_DELTA = (n: number) => mediaPayload(0, VideoCodecId.vp8, new Uint8Array([0x11, n]));

/** A CallOffer body: encoded Opus audio only. */
function audioOffer(callId: string, from: string, to: string[] = []) {
  return { call_id: callId, from, to, media: { audio: ENCODED_AUDIO } };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof RouteError && e.code === code);
}

/** alice, bob, carol on channel `ch`; alice offers call `id` (encoded Opus, VP8 video). */
async function threeParty(h: CallHarness, ch: number, id: string) {
  const [alice, bob, carol] = ["alice", "bob", "carol"].map((d) => h.connect(d));
  await h.send(alice, FrameType.Join, ch, { members: ["bob", "carol"] });
  const reply = await h.send(alice, FrameType.CallOffer, ch, {
    call_id: id,
    from: "alice",
    to: ["bob", "carol"],
    media: {
      audio: ENCODED_AUDIO,
      video: {
        codec: "vp8",
        max_bitrate: 500_000,
        max_resolution: { width: 64, height: 48 },
        frame_rate: 30,
      },
    },
  });
  assert.equal((parseControlJson(reply!.payload) as { call_id: string }).call_id, id);
  return { alice, bob, carol };
}

function payloads(peer: FakePeer, type: FrameType): number[] {
  return peer.of(type).map((f) => f.payload[f.payload.length - 1]);
}

Deno.test("calls: a 3-party call sends media only to accepted participants, never the sender", async () => {
  await withCalls(async (h) => {
    const { alice, bob, carol } = await threeParty(h, 7, "c1");
    assert.equal(bob.of(FrameType.CallOffer).length, 1);
    await h.send(bob, FrameType.CallAnswer, 7, { call_id: "c1", accept: true });
    assert.equal(alice.of(FrameType.CallAnswer).length, 1, "the answer reaches the others");
    const reply = await h.media(alice, FrameType.VoiceFrame, 7, OPUS(1));
    assert.equal(reply?.type, FrameType.Ack, "media gets a plain Ack like any broadcast");
    await h.media(bob, FrameType.VoiceFrame, 7, OPUS(2));
    assert.deepEqual(payloads(bob, FrameType.VoiceFrame), [1]);
    assert.deepEqual(payloads(alice, FrameType.VoiceFrame), [2]);
    assert.deepEqual(payloads(carol, FrameType.VoiceFrame), [], "carol has not accepted");
    // carol is a participant but not accepted: her media is refused.
    await rejects(h.media(carol, FrameType.VoiceFrame, 7, OPUS(3)), "not_member");
    await h.send(carol, FrameType.CallAnswer, 7, { call_id: "c1", accept: true });
    await h.media(alice, FrameType.VoiceFrame, 7, OPUS(4));
    await h.media(bob, FrameType.VoiceFrame, 7, OPUS(5));
    assert.deepEqual(payloads(carol, FrameType.VoiceFrame), [4, 5]);
    assert.deepEqual(payloads(alice, FrameType.VoiceFrame), [2, 5]);
    assert.deepEqual(payloads(bob, FrameType.VoiceFrame), [1, 4]);
    assert.deepEqual(h.ledger.map((e) => e.event), ["offer", "answer", "answer"]);
  });
});

Deno.test("calls: media and call control from outsiders, wrong channels and bad headers are refused", async () => {
  await withCalls(async (h) => {
    const { alice, bob } = await threeParty(h, 8, "c2");
    const mallory = h.connect("mallory");
    await rejects(h.media(mallory, FrameType.VoiceFrame, 8, OPUS(1)), "not_member");
    await rejects(h.media(alice, FrameType.VoiceFrame, 9, OPUS(1)), "no_route");
    await rejects(
      h.send(mallory, FrameType.CallAnswer, 8, { call_id: "c2", accept: true }),
      "not_member",
    );
    await rejects(
      h.send(mallory, FrameType.CallEnd, 8, { call_id: "c2", reason: "hangup" }),
      "not_member",
    );
    // An offer on a channel mallory is not in.
    await rejects(
      h.send(mallory, FrameType.CallOffer, 8, audioOffer("m", "mallory")),
      "not_member",
    );
    // The right call id on the wrong channel.
    await h.send(bob, FrameType.Join, 20, { members: ["alice"] });
    await rejects(
      h.send(bob, FrameType.CallAnswer, 20, { call_id: "c2", accept: true }),
      "invalid_payload",
    );
    await rejects(
      h.send(alice, FrameType.CallOffer, 8, audioOffer("c3", "a")),
      "conflict",
    );
    await rejects(
      h.send(alice, FrameType.CallOffer, 8, audioOffer("", "a")),
      "invalid_payload",
    );
    await h.send(bob, FrameType.CallAnswer, 8, { call_id: "c2", accept: true });
    for (
      const bad of [
        new Uint8Array([1, 0]),
        new Uint8Array([2, 0, 0, 9]),
        new Uint8Array([1, 3, 0, 9]),
        new Uint8Array([1, 0, 2, 9]),
      ]
    ) {
      await rejects(h.media(alice, FrameType.VoiceFrame, 8, bad), "invalid_payload");
    }
    await rejects(
      h.media(alice, FrameType.VideoFrame, 8, new Uint8Array([1, 0, 7, 0])),
      "invalid_payload",
    );
    // RAW audio in a call offered as encoded: refused, nothing forwarded.
    await rejects(
      h.media(alice, FrameType.VoiceFrame, 8, mediaPayload(1, 1, new Uint8Array(1920))),
      "unsupported",
    );
    assert.equal(bob.of(FrameType.VoiceFrame).length, 0);
    assert.equal(mallory.received.length, 0);
  });
});

Deno.test("calls: media is never queued for a participant who is not connected", async () => {
  await withCalls(async (h) => {
    const alice = h.connect("alice");
    const bob = h.connect("bob");
    await h.send(alice, FrameType.Join, 3, { members: ["bob", "dave"] });
    await h.send(alice, FrameType.CallOffer, 3, audioOffer("c", "alice", ["bob", "dave"]));
    await h.send(bob, FrameType.CallAnswer, 3, { call_id: "c", accept: true });
    h.registry.remove(bob); // bob disconnects: he leaves, alice and dave remain
    await h.media(alice, FrameType.VoiceFrame, 3, OPUS(1));
    await h.media(alice, FrameType.VideoFrame, 3, VP8_KEY(1)).catch(() => {});
    const types = [...await h.queued("dave"), ...await h.queued("bob")];
    assert.ok(
      !types.includes(FrameType.VoiceFrame) && !types.includes(FrameType.VideoFrame),
      `queued: ${types}`,
    );
    assert.ok(types.includes(FrameType.CallOffer), "the offer itself waits for dave");
  });
});

for (const oneStepMedia of [false, true]) {
  Deno.test(
    `calls: a slow recipient loses the oldest audio, and video up to the next key frame (${
      oneStepMedia ? "deliverMedia" : "hasRoomForMedia, then deliver"
    })`,
    async () => {
      await withCalls(async (h) => {
        const { alice, bob } = await threeParty(h, 4, "c4");
        await h.send(bob, FrameType.CallAnswer, 4, { call_id: "c4", accept: true });
        const keyRequests = () =>
          alice.of(FrameType.CallStats).filter((f) =>
            (parseControlJson(f.payload) as { keyframe_request?: boolean }).keyframe_request
          ).length;
        assert.equal(keyRequests(), 1, "bob joining asks alice for a key frame");
        await h.media(alice, FrameType.VideoFrame, 4, VP8_DELTA(0));
        assert.equal(
          bob.of(FrameType.VideoFrame).length,
          0,
          "a joiner's video starts at a key frame",
        );
        bob.room = false;
        for (let i = 1; i <= 20; i++) await h.media(alice, FrameType.VoiceFrame, 4, OPUS(i));
        assert.equal(h.sfu.queued("bob"), 4, "4 audio frames queued (test bound)");
        await h.media(alice, FrameType.VideoFrame, 4, VP8_KEY(30));
        await h.media(alice, FrameType.VideoFrame, 4, VP8_DELTA(31));
        await h.media(alice, FrameType.VideoFrame, 4, VP8_DELTA(32)); // over the video bound: all of alice's video goes
        assert.equal(keyRequests(), 2, "skipping video asks for a key frame");
        await h.media(alice, FrameType.VideoFrame, 4, VP8_DELTA(33)); // still skipped: no key frame yet
        await h.media(alice, FrameType.VideoFrame, 4, VP8_KEY(34));
        bob.room = true;
        await new Promise((r) => setTimeout(r, 30)); // the retry timer delivers the queue
        assert.deepEqual(payloads(bob, FrameType.VoiceFrame), [17, 18, 19, 20]);
        assert.deepEqual(payloads(bob, FrameType.VideoFrame), [34]);
      }, { sfuOptions: { maxQueuedAudio: 4, maxQueuedVideo: 2, retryMs: 5 }, oneStepMedia });
    },
  );
}

Deno.test("calls: a participant's disconnect ends a 2-party call with a system CallEnd", async () => {
  await withCalls(async (h) => {
    const { alice, bob } = await answeredCall(h, 5, "d", { audio: ENCODED_AUDIO });
    h.registry.remove(alice);
    await new Promise((r) => setTimeout(r, 0));
    const end = bob.of(FrameType.CallEnd).map((f) => parseControlJson(f.payload));
    assert.deepEqual(end, [{
      call_id: "d",
      reason: "failure",
      metadata: { system: true, cause: "disconnect", device: "alice" },
    }]);
    assert.equal(h.calls.calls.size, 0);
    await rejects(h.media(bob, FrameType.VoiceFrame, 5, OPUS(1)), "no_route");
  });
});

Deno.test("calls: an unanswered offer ends at the ring timeout; hang-up ends it for everyone", async () => {
  await withCalls(async (h) => {
    const { bob } = await threeParty(h, 6, "t");
    await new Promise((r) => setTimeout(r, 40));
    const end = bob.of(FrameType.CallEnd).map((f) =>
      parseControlJson(f.payload) as { reason: string }
    );
    assert.deepEqual(end.map((e) => e.reason), ["timeout"]);
    assert.equal(h.calls.calls.size, 0);
    const { alice } = { alice: h.registry.get("alice")! };
    await h.send(alice as FakePeer, FrameType.CallOffer, 6, audioOffer("t2", "alice"));
    await h.send(bob, FrameType.CallAnswer, 6, { call_id: "t2", accept: true });
    const reply = await h.send(bob, FrameType.CallEnd, 6, { call_id: "t2", reason: "hangup" });
    assert.equal((parseControlJson(reply!.payload) as { reason: string }).reason, "hangup");
    assert.equal(h.calls.calls.size, 0);
  }, { ringTimeoutMs: 10 });
});

Deno.test("calls: per-call and per-server caps refuse an offer with a clear Error", async () => {
  await withCalls(async (h) => {
    const alice = h.connect("alice");
    await h.send(alice, FrameType.Join, 1, { members: ["bob", "carol"] });
    await rejects(
      h.send(alice, FrameType.CallOffer, 1, audioOffer("a", "alice")),
      "unavailable",
    );
    await h.send(alice, FrameType.Join, 2, { members: ["bob"] });
    await h.send(alice, FrameType.Join, 3, { members: ["bob"] });
    await h.send(alice, FrameType.CallOffer, 2, audioOffer("b", "alice"));
    await rejects(
      h.send(alice, FrameType.CallOffer, 3, audioOffer("c", "alice")),
      "unavailable",
    );
    // RAW media with no transcoder on this server: refused at offer time.
    await h.send(alice, FrameType.CallEnd, 2, { call_id: "b", reason: "cancel" });
    await rejects(
      h.send(alice, FrameType.CallOffer, 3, {
        call_id: "r",
        from: "alice",
        to: [],
        media: { audio: { ...ENCODED_AUDIO, source: "raw" } },
      }),
      "unavailable",
    );
  }, { limits: { maxCalls: 1, maxParticipants: 2 } });
});
