/**
 * A minimal Ogg Opus writer (RFC 7845): OpusHead, OpusTags, then one page
 * per packet with its granule position, so `opusdec` and `ffmpeg` can read
 * what the server encoded (tests; the CLI writes received calls with it).
 *
 * @module
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

function crc(bytes: Uint8Array): number {
  let c = 0;
  for (const b of bytes) c = ((c << 8) ^ CRC_TABLE[((c >>> 24) ^ b) & 0xff]) >>> 0;
  return c;
}

function page(packet: Uint8Array, granule: bigint, sequence: number, flags: number): Uint8Array {
  const lacing: number[] = [];
  let left = packet.length;
  while (left >= 255) {
    lacing.push(255);
    left -= 255;
  }
  lacing.push(left);
  const out = new Uint8Array(27 + lacing.length + packet.length);
  const v = new DataView(out.buffer);
  out.set([0x4f, 0x67, 0x67, 0x53]); // "OggS"
  out[5] = flags;
  v.setBigInt64(6, granule, true);
  v.setUint32(14, 0x436f6d6d, true); // stream serial
  v.setUint32(18, sequence, true);
  out[26] = lacing.length;
  out.set(lacing, 27);
  out.set(packet, 27 + lacing.length);
  v.setUint32(22, crc(out), true);
  return out;
}

/**
 * An Ogg Opus file of 20 ms `packets`; `preSkip` samples (48 kHz) are the
 * encoder's lookahead and `samples` the input length at 48 kHz, so a decoder
 * returns exactly the input's sample count.
 */
export function oggOpus(
  packets: Uint8Array[],
  options: { channels: number; inputRate: number; preSkip: number; samples: number },
): Uint8Array {
  const head = new Uint8Array(19);
  const hv = new DataView(head.buffer);
  head.set(new TextEncoder().encode("OpusHead"));
  head[8] = 1;
  head[9] = options.channels;
  hv.setUint16(10, options.preSkip, true);
  hv.setUint32(12, options.inputRate, true);
  const tags = new Uint8Array(8 + 4 + 8 + 4);
  tags.set(new TextEncoder().encode("OpusTags"));
  const tv = new DataView(tags.buffer);
  tv.setUint32(8, 8, true);
  tags.set(new TextEncoder().encode("commucat"), 12);
  tv.setUint32(20, 0, true);
  const pages = [page(head, 0n, 0, 0x02), page(tags, 0n, 1, 0)];
  let granule = 0;
  const end = options.preSkip + options.samples;
  packets.forEach((p, i) => {
    granule = Math.min(granule + 960, end);
    const last = i === packets.length - 1;
    pages.push(page(p, BigInt(last ? end : granule), i + 2, last ? 0x04 : 0));
  });
  const out = new Uint8Array(pages.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pages) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
