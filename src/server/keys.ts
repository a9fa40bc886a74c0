/**
 * Server key material kept in the data directory when the configuration does
 * not provide it: the Noise static key and the device-CA/federation seed.
 * Files are written once (mode 0600, atomically) and reused afterwards.
 *
 * @module
 */
import { deviceKeysFromSeed, fromHex, toHex, x25519PublicFromPrivate } from "../crypto/mod.ts";

/**
 * Where the Noise static key came from (logged on first start): the
 * configuration, a key file the data directory already held, or generated
 * just now (and written to the data directory).
 */
export type NoiseKeySource = "configured" | "data_dir" | "generated";

/** The server's long-term keys. */
export interface ServerKeys {
  noise: { privateKey: Uint8Array; publicKey: Uint8Array; source: NoiseKeySource };
  /** Device CA = federation signing key (upstream §5.3). */
  ca: { seed: Uint8Array; publicKey: Uint8Array };
}

async function readOrCreateHex(
  path: string,
  bytes: number,
): Promise<{ value: Uint8Array; created: boolean }> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return { value: fromHex(text), created: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new Error(`cannot read key file ${path}: ${(error as Error).message}`);
    }
  }
  const value = crypto.getRandomValues(new Uint8Array(bytes));
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, toHex(value) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
  return { value, created: true };
}

/** Loads configured keys or creates/reuses them in `dataDir`. */
export async function loadServerKeys(options: {
  dataDir: string;
  noiseKey: { privateKey: Uint8Array; publicKey: Uint8Array } | null;
  federationSeed: Uint8Array | null;
}): Promise<ServerKeys> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  let noisePrivate: Uint8Array;
  let source: NoiseKeySource = "configured";
  if (options.noiseKey) {
    noisePrivate = options.noiseKey.privateKey;
  } else {
    const file = await readOrCreateHex(`${options.dataDir}/noise_static.key`, 32);
    noisePrivate = file.value;
    source = file.created ? "generated" : "data_dir";
  }
  const seed = options.federationSeed ??
    (await readOrCreateHex(`${options.dataDir}/federation.seed`, 32)).value;
  const caKeys = deviceKeysFromSeed(seed);
  return {
    noise: {
      privateKey: noisePrivate,
      publicKey: x25519PublicFromPrivate(noisePrivate),
      source,
    },
    ca: { seed: caKeys.privateKey, publicKey: caKeys.publicKey },
  };
}
