import assert from "node:assert/strict";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { assemble, render, TARGETS } from "../../../wasm/build.ts";
import { NoiseError } from "./errors.ts";
import { nativeChaChaPoly, opensslChaChaPoly, SMALL_MESSAGE_LIMIT } from "./native.ts";
import { nobleChaChaPoly } from "./noble.ts";
import { MAX_NONCE } from "./primitives.ts";
import {
  AEAD_AREA_AT,
  aeadArea,
  aeadAreaView,
  sealWasm,
  wasmChaChaPoly,
} from "./wasm_chacha_poly.ts";

const sealChaChaPoly = wasmChaChaPoly.encrypt;
const openChaChaPoly = wasmChaChaPoly.decrypt;
const openChaChaPolyInPlace = wasmChaChaPoly.decryptInPlace!;

const isDecryptFailed = (err: unknown) =>
  err instanceof NoiseError && err.code === "decrypt-failed";

Deno.test("ChaCha20-Poly1305 matches RFC 8439 §A.5 (nonce with a zero first word)", () => {
  const key = fromHex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
  const nonce = 0x0807060504030201n; // 000000000102030405060708
  const ad = fromHex("f33388860000000000004e91");
  const ciphertext = fromHex(
    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b",
  );
  const tag = fromHex("eead9d67890cbb22392336fea1851f38");
  const sealedInput = new Uint8Array(ciphertext.length + 16);
  sealedInput.set(ciphertext);
  sealedInput.set(tag, ciphertext.length);
  const plaintext = openChaChaPoly(key, nonce, ad, sealedInput);
  assert.ok(new TextDecoder().decode(plaintext).startsWith("Internet-Drafts are draft documents"));
  assert.equal(toHex(sealChaChaPoly(key, nonce, ad, plaintext)), toHex(sealedInput));
});

Deno.test("the WebAssembly AEAD agrees with noble at every small length, both directions", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const lengths = [...Array(300).keys(), 1000, 1023, 4096, 65519];
  for (const length of lengths) {
    const plaintext = crypto.getRandomValues(new Uint8Array(length));
    const ad = crypto.getRandomValues(new Uint8Array(length % 37));
    for (const nonce of [0n, 1n, 0xffff_ffffn, 0x1_0000_0001n, MAX_NONCE]) {
      const ours = sealChaChaPoly(key, nonce, ad, plaintext);
      const theirs = nobleChaChaPoly.encrypt(key, nonce, ad, plaintext);
      assert.equal(toHex(ours), toHex(theirs), `length ${length}`);
      assert.deepEqual(openChaChaPoly(key, nonce, ad, theirs), plaintext);
      assert.deepEqual(nobleChaChaPoly.decrypt(key, nonce, ad, ours), plaintext);
    }
  }
});

Deno.test("the WebAssembly AEAD rejects any flipped bit, a wrong nonce, ad or key, and short input", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = utf8("ad");
  const ct = sealChaChaPoly(key, 9n, ad, utf8("a message of some length, over one block long."));
  for (let i = 0; i < ct.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const bad = ct.slice();
      bad[i] ^= bit;
      assert.throws(() => openChaChaPoly(key, 9n, ad, bad), isDecryptFailed);
    }
  }
  assert.throws(() => openChaChaPoly(key, 10n, ad, ct), isDecryptFailed);
  assert.throws(() => openChaChaPoly(key, 9n, new Uint8Array(0), ct), isDecryptFailed);
  const otherKey = key.slice();
  otherKey[31] ^= 1;
  assert.throws(() => openChaChaPoly(otherKey, 9n, ad, ct), isDecryptFailed);
  assert.throws(() => openChaChaPoly(key, 9n, ad, ct.subarray(0, 15)), isDecryptFailed);
});

Deno.test("the Poly1305 final reduction is right for accumulators at and above p", () => {
  // Key with r = 0 makes the tag equal s + (h mod p) with h = 0; r = 1 (after
  // clamping) with all-0xff blocks drives h near 2^130 - 5 and exercises the
  // final conditional subtraction. noble is the reference either way.
  const key = new Uint8Array(32);
  for (const fill of [0x00, 0xff]) {
    const plaintext = new Uint8Array(160).fill(fill);
    for (const nonce of [0n, 3n, 77n, 1234567n]) {
      assert.equal(
        toHex(sealChaChaPoly(key, nonce, plaintext, plaintext)),
        toHex(nobleChaChaPoly.encrypt(key, nonce, plaintext, plaintext)),
      );
    }
  }
});

Deno.test("the WebAssembly AEAD agrees with OpenSSL (node:crypto) on both sides of the size split", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  for (const length of [0, 15, 16, 17, 100, 511, 512, 513, 600, 2000, 4096, 4097, 9000]) {
    const plaintext = crypto.getRandomValues(new Uint8Array(length));
    const ad = crypto.getRandomValues(new Uint8Array(length % 33));
    const ours = sealChaChaPoly(key, 42n, ad, plaintext);
    assert.equal(toHex(ours), toHex(opensslChaChaPoly.encrypt(key, 42n, ad, plaintext)));
    assert.deepEqual(opensslChaChaPoly.decrypt(key, 42n, ad, ours), plaintext);
    assert.deepEqual(nativeChaChaPoly.decrypt(key, 42n, ad, ours), plaintext);
  }
});

Deno.test("in place: seal and open at an offset give the same bytes as the copying forms", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  for (const cipher of [nativeChaChaPoly]) {
    for (const length of [0, 1, 15, 16, 63, 64, 65, 100, 127, 128, 129, 256, 4096, 4097, 9000]) {
      const plaintext = crypto.getRandomValues(new Uint8Array(length));
      const ad = length % 2 ? utf8("ad") : new Uint8Array(0);
      const expected = cipher.encrypt(key, 7n, ad, plaintext);
      // Sealed straight into a larger buffer, 3 bytes in (where a unit's length prefix goes).
      const buf = new Uint8Array(3 + length + 16 + 5).fill(0xee);
      buf.set(plaintext, 3);
      cipher.encryptInPlace!(key, 7n, ad, buf, 3, length);
      assert.equal(toHex(buf.subarray(3, 3 + length + 16)), toHex(expected), `length ${length}`);
      assert.deepEqual(
        [...buf.subarray(0, 3), ...buf.subarray(3 + length + 16)],
        Array(8).fill(0xee),
      );
      const sealed = expected.slice();
      const opened = cipher.decryptInPlace!(key, 7n, ad, sealed);
      assert.deepEqual(opened, plaintext);
      if (length <= SMALL_MESSAGE_LIMIT) {
        assert.equal(opened.buffer, sealed.buffer, "a view of the ciphertext");
      }
    }
  }
});

Deno.test("in place: a forged message throws and leaves the ciphertext as it was", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sealed = sealChaChaPoly(key, 1n, new Uint8Array(0), utf8("hello, in place"));
  sealed[sealed.length - 1] ^= 1;
  const before = sealed.slice();
  assert.throws(() => openChaChaPolyInPlace(key, 1n, new Uint8Array(0), sealed), isDecryptFailed);
  assert.deepEqual(sealed, before);
  assert.throws(() => sealWasm(key, 1n, new Uint8Array(0), new Uint8Array(20), 0, 5));
});

Deno.test("the committed modules are the builds of their .wat (every wasm/build.ts target)", async () => {
  for (const target of TARGETS) {
    const wat = await Deno.readTextFile(new URL(`../../../${target.source}`, import.meta.url));
    const current = await Deno.readTextFile(new URL(`../../../${target.output}`, import.meta.url));
    assert.equal(current, await render(target, await assemble(target.source, wat)));
  }
});

Deno.test("an ad larger than the module's memory grows it and still agrees with noble", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = new Uint8Array(200_000).map((_, i) => (i * 131 + 7) & 0xff);
  const plaintext = crypto.getRandomValues(new Uint8Array(100));
  const sealed = sealChaChaPoly(key, 5n, ad, plaintext);
  assert.equal(toHex(sealed), toHex(nobleChaChaPoly.encrypt(key, 5n, ad, plaintext)));
  assert.deepEqual(openChaChaPoly(key, 5n, ad, sealed), plaintext);
});

Deno.test("a message built in the AEAD's area seals in place to what the copying call makes", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const empty = new Uint8Array(0);
  for (const length of [0, 1, 15, 16, 100, 1000, 4096]) {
    const plaintext = crypto.getRandomValues(new Uint8Array(length));
    const area = aeadArea(length);
    area.set(plaintext, AEAD_AREA_AT);
    sealWasm(key, 7, empty, area, AEAD_AREA_AT, length);
    const sealed = area.slice(AEAD_AREA_AT, AEAD_AREA_AT + length + 16);
    assert.equal(toHex(sealed), toHex(wasmChaChaPoly.encrypt(key, 7, empty, plaintext)));
    // A view of the sealed unit with a prefix in front, kept per length: the bytes as they are now.
    area[AEAD_AREA_AT - 2] = 0xab;
    const unit = aeadAreaView(AEAD_AREA_AT - 2, AEAD_AREA_AT + length + 16);
    assert.equal(unit.length, length + 18);
    assert.equal(unit[0], 0xab);
    assert.equal(toHex(unit.subarray(2)), toHex(sealed));
    assert.deepEqual(openChaChaPoly(key, 7, empty, sealed), plaintext);
  }
});

Deno.test("results come out right at every length before and after the AEAD's memory grows", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const empty = new Uint8Array(0);
  const roundTrip = (length: number) => {
    const plaintext = new Uint8Array(length).map((_, i) => (i * 131 + length) & 0xff);
    const sealed = sealChaChaPoly(key, 3, empty, plaintext);
    assert.equal(toHex(sealed), toHex(nobleChaChaPoly.encrypt(key, 3, empty, plaintext)));
    assert.deepEqual(openChaChaPolyInPlace(key, 3, empty, sealed), plaintext);
  };
  // Lengths seen before the growth keep their copy-out views: they must not outlive it.
  for (const length of [150, 151, 4096]) roundTrip(length);
  const size = aeadArea(0).length;
  roundTrip(size); // a message as long as the memory was: it grows
  assert.ok(aeadArea(0).length > size);
  for (const length of [150, 151, 4096]) roundTrip(length);
});
