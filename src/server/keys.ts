/**
 * Server key material kept in the data directory when the configuration does
 * not provide it: the Noise static key and the device-CA/federation seed.
 * Files are written once (mode 0600, atomically) and reused afterwards.
 *
 * @module
 */
import { deviceKeysFromSeed, fromHex, toHex, x25519PublicFromPrivate } from "../crypto/mod.ts";

/** The server's long-term keys. */
export interface ServerKeys {
  noise: { privateKey: Uint8Array; publicKey: Uint8Array };
  /** Device CA = federation signing key (upstream §5.3). */
  ca: { seed: Uint8Array; publicKey: Uint8Array };
}

async function readOrCreateHex(path: string, bytes: number): Promise<Uint8Array> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return fromHex(text);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new Error(`cannot read key file ${path}: ${(error as Error).message}`);
    }
  }
  const value = crypto.getRandomValues(new Uint8Array(bytes));
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, toHex(value) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
  return value;
}

/** Loads configured keys or creates/reuses them in `dataDir`. */
export async function loadServerKeys(options: {
  dataDir: string;
  noiseKey: { privateKey: Uint8Array; publicKey: Uint8Array } | null;
  federationSeed: Uint8Array | null;
}): Promise<ServerKeys> {
  await Deno.mkdir(options.dataDir, { recursive: true });
  const noisePrivate = options.noiseKey?.privateKey ??
    await readOrCreateHex(`${options.dataDir}/noise_static.key`, 32);
  const seed = options.federationSeed ??
    await readOrCreateHex(`${options.dataDir}/federation.seed`, 32);
  const caKeys = deviceKeysFromSeed(seed);
  return {
    noise: { privateKey: noisePrivate, publicKey: x25519PublicFromPrivate(noisePrivate) },
    ca: { seed: caKeys.privateKey, publicKey: caKeys.publicKey },
  };
}
