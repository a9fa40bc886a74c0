import assert from "node:assert/strict";
import { NoiseError } from "./errors.ts";
import { parseProtocolName } from "./patterns.ts";

const isUnsupported = (err: unknown) =>
  err instanceof NoiseError && err.code === "unsupported-protocol";

Deno.test("base patterns parse with their pre-messages and tokens", () => {
  const xk = parseProtocolName("Noise_XK_25519_ChaChaPoly_BLAKE2s");
  assert.equal(xk.hash, "BLAKE2s");
  assert.deepEqual(xk.pskModifiers, []);
  assert.deepEqual(xk.pattern.responderPreMessage, ["s"]);
  assert.deepEqual(xk.pattern.messages, [["e", "es"], ["e", "ee"], ["s", "se"]]);
  const ik = parseProtocolName("Noise_IK_25519_ChaChaPoly_SHA256");
  assert.equal(ik.hash, "SHA256");
  assert.deepEqual(ik.pattern.messages, [["e", "es", "s", "ss"], ["e", "ee", "se"]]);
});

Deno.test("psk0 opens the first message and pskN closes message N", () => {
  const spec = parseProtocolName("Noise_XXpsk0+psk1+psk3_25519_ChaChaPoly_BLAKE2s");
  assert.deepEqual(spec.pskModifiers, [0, 1, 3]);
  assert.deepEqual(spec.pattern.messages, [
    ["psk", "e", "psk"],
    ["e", "ee", "s", "es"],
    ["s", "se", "psk"],
  ]);
  // The shared base pattern is not mutated.
  assert.deepEqual(
    parseProtocolName("Noise_XX_25519_ChaChaPoly_BLAKE2s").pattern.messages[0],
    ["e"],
  );
});

Deno.test("unsupported or malformed names are rejected as unsupported-protocol", () => {
  for (
    const name of [
      "Noise_KK_25519_ChaChaPoly_BLAKE2s",
      "Noise_XK_448_ChaChaPoly_BLAKE2s",
      "Noise_XK_25519_AESGCM_BLAKE2s",
      "Noise_XK_25519_ChaChaPoly_SHA512",
      "Noise_XKfallback_25519_ChaChaPoly_BLAKE2s",
      "Noise_XKpsk4_25519_ChaChaPoly_BLAKE2s",
      "Noise_XKpsk2+psk1_25519_ChaChaPoly_BLAKE2s",
      "Noise_XKpsk1+psk1_25519_ChaChaPoly_BLAKE2s",
      "Noise_XK_25519_ChaChaPoly",
      "NoiseXK",
      "",
    ]
  ) {
    assert.throws(() => parseProtocolName(name), isUnsupported, name);
  }
});
