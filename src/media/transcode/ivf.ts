/**
 * A minimal IVF writer (the container of libvpx's tools): a 32-byte file
 * header, then a 12-byte header per frame, so `ffprobe`/`ffmpeg` can read
 * the VP8/VP9 the server encoded (tests; the CLI writes received video).
 *
 * @module
 */

/** An IVF file of `frames` (one encoded frame each, timestamps 0, 1, 2… in 1/`frameRate` s). */
export function ivf(
  frames: Uint8Array[],
  options: { codec: "vp8" | "vp9"; width: number; height: number; frameRate: number },
): Uint8Array {
  const size = 32 + frames.reduce((n, f) => n + 12 + f.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode("DKIF"));
  v.setUint16(4, 0, true); // version
  v.setUint16(6, 32, true); // header size
  out.set(new TextEncoder().encode(options.codec === "vp9" ? "VP90" : "VP80"), 8);
  v.setUint16(12, options.width, true);
  v.setUint16(14, options.height, true);
  v.setUint32(16, options.frameRate, true); // time base denominator
  v.setUint32(20, 1, true); // numerator
  v.setUint32(24, frames.length, true);
  let at = 32;
  frames.forEach((f, i) => {
    v.setUint32(at, f.length, true);
    v.setBigUint64(at + 4, BigInt(i), true);
    out.set(f, at + 12);
    at += 12 + f.length;
  });
  return out;
}
