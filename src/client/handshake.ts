/**
 * The client's side of the connect handshake (PROTOCOL.md §2, §3): Hello
 * with the device-key proof, the server's Auth (and its ML-DSA-65 signature
 * for a hybrid pattern), our last Noise message, and the server's Ack, the
 * first transport message. Ends with what a `CommuCatClient` runs on.
 *
 * @module
 */
import {
  type Backend,
  certificateToJson,
  concatBytes,
  createHandshake,
  type DeviceCertificate,
  EpochTransport,
  fromHex,
  fromUtf8,
  type Handshake,
  hybridOf,
  nativeEd25519,
  nobleEd25519,
  parseCertificate,
  proveDeviceKey,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  type SessionPattern,
  sessionPattern,
  toHex,
  utf8,
  zkpContext,
  zkpToJson,
} from "../crypto/mod.ts";
import { x25519PublicFromPrivate } from "../crypto/noise/mod.ts";
import {
  ACK_UPTO_CAPABILITY,
  authFrame as authMessage,
  type DecodedFrame,
  decodeFrame,
  DEFAULT_PADDING,
  DEFAULT_PROLOGUE,
  encodeFrame,
  encodeUnit,
  FrameType,
  helloFrame,
  PAD1_CAPABILITY,
  type PaddingPolicy,
  REKEY_CAPABILITY,
  stripPadding,
  UnitDecoder,
} from "../proto/mod.ts";
import { ML_DSA_65, pqSuite } from "../crypto/pq/mod.ts";
import {
  type FecPolicy,
  MULTIPATH_CAPABILITY,
  parseFecPolicy,
  PathKeys,
  RAPTORQ_CAPABILITY,
} from "../multipath/mod.ts";
import type { ClientChannel } from "./channel.ts";
import { MultipathChannel } from "./multipath.ts";
import { type ClientOptions, ServerError, type SessionInfo } from "./options.ts";

/** Push-mode reading (the channel has `listen`): what the handshake read past its last message. */
export interface PushSource {
  first: Uint8Array | null;
}

/** An established session: what {@link handshake} hands the client it becomes. */
export interface Established {
  /** The channel to run on (a multipath channel over the first one when the server offered it). */
  channel: ClientChannel;
  transport: EpochTransport;
  /** The unit decoder of what the session reads next. */
  units: UnitDecoder;
  /** Pull mode (an iterator of chunks) or push mode (see {@link PushSource}). */
  source: AsyncIterator<Uint8Array> | PushSource;
  session: SessionInfo;
  /** The sequence of our next frame. */
  nextSequence: number;
  /** The sequence of the server's Ack. */
  lastServerSequence: number;
  /** The padding policy when the server accepted `pad1`, else null. */
  padding: PaddingPolicy | null;
}

/**
 * The pattern to use under the client's PQ policy: the hybrid of the named
 * one when the server's ML-DSA key is pinned (unless `off`). Throws when the
 * policy or the pattern needs a pin that is missing.
 */
export function choosePattern(options: ClientOptions): SessionPattern {
  const named = sessionPattern(options.pattern ?? SESSION_PATTERN_NAMES[0]);
  const mode = options.pq ?? "prefer";
  const pinned = options.serverPqPublic !== undefined;
  if (pinned && options.serverPqPublic!.length !== ML_DSA_65.publicKeyLength) {
    throw new Error(`serverPqPublic must be ${ML_DSA_65.publicKeyLength} bytes (ML-DSA-65)`);
  }
  if (mode === "off") {
    if (named.hybrid) throw new Error(`pattern ${named.name} is post-quantum but pq is "off"`);
    return named;
  }
  const hybrid = hybridOf(named.name);
  if (hybrid !== undefined && pinned) return hybrid;
  if (mode === "require" || named.hybrid) {
    throw new Error(
      `a post-quantum handshake needs the server's pinned ML-DSA-65 key (serverPqPublic; ` +
        `the CLI profile's server_pq_public, from /api/server-info)`,
    );
  }
  return named;
}

/**
 * Refuses a hybrid reply (message 2 payload, just read by `noise`) whose
 * ML-DSA-65 signature is missing or not by the pinned key.
 */
export async function verifyServerSignature(
  noise: Handshake,
  payload: Uint8Array,
  pinned: Uint8Array,
  backend: Backend = "native",
): Promise<void> {
  let signature: unknown;
  try {
    signature = (JSON.parse(fromUtf8(payload)) as { pq_signature?: unknown }).pq_signature;
  } catch {
    signature = undefined;
  }
  if (typeof signature !== "string" || !/^[0-9a-f]+$/.test(signature)) {
    throw new Error("the server's hybrid handshake reply carries no ML-DSA-65 signature");
  }
  const ok = await pqSuite(backend === "noble" ? "noble" : "webcrypto").signer.verify(
    pinned,
    serverSignatureMessage(noise.payloadHash!),
    fromHex(signature),
  );
  if (!ok) {
    throw new Error(
      "the server's ML-DSA-65 signature does not match the pinned key: refusing the connection",
    );
  }
}

/**
 * Runs the handshake on `channel` under `options`; rejects with the
 * server's Error on refusal (the caller closes the channel and times it out).
 */
export async function handshake(
  channel: ClientChannel,
  options: ClientOptions,
): Promise<Established> {
  const pattern = choosePattern(options);
  const padding = options.padding ?? DEFAULT_PADDING;
  const askPadding = padding.mode !== "off";
  const privateKey = options.devicePrivateKey;
  const backend = options.backend ?? "native";
  const devicePublic = (backend === "noble" ? nobleEd25519 : nativeEd25519).publicFromSeed(
    privateKey,
  );
  const clientStatic = x25519PublicFromPrivate(privateKey, backend);
  const noise: Handshake = createHandshake({
    backend,
    protocolName: pattern.protocolName,
    initiator: true,
    prologue: utf8(options.prologue ?? DEFAULT_PROLOGUE),
    staticPrivate: privateKey,
    remoteStatic: options.serverStatic,
  });
  const context = zkpContext(options.domain, options.deviceId, devicePublic, clientStatic);
  const proof = proveDeviceKey({ privateSeed: privateKey, publicKey: devicePublic, context });
  // A first message that authenticates us (IK) is final for the server: a timestamp makes a
  // replay stale.
  const msg1 = await noise.writeMessageAsync(
    pattern.clientStaticInFirstMessage
      ? utf8(JSON.stringify({ timestamp: Date.now() }))
      : undefined,
  );
  let sequence = 1;
  channel.write(encodeFrame(helloFrame({
    pattern: pattern.name,
    supportedVersions: [1],
    deviceId: options.deviceId,
    handshake: toHex(msg1),
    clientStatic: toHex(clientStatic),
    devicePublic: toHex(devicePublic),
    zkp: zkpToJson(proof),
    // Cumulative Acks for our requests (PROTOCOL.md §4); an older server ignores this.
    // …and in-session rekeys the server starts (PROTOCOL.md §3), padding (§2) and,
    // when asked to, multipath sessions (PROTOCOL.md "Multipath").
    capabilities: [
      ACK_UPTO_CAPABILITY,
      REKEY_CAPABILITY,
      ...(askPadding ? [PAD1_CAPABILITY] : []),
      ...(options.paths?.length ? [MULTIPATH_CAPABILITY] : []),
      ...(options.paths?.length && options.fec ? [RAPTORQ_CAPABILITY] : []),
    ],
    user: options.user,
    certificateJson: options.certificate ? certificateText(options.certificate) : undefined,
  }, sequence++)));

  const units = new UnitDecoder();
  const iterator = channel.chunks[Symbol.asyncIterator]();
  const pending: Uint8Array[] = [];
  const nextBlob = async (): Promise<Uint8Array> => {
    while (pending.length === 0) {
      const { value, done } = await iterator.next();
      if (done) throw new Error("server closed the connection during the handshake");
      pending.push(...units.push(value));
    }
    return pending.shift()!;
  };
  const asPlainFrame = (blob: Uint8Array): DecodedFrame | null => {
    try {
      return decodeFrame(encodeUnit(blob))?.frame ?? null;
    } catch {
      return null;
    }
  };

  // Server Auth (Noise message 2), plaintext.
  const authFrame = asPlainFrame(await nextBlob());
  if (!authFrame) throw new Error("malformed handshake reply");
  if (authFrame.type === FrameType.Error) {
    throw new ServerError(authFrame.control as Record<string, unknown>);
  }
  if (authFrame.type !== FrameType.Auth) {
    throw new Error(`unexpected handshake reply type ${authFrame.type}`);
  }
  const auth = authFrame.control as { handshake: string; session: string };
  const reply = await noise.readMessageAsync(fromHex(auth.handshake));
  if (pattern.hybrid) {
    await verifyServerSignature(noise, reply, options.serverPqPublic!, backend);
  }
  if (!noise.isFinished) {
    const msg3 = noise.writeMessage();
    channel.write(encodeFrame(authMessage(authFrame.channel, sequence++, toHex(msg3))));
  }
  const transport = new EpochTransport(noise.split());
  // The Ack is the first transport message; a refusal here is a plaintext Error.
  const blob = await nextBlob();
  let ackFrame: DecodedFrame | null = null;
  try {
    // Having asked for pad1, the Ack may be padded already (an Ack that is not reads the same).
    const plaintext = transport.decrypt(blob);
    ackFrame = decodeFrame(askPadding ? stripPadding(plaintext) : plaintext)?.frame ?? null;
  } catch {
    const plain = asPlainFrame(blob);
    if (plain?.type === FrameType.Error) {
      throw new ServerError(plain.control as Record<string, unknown>);
    }
    throw new Error("could not read the server's Ack");
  }
  if (!ackFrame || ackFrame.type !== FrameType.Ack) throw new Error("expected the server's Ack");
  const ack = ackFrame.control as Record<string, unknown>;
  const session: SessionInfo = { sessionId: String(ack.session), userId: String(ack.user_id), ack };
  const padded = askPadding && Array.isArray(ack.capabilities) &&
    ack.capabilities.includes(PAD1_CAPABILITY);
  options.onUnit?.("in", blob.length);
  const multipath = options.paths?.length && ack.multipath
    ? multipathChannel(
      channel,
      { bodies: pending.splice(0), units },
      iterator,
      transport,
      ack,
      options,
    )
    : null;
  return {
    channel: multipath ?? channel,
    transport,
    units: multipath ? new UnitDecoder() : units,
    source: multipath ? multipath.chunks[Symbol.asyncIterator]() : channel.listen
      // Push mode: the iterator is not read again (it waits at a yield, holding nothing).
      ? { first: pending.length > 0 ? concatAll(pending.splice(0)) : null }
      : {
        next: () =>
          pending.length > 0
            ? Promise.resolve({ value: concatAll(pending.splice(0)), done: false })
            : iterator.next(),
      },
    session,
    nextSequence: sequence,
    lastServerSequence: ackFrame.sequence,
    padding: padded ? padding : null,
  };
}

/**
 * The multipath channel over `channel` when the server's Ack carries
 * `multipath` (else null: an older server or multipath off, one path).
 */
function multipathChannel(
  channel: ClientChannel,
  rest: { bodies: Uint8Array[]; units: UnitDecoder },
  more: AsyncIterator<Uint8Array>,
  transport: EpochTransport,
  ack: Record<string, unknown>,
  options: ClientOptions,
): MultipathChannel | null {
  const offer = ack.multipath as { secret?: unknown; linger_ms?: unknown; max_paths?: unknown };
  if (!offer || typeof offer.secret !== "string") return null;
  const keys = PathKeys.derive(fromHex(offer.secret, 32), transport.handshakeHash);
  const maxExtra = typeof offer.max_paths === "number" ? offer.max_paths - 1 : 3;
  const policy: FecPolicy = parseFecPolicy(options.fecPolicy ?? "auto");
  return new MultipathChannel(channel, rest, more, keys, {
    url: options.url,
    caCerts: options.caCerts,
    httpClient: options.httpClient,
    webSocketChannel: options.webSocketChannel,
    extraPaths: options.paths!.slice(0, Math.max(0, maxExtra)),
    policy: { default: policy },
    fec: options.fec,
    lingerMs: typeof offer.linger_ms === "number" ? offer.linger_ms : 15_000,
    onPaths: options.onPaths,
  });
}

function concatAll(blobs: Uint8Array[]): Uint8Array {
  return concatBytes(...blobs.map(encodeUnit));
}

function certificateText(cert: DeviceCertificate | Record<string, unknown> | string): string {
  if (typeof cert === "string") return certificateToJson(parseCertificate(cert));
  return certificateToJson(parseCertificate(cert as object));
}
