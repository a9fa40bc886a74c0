/**
 * Shared set-up of the loader tests (load_test.ts, load_sections_test.ts): a temporary root
 * removed when the test module ends, TOML files written into it, and the one-line ConfigError
 * check.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { loadConfig, type LoadOptions } from "./load.ts";

/** A valid Noise private key (hex). */
export const NOISE_PRIVATE = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
/** The public key of {@link NOISE_PRIVATE}. */
export const NOISE_PUBLIC = "0d67bf305a47b22d47e102fdd00a3b9ae7c1948a480948d6b29604a613654f08";
/** A federation peer key (hex). */
export const PEER_KEY = "ab".repeat(32);

/** Every temporary file of the importing test module lives here; removed when its tests end. */
const root = Deno.makeTempDirSync({ prefix: "commucat-config-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

/** An empty directory: no default commucat.toml to pick up. */
export const emptyDir = Deno.makeTempDirSync({ dir: root });

/** Writes `text` to a fresh commucat.toml and returns its path. */
export function tomlFile(text: string): string {
  const dir = Deno.makeTempDirSync({ dir: root });
  const path = `${dir}/commucat.toml`;
  Deno.writeTextFileSync(path, text);
  return path;
}

/** `loadConfig` with no environment and no default file, unless `options` say otherwise. */
export function load(options: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: emptyDir, ...options });
}

/** The ConfigError message `fn` throws. */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `message is not one line: ${e.message}`);
    assert.ok(e.message.startsWith("config: "));
    return e.message;
  }
  assert.fail("expected a ConfigError");
}
