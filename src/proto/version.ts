/**
 * CCP-1 protocol version constants and negotiation helpers.
 *
 * @module
 */

/** The protocol version this codec speaks. */
export const PROTOCOL_VERSION = 1;

/** Every protocol version this codec can speak, ascending. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([PROTOCOL_VERSION]);

/** True when `version` is one of {@linkcode SUPPORTED_PROTOCOL_VERSIONS}. */
export function isSupportedProtocolVersion(version: number): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

/**
 * The highest entry of the peer's list that we support, or `undefined` when
 * the lists share no version. Order and duplicates in `peerVersions` do not matter.
 */
export function negotiateProtocolVersion(peerVersions: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const version of peerVersions) {
    if (isSupportedProtocolVersion(version) && (best === undefined || version > best)) {
      best = version;
    }
  }
  return best;
}
