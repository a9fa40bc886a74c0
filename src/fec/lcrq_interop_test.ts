/**
 * Cross-check of our RaptorQ (the `raptorq` 1.7 crate as WebAssembly) against
 * a second, independent implementation: librecast's `liblcrq` (C, Debian
 * package `liblcrq-dev`), called through Deno FFI. lcrq numbers repair
 * symbols as RFC 6330 does (from K); the crate numbers them from K'
 * (cberner/raptorq#164, pinned in docs/PROTOCOL.md §7): after translating
 * ESI − (K'−K) the two agree byte for byte and decode each other's symbols.
 * Skipped loudly where the library is not installed (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { FecDecoder, FecEncoder, InProcessRaptorq, parseFecPacket } from "./mod.ts";
import { frameFecPacket } from "./packet.ts";
import { randomBytes, shuffled } from "./_test_util.ts";

const LIB = "/usr/lib/x86_64-linux-gnu/liblcrq.so";
const present = (() => {
  try {
    return Deno.statSync(LIB).isFile;
  } catch {
    return false;
  }
})();

const SYMBOLS = {
  rq_init: { parameters: ["u64", "u16"], result: "pointer" },
  rq_free: { parameters: ["pointer"], result: "void" },
  rq_K: { parameters: ["pointer"], result: "u16" },
  rq_KP: { parameters: ["pointer"], result: "u16" },
  rq_Z: { parameters: ["pointer"], result: "u16" },
  rq_N: { parameters: ["pointer"], result: "u16" },
  rq_encode: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  rq_symbol: { parameters: ["pointer", "buffer", "buffer", "i32"], result: "pointer" },
  rq_decode: { parameters: ["pointer", "buffer", "buffer", "buffer", "u32"], result: "i32" },
} as const;

type Lcrq = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One lcrq context for (F, T), freed after `use`. */
function withContext<R>(
  rq: Lcrq,
  f: number,
  t: number,
  use: (ctx: Deno.PointerObject, k: number, kp: number) => R,
): R {
  const ctx = rq.rq_init(BigInt(f), t);
  assert.ok(ctx, "rq_init");
  try {
    // Our objects are one source block of one sub-block (docs/PROTOCOL.md §7).
    assert.equal(rq.rq_Z(ctx), 1);
    assert.equal(rq.rq_N(ctx), 1);
    return use(ctx, rq.rq_K(ctx), rq.rq_KP(ctx));
  } finally {
    rq.rq_free(ctx);
  }
}

/** lcrq's payload id: ESI as 3 big-endian bytes, then SBN (its `rq_pid_t` in memory). */
function pid(esi: number): Uint8Array {
  return new Uint8Array([esi >>> 16, (esi >>> 8) & 0xff, esi & 0xff, 0]);
}

/** lcrq's encoding symbol `esi` (RFC numbering) of `data`. */
function lcrqSymbol(rq: Lcrq, ctx: Deno.PointerObject, esi: number, t: number): Uint8Array {
  const sym = new Uint8Array(t);
  rq.rq_symbol(ctx, pid(esi), sym, 0);
  return sym;
}

/** Zero-padded to K'·T: what lcrq may read while encoding. */
function padded(data: Uint8Array, kp: number, t: number): Uint8Array {
  const out = new Uint8Array(kp * t);
  out.set(data);
  return out;
}

const CASES = [
  { size: 1000, t: 64 },
  { size: 11 * 64 - 5, t: 64 }, // K = 11, K' = 12
  { size: 10_000, t: 256 },
  { size: 65_536, t: 1024 },
];

Deno.test({
  name: `fec: raptorq and liblcrq agree byte for byte, ESI − (K'−K)${
    present ? "" : " (skipped: liblcrq-dev missing)"
  }`,
  ignore: !present,
  async fn() {
    const lib = Deno.dlopen(LIB, SYMBOLS);
    const engine = await InProcessRaptorq.create();
    try {
      const enc = new FecEncoder(engine);
      let id = 0;
      for (const { size, t } of CASES) {
        const data = randomBytes(size, size);
        const ours = (await enc.encode(++id, data, { repairOverhead: 0.5, symbolSize: t })).map(
          parseFecPacket,
        );
        withContext(lib.symbols, size, t, (ctx, k, kp) => {
          assert.equal(lib.symbols.rq_encode(ctx, padded(data, kp, t), BigInt(size)), 0);
          const repair = ours.filter((p) => p.esi >= k);
          assert.ok(repair.length > 0);
          assert.equal(repair[0].esi, kp, "the crate numbers repair symbols from K'");
          for (const p of ours) {
            const rfcEsi = p.esi < k ? p.esi : p.esi - (kp - k);
            assert.deepEqual(lcrqSymbol(lib.symbols, ctx, rfcEsi, t), p.symbol, `ESI ${p.esi}`);
          }
        });
      }
    } finally {
      engine.close();
      lib.close();
    }
  },
});

Deno.test({
  name: `fec: liblcrq decodes raptorq's packets and raptorq decodes liblcrq's${
    present ? "" : " (skipped: liblcrq-dev missing)"
  }`,
  ignore: !present,
  async fn() {
    const lib = Deno.dlopen(LIB, SYMBOLS);
    const engine = await InProcessRaptorq.create();
    try {
      const enc = new FecEncoder(engine);
      let id = 100;
      for (const { size, t } of CASES) {
        const data = randomBytes(size, size + 1);
        // raptorq → lcrq: lose a third of the source symbols, translate repair ESIs.
        const ours = (await enc.encode(++id, data, { repairOverhead: 0.6, symbolSize: t })).map(
          parseFecPacket,
        );
        withContext(lib.symbols, size, t, (ctx, k, kp) => {
          const kept = shuffled(ours.filter((p) => p.esi >= k || p.esi % 3 !== 0), id)
            .slice(0, kp + 2);
          const encBuf = new Uint8Array(kept.length * t);
          const esis = new Uint32Array(kept.length);
          kept.forEach((p, i) => {
            encBuf.set(p.symbol, i * t);
            esis[i] = p.esi < k ? p.esi : p.esi - (kp - k);
          });
          const dec = new Uint8Array(kp * t);
          assert.equal(lib.symbols.rq_decode(ctx, dec, encBuf, esis, kept.length), 0);
          assert.deepEqual(dec.subarray(0, size), data, `lcrq decoded ${size} B`);
        });
        // lcrq → raptorq: every third source symbol lost, repair ESIs from K (RFC) → K'.
        const packets = withContext(lib.symbols, size, t, (ctx, k, kp) => {
          assert.equal(lib.symbols.rq_encode(ctx, padded(data, kp, t), BigInt(size)), 0);
          const out: Uint8Array[] = [];
          const withRepair = k + Math.ceil(k * 0.6);
          for (let esi = 0; esi < withRepair; esi++) {
            if (esi < k && esi % 3 === 0) continue;
            const wire = esi < k ? esi : esi + (kp - k);
            out.push(
              frameFecPacket(
                id,
                size,
                t,
                new Uint8Array([
                  0,
                  ...pid(wire).subarray(0, 3),
                  ...lcrqSymbol(lib.symbols, ctx, esi, t),
                ]),
              ),
            );
          }
          return out;
        });
        const dec = new FecDecoder(engine);
        let got: Uint8Array | null = null;
        for (const p of packets) got = (await dec.push(p)) ?? got;
        assert.deepEqual(got, data, `raptorq decoded lcrq's ${size} B`);
        assert.equal(dec.stats.decoded, 1);
      }
    } finally {
      engine.close();
      lib.close();
    }
  },
});
