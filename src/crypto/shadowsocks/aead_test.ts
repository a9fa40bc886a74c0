import assert from "node:assert/strict";
import {
  ChunkOpener,
  ChunkSealer,
  evpBytesToKey,
  MAX_PAYLOAD,
  SHADOWSOCKS_METHODS,
  ShadowsocksAuthError,
  shadowsocksKey,
  TAG_LENGTH,
} from "./aead.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A whole direction as sent: salt, then the sealed chunks. */
function sealed(sealer: ChunkSealer, data: Uint8Array): Uint8Array {
  return concat([sealer.salt, ...sealer.seal(data)]);
}

Deno.test("EVP_BytesToKey: the first 16 bytes are MD5(password), the next MD5(prev ‖ password)", () => {
  const key = evpBytesToKey("foobar", 32);
  // MD5("foobar"), a published value.
  assert.equal(hex(key.subarray(0, 16)), "3858f62230ac3c915f300c664312c63f");
  assert.equal(key.length, 32);
  assert.notEqual(hex(key.subarray(16)), hex(key.subarray(0, 16)));
});

for (const method of SHADOWSOCKS_METHODS) {
  Deno.test(`${method}: sealed chunks open to the same bytes, fed in any split`, () => {
    const key = shadowsocksKey(method, "correct horse");
    const data = crypto.getRandomValues(new Uint8Array(MAX_PAYLOAD * 2 + 100));
    const wire = sealed(new ChunkSealer(key), data);
    // Three chunks: each is a sealed length and a sealed payload.
    assert.equal(wire.length, key.saltLength + 3 * (2 + TAG_LENGTH) + data.length + 3 * TAG_LENGTH);
    for (const step of [1, 7, 4096, wire.length]) {
      const opener = new ChunkOpener(key);
      const out: Uint8Array[] = [];
      for (let off = 0; off < wire.length; off += step) {
        out.push(...opener.push(wire.subarray(off, off + step)));
      }
      assert.equal(hex(concat(out)), hex(data), `split ${step}`);
      assert.equal(opener.buffered, 0);
    }
  });

  Deno.test(`${method}: a flipped bit anywhere after the salt, or a wrong key, is refused`, () => {
    const key = shadowsocksKey(method, "correct horse");
    const wire = sealed(new ChunkSealer(key), new TextEncoder().encode("hello shadowsocks"));
    for (let i = key.saltLength; i < wire.length; i += 5) {
      const bad = wire.slice();
      bad[i] ^= 0x01;
      assert.throws(() => new ChunkOpener(key).push(bad), ShadowsocksAuthError, `byte ${i}`);
    }
    // A flipped salt bit changes the subkey: nothing opens either.
    const badSalt = wire.slice();
    badSalt[0] ^= 0x80;
    assert.throws(() => new ChunkOpener(key).push(badSalt), ShadowsocksAuthError);
    const other = shadowsocksKey(method, "wrong horse");
    assert.throws(() => new ChunkOpener(other).push(wire), ShadowsocksAuthError);
  });
}

Deno.test("the nonce counts per seal, so chunks cannot be reordered", () => {
  const key = shadowsocksKey("aes-256-gcm", "pw123456");
  const sealer = new ChunkSealer(key);
  const a = sealer.seal(new TextEncoder().encode("first"));
  const b = sealer.seal(new TextEncoder().encode("second"));
  assert.throws(
    () => new ChunkOpener(key).push(concat([sealer.salt, ...b, ...a])),
    ShadowsocksAuthError,
  );
});

Deno.test("sealWire: the salt once, then the same chunks as seal, in one reused buffer", () => {
  const key = shadowsocksKey("chacha20-ietf-poly1305", "pw123456");
  const salt = crypto.getRandomValues(new Uint8Array(key.saltLength));
  const wireSealer = new ChunkSealer(key, salt);
  const arraySealer = new ChunkSealer(key, salt);
  const first = crypto.getRandomValues(new Uint8Array(MAX_PAYLOAD + 5));
  const second = new TextEncoder().encode("second");
  const wire1 = wireSealer.sealWire(first).slice();
  const wire2 = wireSealer.sealWire(second);
  assert.equal(hex(wire1), hex(concat([salt, ...arraySealer.seal(first)])));
  assert.equal(hex(wire2), hex(concat(arraySealer.seal(second))));
  const opener = new ChunkOpener(key);
  const opened = [...opener.push(wire1), ...opener.push(wire2)];
  assert.equal(hex(concat(opened)), hex(concat([first, second])));
});
