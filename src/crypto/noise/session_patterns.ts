/**
 * The handshake patterns a CommuCat session may use, by the name a Hello
 * carries in `pattern` (docs/PROTOCOL.md §3). This table is the one place a
 * session pattern is chosen: the server session, the client SDK, the CLI and
 * `/api/server-info` all read it, and the Hello schema only checks the name's
 * shape.
 *
 * Adding a pattern (e.g. a post-quantum KEM step, `XKhfs` / `IKhfs`) is one
 * row in {@linkcode SESSION_PATTERN_ROWS} once `patterns.ts` knows its
 * message pattern; what the session does differently follows from the
 * pattern itself (how many messages, whether message 1 already
 * authenticates the client), not from its name.
 *
 * @module
 */

import { domainMessage } from "../pq/mod.ts";
import { NoiseError } from "./errors.ts";
import { parseProtocolName, type ProtocolSpec } from "./patterns.ts";

/** One session pattern: its Hello name, full Noise protocol and what follows from it. */
export interface SessionPattern {
  /** The Hello `pattern` value, e.g. `XK`. */
  readonly name: string;
  /** The full Noise protocol name, e.g. `Noise_XK_25519_ChaChaPoly_BLAKE2s`. */
  readonly protocolName: string;
  /** The parsed protocol (message patterns, hash). */
  readonly protocol: ProtocolSpec;
  /**
   * Handshake messages: 2 (the server's Auth ends the handshake) or 3 (the
   * client answers with an Auth carrying message 3).
   */
  readonly messageCount: number;
  /**
   * True when message 1 already carries and authenticates the client's static
   * key (IK): the server acts on message 1 alone, so it must be fresh (a
   * timestamp payload) and is never accepted twice (the replay cache).
   */
  readonly clientStaticInFirstMessage: boolean;
  /**
   * True for a post-quantum hybrid (`hfs`) pattern: ML-KEM-768 beside X25519,
   * and the server signs the handshake hash after `ekem1` with its ML-DSA-65
   * identity ({@linkcode serverSignatureMessage}) in the message 2 payload.
   */
  readonly hybrid: boolean;
  /** The Hello name of the classical pattern this one extends (itself when classical). */
  readonly classical: string;
}

/**
 * Hello name → full Noise protocol name, in the order clients should prefer.
 * All responder-static-known patterns: the client learns the server's key
 * from `/api/server-info`.
 */
export const SESSION_PATTERN_ROWS: Readonly<Record<string, string>> = Object.freeze({
  XK: "Noise_XK_25519_ChaChaPoly_BLAKE2s",
  IK: "Noise_IK_25519_ChaChaPoly_BLAKE2s",
  XKhfs: "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
  IKhfs: "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
});

/**
 * The domain of the server's ML-DSA-65 handshake signature: the signed
 * message is `domain ‖ 0x00 ‖ h`, h the handshake hash right after `ekem1`
 * (WebCrypto's ML-DSA has no context string; this prefix stands in for it).
 */
export const SERVER_SIGNATURE_DOMAIN = "commucat/hfs-server-signature/v1";

/** What the server signs in a hybrid handshake: {@linkcode SERVER_SIGNATURE_DOMAIN} ‖ 0x00 ‖ h. */
export function serverSignatureMessage(handshakeHash: Uint8Array): Uint8Array {
  return domainMessage(SERVER_SIGNATURE_DOMAIN, handshakeHash);
}

/** The hybrid (`hfs`) counterpart of a classical session pattern, if the table has one. */
export function hybridOf(name: string): SessionPattern | undefined {
  const found = TABLE.get(name);
  if (found === undefined) return undefined;
  if (found.hybrid) return found;
  return [...TABLE.values()].find((p) => p.hybrid && p.classical === found.name);
}

function describe(name: string, protocolName: string): SessionPattern {
  const protocol = parseProtocolName(protocolName);
  const messages = protocol.pattern.messages;
  return Object.freeze({
    name,
    protocolName,
    protocol,
    messageCount: messages.length,
    clientStaticInFirstMessage: messages[0].includes("s"),
    hybrid: protocol.kem !== null,
    classical: protocol.kem === null ? name : name.replace(/hfs$/, ""),
  });
}

const TABLE: ReadonlyMap<string, SessionPattern> = new Map(
  Object.entries(SESSION_PATTERN_ROWS).map(([name, protocolName]) => [
    name,
    describe(name, protocolName),
  ]),
);

/** The Hello names of every session pattern, in preference order (e.g. `["XK", "IK"]`). */
export const SESSION_PATTERN_NAMES: readonly string[] = Object.freeze([...TABLE.keys()]);

/** The session pattern a Hello names, or undefined when we have none by that name. */
export function findSessionPattern(name: string): SessionPattern | undefined {
  return TABLE.get(name);
}

/**
 * The session pattern a Hello names. Throws `NoiseError("unsupported-protocol")`
 * naming the ones we have.
 */
export function sessionPattern(name: string): SessionPattern {
  const found = TABLE.get(name);
  if (found === undefined) {
    throw new NoiseError(
      "unsupported-protocol",
      `unsupported handshake pattern ${JSON.stringify(name)} (have ${
        SESSION_PATTERN_NAMES.join(", ")
      })`,
    );
  }
  return found;
}
