/**
 * Writes wasm/ed25519_verify.wat: edwards25519 arithmetic for the ZKP verify
 * (src/crypto/zkp_wasm.ts). The field multiply and square are a hundred
 * limb products each, so they (and the constants' limbs) are generated here
 * rather than typed; the rest of the module is written out below as text.
 *
 * Run: `scripts/deno run --allow-write=wasm wasm/ed25519_gen.ts`, then
 * wasm/build.ts. `src/crypto/zkp_wasm_test.ts` fails when the committed
 * .wat is not this script's output.
 *
 * @module
 */

const P = (1n << 255n) - 19n;

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  base %= P;
  while (exp > 0n) {
    if (exp & 1n) result = result * base % P;
    base = base * base % P;
    exp >>= 1n;
  }
  return result;
}

/** Limb i starts at bit ⌈25.5·i⌉ (26, 25, 26, … bits: ref10's radix 2^25.5). */
const START = Array.from({ length: 11 }, (_, i) => Math.ceil(25.5 * i));
const BITS = Array.from({ length: 10 }, (_, i) => START[i + 1] - START[i]);

function limbs(x: bigint): bigint[] {
  return BITS.map((bits, i) => (x >> BigInt(START[i])) & ((1n << BigInt(bits)) - 1n));
}

// Memory layout (bytes). A field element is 10 i64 limbs (80 B); a point is
// four of them (320 B): extended (X, Y, Z, T) or cached (Y+X, Y−X, 2Z, 2d·T).
const LAYOUT = {
  IN_A: 0, // device public key A (32 B; the 8 bytes after it are read, ignored)
  IN_R: 64, // commitment R
  IN_B: 128, // init: the base point B
  IN_B128: 192, // init: 2^128·B
  DIGITS: 256, // 4 slots × 288 signed digits (i8), least significant first
  BYTES: 1408, // 32 B scratch for canonical encodings
  FE_D: 1536,
  FE_2D: 1616,
  FE_SQRTM1: 1696,
  FE_ONE: 1776,
  TMP: 2048, // 24 field temporaries, 80 B each (to 3968)
  P_A: 4096,
  P_R: 4416,
  P_ACC: 4736,
  P_TMP: 5056,
  C_TMP: 5376,
  TAB_R: 6144, // 4 cached odd multiples of R
  TAB_A: 7424, // 4 of A
  TAB_B: 8704, // 64 of B
  TAB_B128: 29184, // 64 of 2^128·B, ends at 49664
} as const;
const DIGIT_SLOT = 288;
const t = (i: number) => LAYOUT.TMP + 80 * i;

const get = (name: string) => `(local.get $${name})`;
const c64 = (n: number | bigint) => `(i64.const ${n})`;

/** Sum of terms as a balanced tree of i64.add. */
function sum(terms: string[]): string {
  if (terms.length === 1) return terms[0];
  const half = terms.length >> 1;
  return `(i64.add ${sum(terms.slice(0, half))} ${sum(terms.slice(half))})`;
}

/** ref10's carry chain on locals h0..h9 (signed; rounds to nearest). */
function carryChain(): string {
  const out: string[] = [];
  const step = (i: number) => {
    const bits = BITS[i];
    const next = (i + 1) % 10;
    out.push(
      `(local.set $c (i64.shr_s (i64.add ${get(`h${i}`)} ${c64(1 << (bits - 1))}) ${c64(bits)}))`,
    );
    const addend = i === 9 ? `(i64.mul ${get("c")} ${c64(19)})` : get("c");
    out.push(`(local.set $h${next} (i64.add ${get(`h${next}`)} ${addend}))`);
    out.push(
      `(local.set $h${i} (i64.sub ${get(`h${i}`)} (i64.shl ${get("c")} ${c64(bits)})))`,
    );
  };
  for (const i of [0, 4, 1, 5, 2, 6, 3, 7, 4, 8, 9, 0]) step(i);
  return out.join("\n    ");
}

function locals(prefix: string): string {
  return Array.from({ length: 10 }, (_, i) => `(local $${prefix}${i} i64)`).join(" ");
}

function loadLimbs(prefix: string, ptr: string): string {
  return Array.from(
    { length: 10 },
    (_, i) => `(local.set $${prefix}${i} (i64.load offset=${8 * i} ${get(ptr)}))`,
  ).join("\n    ");
}

function storeH(): string {
  return Array.from(
    { length: 10 },
    (_, i) => `(i64.store offset=${8 * i} ${get("h")} ${get(`h${i}`)})`,
  ).join("\n    ");
}

/** h = f·g: product f_i·g_j lands on limb i+j, ×2 when both are odd, ×19 past limb 9. */
function feMul(): string {
  const terms: string[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < 10; i++) {
    for (let j = 0; j < 10; j++) {
      const f = i % 2 === 1 && j % 2 === 1 ? `f2_${i}` : `f${i}`;
      const g = i + j >= 10 ? `g19_${j}` : `g${j}`;
      terms[(i + j) % 10].push(`(i64.mul ${get(f)} ${get(g)})`);
    }
  }
  const pre: string[] = [];
  for (let i = 1; i < 10; i += 2) {
    pre.push(`(local.set $f2_${i} (i64.shl ${get(`f${i}`)} ${c64(1)}))`);
  }
  for (let j = 1; j < 10; j++) {
    pre.push(`(local.set $g19_${j} (i64.mul ${get(`g${j}`)} ${c64(19)}))`);
  }
  const extra = [1, 3, 5, 7, 9].map((i) => `(local $f2_${i} i64)`).join(" ") + " " +
    Array.from({ length: 9 }, (_, j) => `(local $g19_${j + 1} i64)`).join(" ");
  return `  ;; h = f·g (h may alias f or g). Inputs: limbs of at most ~4 carried
  ;; values summed (|limb| < 2^27.1): every column stays below 2^63.
  (func $fe_mul (param $h i32) (param $f i32) (param $g i32)
    ${locals("f")} ${locals("g")} ${locals("h")} (local $c i64)
    ${extra}
    ${loadLimbs("f", "f")}
    ${loadLimbs("g", "g")}
    ${pre.join("\n    ")}
    ${terms.map((ts, k) => `(local.set $h${k} ${sum(ts)})`).join("\n    ")}
    ${carryChain()}
    ${storeH()})
`;
}

/** h = f²: the products of f_i·f_j (i < j) counted twice. */
function feSq(): string {
  const terms: string[][] = Array.from({ length: 10 }, () => []);
  const need = new Set<string>();
  for (let i = 0; i < 10; i++) {
    for (let j = i; j < 10; j++) {
      let coef = (i === j ? 1 : 2) * (i % 2 === 1 && j % 2 === 1 ? 2 : 1) *
        (i + j >= 10 ? 19 : 1);
      let a = `f${i}`;
      if (coef % 2 === 0) {
        a = `f2_${i}`;
        coef /= 2;
      }
      const b = coef === 1 ? `f${j}` : `f${coef}_${j}`;
      need.add(a).add(b);
      terms[(i + j) % 10].push(`(i64.mul ${get(a)} ${get(b)})`);
    }
  }
  const pre: string[] = [];
  const extra: string[] = [];
  for (const name of [...need].sort()) {
    const m = /^f(\d+)_(\d)$/.exec(name);
    if (!m) continue;
    extra.push(`(local $${name} i64)`);
    pre.push(`(local.set $${name} (i64.mul ${get(`f${m[2]}`)} ${c64(Number(m[1]))}))`);
  }
  return `  ;; h = f² (same bounds as $fe_mul).
  (func $fe_sq (param $h i32) (param $f i32)
    ${locals("f")} ${locals("h")} (local $c i64)
    ${extra.join(" ")}
    ${loadLimbs("f", "f")}
    ${pre.join("\n    ")}
    ${terms.map((ts, k) => `(local.set $h${k} ${sum(ts)})`).join("\n    ")}
    ${carryChain()}
    ${storeH()})
`;
}

/** Limb i of 32 little-endian bytes at $s: bits START[i]..START[i+1] (bit 255 dropped). */
function feFromBytes(): string {
  const body = BITS.map((bits, i) => {
    const byte = START[i] >> 3;
    const shift = START[i] & 7;
    return `(i64.store offset=${8 * i} ${get("h")} (i64.and (i64.shr_u (i64.load offset=${byte} ${
      get("s")
    }) ${c64(shift)}) ${c64((1n << BigInt(bits)) - 1n)}))`;
  });
  return `  ;; h = the low 255 bits of the 32 bytes at $s (each limb in [0, 2^bits)).
  (func $fe_frombytes (param $h i32) (param $s i32)
    ${body.join("\n    ")})
`;
}

/**
 * ref10's fe_tobytes: carry, then subtract p once if h ≥ p (q is the
 * quotient by p of the carried value, 0 or 1), then pack the limbs.
 */
function feToBytes(): string {
  const q: string[] = [
    `(local.set $q (i64.shr_s (i64.add (i64.mul ${get("h9")} ${c64(19)}) ${c64(1 << 24)}) ${
      c64(25)
    }))`,
  ];
  for (let i = 0; i < 10; i++) {
    q.push(`(local.set $q (i64.shr_s (i64.add ${get(`h${i}`)} ${get("q")}) ${c64(BITS[i])}))`);
  }
  q.push(`(local.set $h0 (i64.add ${get("h0")} (i64.mul ${get("q")} ${c64(19)})))`);
  for (let i = 0; i < 9; i++) {
    q.push(`(local.set $c (i64.shr_s ${get(`h${i}`)} ${c64(BITS[i])}))`);
    q.push(`(local.set $h${i + 1} (i64.add ${get(`h${i + 1}`)} ${get("c")}))`);
    q.push(`(local.set $h${i} (i64.sub ${get(`h${i}`)} (i64.shl ${get("c")} ${c64(BITS[i])})))`);
  }
  q.push(`(local.set $h9 (i64.and ${get("h9")} ${c64((1 << 25) - 1)}))`);
  const words: string[][] = [[], [], [], []];
  for (let i = 0; i < 10; i++) {
    const word = START[i] >> 6;
    const shift = START[i] & 63;
    words[word].push(shift === 0 ? get(`h${i}`) : `(i64.shl ${get(`h${i}`)} ${c64(shift)})`);
    if (shift + BITS[i] > 64) {
      words[word + 1].push(`(i64.shr_u ${get(`h${i}`)} ${c64(64 - shift)})`);
    }
  }
  const or = (ts: string[]): string =>
    ts.length === 1 ? ts[0] : `(i64.or ${ts[0]} ${or(ts.slice(1))})`;
  const stores = words.map((ts, w) => `(i64.store offset=${8 * w} ${get("s")} ${or(ts)})`);
  return `  ;; The canonical 32-byte encoding of h (value mod p) at $s.
  (func $fe_tobytes (param $s i32) (param $f i32)
    ${locals("h")} (local $c i64) (local $q i64)
    ${loadLimbs("h", "f")}
    ${carryChain()}
    ${q.join("\n    ")}
    ${stores.join("\n    ")})
`;
}

function constant(name: string, value: bigint, at: number): string {
  const bytes = new Uint8Array(80);
  const view = new DataView(bytes.buffer);
  limbs(value).forEach((limb, i) => view.setBigInt64(8 * i, limb, true));
  const text = Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
  return `  ;; ${name}\n  (data (i32.const ${at}) "${text}")`;
}

const D = (P - 121665n) * modPow(121666n, P - 2n) % P;
const SQRTM1 = modPow(2n, (P - 1n) / 4n);

const template = await Deno.readTextFile(new URL("./ed25519_verify.template.wat", import.meta.url));
const layout = Object.entries(LAYOUT).map(([k, v]) => `;;   ${String(v).padStart(5)}  ${k}`)
  .join("\n");
let text = template
  .replace(";; @LAYOUT", layout)
  .replace(
    "  ;; @CONSTANTS",
    [
      constant("d = −121665/121666", D, LAYOUT.FE_D),
      constant("2d", 2n * D % P, LAYOUT.FE_2D),
      constant("√−1", SQRTM1, LAYOUT.FE_SQRTM1),
      constant("1", 1n, LAYOUT.FE_ONE),
    ].join("\n"),
  )
  .replace("  ;; @FIELD", [feMul(), feSq(), feFromBytes(), feToBytes()].join("\n"));
for (const [k, v] of Object.entries(LAYOUT)) text = text.replaceAll(`@${k}@`, String(v));
text = text.replaceAll("@DIGIT_SLOT@", String(DIGIT_SLOT));
for (let i = 0; i < 24; i++) text = text.replaceAll(`@T${i}@`, String(t(i)));
if (/@[A-Z0-9_]+@/.test(text)) {
  throw new Error(`unfilled placeholder: ${/@[A-Z0-9_]+@/.exec(text)}`);
}

/** The generated module text. */
export const ED25519_WAT = text;

if (import.meta.main) {
  await Deno.writeTextFile(new URL("./ed25519_verify.wat", import.meta.url), text);
  console.log("wasm/ed25519_verify.wat written");
}
