/**
 * Handshake patterns and protocol-name parsing (Noise §7, §8, §9).
 * Supported: `Noise_{NN,XX,XK,IK}[pskN[+pskM...]]_25519_ChaChaPoly_{BLAKE2s,BLAKE2b,SHA256}`
 * and the hybrid forward secrecy extension (Noise HFS, tokens `e1`/`ekem1`)
 * with ML-KEM-768: `Noise_{XK,IK}hfs_25519+MLKEM768_ChaChaPoly_<hash>`.
 *
 * @module
 */

import { NoiseError } from "./errors.ts";

/** A message-pattern token. */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk" | "e1" | "ekem1";

/** The KEMs a hybrid (`hfs`) protocol may name after the DH (`25519+MLKEM768`). */
export type KemName = "MLKEM768";

/** A pre-message token. */
export type PreMessageToken = "e" | "s";

/** A handshake pattern, with any psk modifiers already applied. */
export interface HandshakePattern {
  /** Base pattern name, e.g. `XK`. */
  readonly name: string;
  /** Pre-message the initiator is assumed to have sent (`-> ...`). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Pre-message the responder is assumed to have sent (`<- ...`). */
  readonly responderPreMessage: readonly PreMessageToken[];
  /** Message patterns; even indices are sent by the initiator. */
  readonly messages: readonly (readonly Token[])[];
}

/** Hash names we support. */
export type HashName = "BLAKE2s" | "BLAKE2b" | "SHA256";

/** A protocol name, parsed and validated. */
export interface ProtocolSpec {
  /** The full protocol name, hashed into the initial state. */
  readonly name: string;
  /** The pattern with psk tokens inserted. */
  readonly pattern: HandshakePattern;
  /** The N of every `pskN` modifier, ascending; empty when there are none. */
  readonly pskModifiers: readonly number[];
  /** The hash named in the protocol. */
  readonly hash: HashName;
  /** The KEM of a hybrid (`hfs`) protocol, null for a classical one. */
  readonly kem: KemName | null;
}

const BASE_PATTERNS: Readonly<Record<string, HandshakePattern>> = {
  NN: {
    name: "NN",
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [["e"], ["e", "ee"]],
  },
  XX: {
    name: "XX",
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
  },
  XK: {
    name: "XK",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [["e", "es"], ["e", "ee"], ["s", "se"]],
  },
  IK: {
    name: "IK",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [["e", "es", "s", "ss"], ["e", "ee", "se"]],
  },
};

/**
 * The `hfs` patterns (Noise HFS §5): `e1` (the initiator's KEM public key,
 * encrypted) follows the DH tokens of the first message that precede the
 * static; `ekem1` (the ciphertext, encrypted, then MixKey of the shared
 * secret) follows `ee` in the reply. We implement the CommuCat uses: the
 * session patterns XKhfs and IKhfs, and NNhfs for the in-session rekey.
 */
const HFS_PATTERNS: Readonly<Record<string, HandshakePattern>> = {
  // Ephemeral only: the in-session rekey (rekey.ts), bound to the session by its prologue.
  NN: {
    name: "NNhfs",
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [["e", "e1"], ["e", "ee", "ekem1"]],
  },
  XK: {
    name: "XKhfs",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [["e", "es", "e1"], ["e", "ee", "ekem1"], ["s", "se"]],
  },
  IK: {
    name: "IKhfs",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [["e", "es", "e1", "s", "ss"], ["e", "ee", "ekem1", "se"]],
  },
};

const KEMS: readonly KemName[] = ["MLKEM768"];

const HASHES: readonly HashName[] = ["BLAKE2s", "BLAKE2b", "SHA256"];

function unsupported(message: string): NoiseError {
  return new NoiseError("unsupported-protocol", message);
}

/** Applies psk modifiers: psk0 opens the first message, pskN closes message N. */
function withPsks(base: HandshakePattern, psks: readonly number[]): HandshakePattern {
  const messages = base.messages.map((m) => [...m]);
  for (const n of psks) {
    if (n === 0) messages[0].unshift("psk");
    else messages[n - 1].push("psk");
  }
  return { ...base, messages };
}

function parseModifiers(text: string, base: HandshakePattern): number[] {
  if (text === "") return [];
  const psks: number[] = [];
  for (const modifier of text.split("+")) {
    const match = /^psk(\d{1,2})$/.exec(modifier);
    if (match === null) throw unsupported(`unsupported pattern modifier "${modifier}"`);
    const n = Number(match[1]);
    if (n > base.messages.length) {
      throw unsupported(`${modifier} is out of range for ${base.name}`);
    }
    if (psks.length > 0 && n <= psks[psks.length - 1]) {
      throw unsupported("psk modifiers must be distinct and in ascending order");
    }
    psks.push(n);
  }
  return psks;
}

/**
 * Parses `Noise_<PATTERN>[psk...]_25519_ChaChaPoly_<BLAKE2s|BLAKE2b|SHA256>`.
 * Throws `NoiseError("unsupported-protocol")` naming the part we lack.
 */
export function parseProtocolName(name: string): ProtocolSpec {
  if (typeof name !== "string" || name.length > 255) {
    throw unsupported("protocol name must be a string of at most 255 characters");
  }
  const parts = name.split("_");
  if (parts.length !== 5 || parts[0] !== "Noise") {
    throw unsupported(`"${name}" is not of the form Noise_<pattern>_<dh>_<cipher>_<hash>`);
  }
  const [, patternText, dhText, cipher, hash] = parts;
  const match = /^([A-Z][A-Z0-9]*)(hfs)?(.*)$/.exec(patternText);
  const hybrid = match?.[2] === "hfs";
  const base = match === null ? undefined : (hybrid ? HFS_PATTERNS : BASE_PATTERNS)[match[1]];
  if (match === null || base === undefined) {
    throw unsupported(
      `unsupported handshake pattern in "${name}" (have NN, XX, XK, IK, NNhfs, XKhfs, IKhfs)`,
    );
  }
  const pskModifiers = parseModifiers(match[3], base);
  if (hybrid && pskModifiers.length > 0) {
    throw unsupported("psk modifiers are not supported with hfs");
  }
  const [dh, kem, ...rest] = dhText.split("+");
  if (dh !== "25519") throw unsupported(`unsupported DH "${dh}" (have 25519)`);
  if (hybrid !== (kem !== undefined) || rest.length > 0) {
    throw unsupported(
      hybrid
        ? `${base.name} needs a KEM after the DH ("25519+MLKEM768")`
        : `a KEM in "${dhText}" needs an hfs pattern`,
    );
  }
  if (kem !== undefined && !(KEMS as readonly string[]).includes(kem)) {
    throw unsupported(`unsupported KEM "${kem}" (have ${KEMS.join(", ")})`);
  }
  if (cipher !== "ChaChaPoly") {
    throw unsupported(`unsupported cipher "${cipher}" (have ChaChaPoly)`);
  }
  if (!(HASHES as readonly string[]).includes(hash)) {
    throw unsupported(`unsupported hash "${hash}" (have ${HASHES.join(", ")})`);
  }
  return {
    name,
    pattern: withPsks(base, pskModifiers),
    pskModifiers,
    hash: hash as HashName,
    kem: (kem ?? null) as KemName | null,
  };
}
