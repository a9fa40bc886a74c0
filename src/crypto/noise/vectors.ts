/**
 * Runs Noise test vectors in the cacophony JSON format (`{"vectors":[...]}`)
 * against {@linkcode createHandshake}; shared by the CLI and the tests.
 *
 * @module
 */

import { constantTimeEqual, fromHex, toHex } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import { createHandshake, type Handshake } from "./handshake.ts";
import type { Backend } from "./primitives.ts";
import type { NoiseTransport } from "./transport.ts";

/** Outcome of one vector. */
export type VectorStatus = "ok" | "fail" | "skip";

/** Result of one vector: its position in the file, protocol name and why it did not pass. */
export interface VectorResult {
  readonly index: number;
  readonly name: string;
  readonly status: VectorStatus;
  readonly reason?: string;
}

/** Results of a whole file. */
export interface VectorSummary {
  readonly results: readonly VectorResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** A vector is malformed or our output differs from it. */
class VectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VectorError";
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hexField(obj: Json, field: string): Uint8Array | undefined {
  const value = obj[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new VectorError(`${field} is not a hex string`);
  try {
    return fromHex(value);
  } catch {
    throw new VectorError(`${field} is not valid hex`);
  }
}

function hexListField(obj: Json, field: string): Uint8Array[] | undefined {
  const value = obj[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new VectorError(`${field} is not a list`);
  return value.map((item, i) => {
    if (typeof item !== "string") throw new VectorError(`${field}[${i}] is not a string`);
    try {
      return fromHex(item);
    } catch {
      throw new VectorError(`${field}[${i}] is not valid hex`);
    }
  });
}

function requireEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (!constantTimeEqual(actual, expected)) {
    throw new VectorError(`${what} mismatch: got ${toHex(actual).slice(0, 32)}…`);
  }
}

function party(vector: Json, prefix: "init" | "resp", name: string, backend: Backend): Handshake {
  return createHandshake({
    protocolName: name,
    initiator: prefix === "init",
    prologue: hexField(vector, `${prefix}_prologue`),
    staticPrivate: hexField(vector, `${prefix}_static`),
    ephemeralPrivate: hexField(vector, `${prefix}_ephemeral`),
    remoteStatic: hexField(vector, `${prefix}_remote_static`),
    psks: hexListField(vector, `${prefix}_psks`),
    backend,
  });
}

function play(vector: Json, name: string, backend: Backend): void {
  const messages = vector.messages;
  if (!Array.isArray(messages)) throw new VectorError("messages is not a list");
  const expectedHash = hexField(vector, "handshake_hash");
  const init = party(vector, "init", name, backend);
  const resp = party(vector, "resp", name, backend);
  let transports: [NoiseTransport, NoiseTransport] | null = null;

  const finishHandshake = () => {
    if (!init.isFinished || !resp.isFinished) {
      throw new VectorError("parties disagree on the end of the handshake");
    }
    requireEqual(init.handshakeHash, resp.handshakeHash, "initiator vs responder handshake hash");
    if (expectedHash !== undefined) {
      requireEqual(init.handshakeHash, expectedHash, "handshake hash");
    }
    transports = [init.split(), resp.split()];
  };

  messages.forEach((message: unknown, i) => {
    if (!isObject(message)) throw new VectorError(`message ${i} is not an object`);
    const payload = hexField(message, "payload") ?? new Uint8Array(0);
    const ciphertext = hexField(message, "ciphertext");
    if (ciphertext === undefined) throw new VectorError(`message ${i} has no ciphertext`);
    const fromInitiator = i % 2 === 0;
    if (transports === null && (init.isFinished || resp.isFinished)) finishHandshake();
    if (transports === null) {
      const [sender, receiver] = fromInitiator ? [init, resp] : [resp, init];
      requireEqual(sender.writeMessage(payload), ciphertext, `message ${i} ciphertext`);
      requireEqual(receiver.readMessage(ciphertext), payload, `message ${i} payload`);
    } else {
      const [sender, receiver] = fromInitiator ? transports : [transports[1], transports[0]];
      requireEqual(sender.encrypt(payload), ciphertext, `message ${i} ciphertext`);
      requireEqual(receiver.decrypt(ciphertext), payload, `message ${i} payload`);
    }
  });
  if (transports === null && (init.isFinished || resp.isFinished)) finishHandshake();
  if (transports === null && expectedHash !== undefined) {
    throw new VectorError("handshake did not finish, so its hash cannot be checked");
  }
}

/** Runs one vector; never throws. Unsupported protocols are skipped. */
export function runVector(
  vector: unknown,
  index: number,
  backend: Backend = "native",
): VectorResult {
  if (!isObject(vector)) return { index, name: "?", status: "fail", reason: "not an object" };
  const rawName = vector.protocol_name ?? vector.name;
  if (typeof rawName !== "string") {
    return { index, name: "?", status: "fail", reason: "no protocol_name" };
  }
  const name = rawName;
  try {
    play(vector, name, backend);
    return { index, name, status: "ok" };
  } catch (err) {
    if (err instanceof NoiseError && err.code === "unsupported-protocol") {
      return { index, name, status: "skip", reason: err.message };
    }
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { index, name, status: "fail", reason };
  }
}

/** Runs every vector of a parsed cacophony-format file. Throws if the file has no `vectors` list. */
export function runVectorFile(file: unknown, backend: Backend = "native"): VectorSummary {
  if (!isObject(file) || !Array.isArray(file.vectors)) {
    throw new VectorError('expected {"vectors": [...]}');
  }
  const results = file.vectors.map((vector: unknown, i: number) => runVector(vector, i, backend));
  const count = (status: VectorStatus) => results.filter((r) => r.status === status).length;
  return { results, passed: count("ok"), failed: count("fail"), skipped: count("skip") };
}

/** One report line: `ok|FAIL|skip <name> #<index>[: reason]`. */
export function formatVectorResult(result: VectorResult): string {
  const label = result.status === "ok" ? "ok  " : result.status === "fail" ? "FAIL" : "skip";
  const reason = result.reason === undefined ? "" : `: ${result.reason}`;
  return `${label} ${result.name} #${result.index}${reason}`;
}

/** The summary line: exactly `N passed, M failed, K skipped`. */
export function formatVectorSummary(summary: VectorSummary): string {
  return `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`;
}
