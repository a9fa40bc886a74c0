/**
 * The server keys' part of the handshake Ack (device CA key, the Noise key
 * the client used and every active Noise key, the keepalive), made once per
 * key and keyring state instead of per handshake: it was two hex encodings,
 * two ISO dates and the JSON of every active key in each Ack, the same text
 * for every session on one key.
 *
 * @module
 */
import { describeNoiseKeyForAck, type NoiseKey, toHex } from "../crypto/mod.ts";
import { establishedAckKeysText } from "../proto/mod.ts";

/**
 * The last text made, with what it was made from. Key objects are not
 * changed in place (a reloaded keyring makes new ones, as
 * `describeNoiseKeyForAck`'s cache also assumes), so identity is the test.
 */
export class AckKeysCache {
  #caPublic: Uint8Array | null = null;
  #keepalive = Number.NaN;
  #key: NoiseKey | null = null;
  #active: readonly NoiseKey[] = [];
  #text = "";

  /**
   * The Ack's server-key members for a session on `key`, with `active` the
   * keyring's active keys now (newest first).
   */
  text(
    caPublic: Uint8Array,
    key: NoiseKey,
    active: readonly NoiseKey[],
    keepaliveIntervalSeconds: number,
  ): string {
    if (
      caPublic !== this.#caPublic || key !== this.#key ||
      keepaliveIntervalSeconds !== this.#keepalive || !sameKeys(active, this.#active)
    ) {
      this.#text = establishedAckKeysText({
        deviceCaPublic: toHex(caPublic),
        noiseKey: {
          publicKey: toHex(key.publicKey),
          version: key.version,
          rotatesAt: key.rotatesAt,
          expiresAt: key.expiresAt,
        },
        noiseKeys: active.map((k) => describeNoiseKeyForAck(k, toHex)),
        keepaliveIntervalSeconds,
      });
      this.#caPublic = caPublic;
      this.#key = key;
      this.#keepalive = keepaliveIntervalSeconds;
      // A copy: the keyring may hand out the same array and change it later.
      this.#active = active.slice();
    }
    return this.#text;
  }
}

function sameKeys(a: readonly NoiseKey[], b: readonly NoiseKey[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
