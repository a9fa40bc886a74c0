/**
 * CCP-1 codec benchmarks: `scripts/deno bench bench/proto_bench.ts`.
 */
import {
  controlFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
} from "../src/proto/mod.ts";

const msg100: Frame = {
  type: FrameType.Msg,
  channel: 42,
  sequence: 1000,
  payload: new Uint8Array(100).fill(7),
};
const msg100Bytes = encodeFrame(msg100);

// A ~1 KiB control payload.
const control1k = controlFrame(FrameType.GroupEvent, 42, 1000, {
  group_id: "g".repeat(64),
  event: "update",
  members: Array.from({ length: 24 }, (_, i) => `device-${i.toString().padStart(24, "0")}`),
});
const control1kBytes = encodeFrame(control1k);

const stream1000 = (() => {
  const parts = Array.from(
    { length: 1000 },
    (_, i) =>
      encodeFrame(
        i % 4 === 0 ? controlFrame(FrameType.Ack, 0, i, { ack: i }) : { ...msg100, sequence: i },
      ),
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
})();

Deno.bench("encode Msg 100 B", { group: "msg100", baseline: true }, () => {
  encodeFrame(msg100);
});

Deno.bench("decode Msg 100 B", { group: "msg100" }, () => {
  decodeFrame(msg100Bytes);
});

Deno.bench(
  `encode control ${control1k.payload.length} B`,
  { group: "control1k", baseline: true },
  () => {
    encodeFrame(control1k);
  },
);

Deno.bench(`decode control ${control1k.payload.length} B`, { group: "control1k" }, () => {
  decodeFrame(control1kBytes);
});

Deno.bench("FrameDecoder: 1000 frames in one chunk", { group: "stream" }, () => {
  const frames = new FrameDecoder().push(stream1000);
  if (frames.length !== 1000) throw new Error("lost frames");
});

Deno.bench("FrameDecoder: 1000 frames in 1460 B chunks", { group: "stream" }, () => {
  const decoder = new FrameDecoder();
  let count = 0;
  for (let i = 0; i < stream1000.length; i += 1460) {
    count += decoder.push(stream1000.subarray(i, i + 1460)).length;
  }
  if (count !== 1000) throw new Error("lost frames");
});
