/**
 * The session's side of multipath (PROTOCOL.md "Multipath"): the Ack of a
 * client that asked for it carries the secret its path keys derive from.
 *
 * @module
 */
import { toHex } from "../crypto/mod.ts";
import type { Frame } from "../proto/mod.ts";
import { type MultipathSettings, newPathSecret } from "../multipath/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The established Ack with `"multipath": {"secret", "max_paths", "policy"}`
 * added (the Ack is text ending in `}`: the certificate's u64 serial must
 * survive, so it is not re-serialised), and the secret.
 */
export function multipathAck(
  ack: Frame,
  settings: MultipathSettings,
  raptorq: boolean,
): { ack: Frame; secret: Uint8Array } {
  const secret = newPathSecret();
  const text = decoder.decode(ack.payload);
  const policy = settings.policy.default ?? { mode: "auto" };
  const field = `"multipath":${
    JSON.stringify({
      secret: toHex(secret),
      max_paths: settings.maxPaths,
      linger_ms: settings.lingerMs,
      policy: policy.overhead === undefined ? policy.mode : `${policy.mode}:${policy.overhead}`,
      fec: raptorq && settings.fec !== undefined,
    })
  }`;
  const payload = encoder.encode(`${text.slice(0, text.lastIndexOf("}"))},${field}}`);
  return { ack: { ...ack, payload }, secret };
}
