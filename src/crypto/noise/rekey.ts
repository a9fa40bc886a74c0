/**
 * In-session rekey: a fresh hybrid exchange inside an established tunnel
 * replaces the transport keys, so a leaked session key exposes one epoch only.
 *
 * The exchange is a Noise `NNhfs` handshake (`-> e, e1` / `<- e, ee, ekem1`:
 * new X25519 and ML-KEM-768 keys on both sides) whose prologue binds it to
 * the session: `"commucat-rekey" ‖ epoch (u32be) ‖ h`, h the current epoch's
 * handshake hash. Its Split() gives the next epoch's keys. The two messages
 * and a closing marker travel inside the tunnel, each under the old keys:
 *
 * 1. A → B `init` (NNhfs message 1).
 * 2. B → A `reply` (message 2); right after sending it B sends with the new keys.
 * 3. A, on `reply`: receives with the new keys from the next message on, sends
 *    `done` (the last message under its old key), then sends with the new keys.
 * 4. B, on `done`: receives with the new keys from the next message on.
 *
 * Each direction switches at one message both sides agree on (the reply, the
 * done), so nothing in flight is lost or reordered: everything sent before a
 * switch point is read with the old key, everything after with the new one.
 * {@linkcode EpochTransport} is the transport whose two directions switch
 * independently; {@linkcode RekeyInitiator} / {@linkcode answerRekey} run the
 * exchange.
 *
 * @module
 */

import { concatBytes, utf8 } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import { createHandshake, type Handshake } from "./handshake.ts";
import type { Backend } from "./primitives.ts";
import type { NoiseTransport } from "./transport.ts";

/** The Noise protocol of the rekey exchange. */
export const REKEY_PROTOCOL = "Noise_NNhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";

function rekeyPrologue(epoch: number, handshakeHash: Uint8Array): Uint8Array {
  const counter = new Uint8Array(4);
  new DataView(counter.buffer).setUint32(0, epoch);
  return concatBytes(utf8("commucat-rekey"), counter, handshakeHash);
}

/**
 * A transport whose sending and receiving directions move to the next
 * epoch's keys independently, at the points the rekey exchange fixes.
 */
export class EpochTransport implements NoiseTransport {
  #send: NoiseTransport;
  #recv: NoiseTransport;
  #epoch = 0;

  constructor(initial: NoiseTransport) {
    this.#send = initial;
    this.#recv = initial;
  }

  /** Number of completed rekeys of the sending direction. */
  get epoch(): number {
    return this.#epoch;
  }

  /** From the next message on, send with `next` (the old sending key is wiped). */
  switchSend(next: NoiseTransport): void {
    if (this.#send !== this.#recv) this.#send.destroy();
    this.#send = next;
    this.#epoch++;
  }

  /** From the next message on, receive with `next` (the old receiving key is wiped). */
  switchRecv(next: NoiseTransport): void {
    if (this.#recv !== this.#send) this.#recv.destroy();
    this.#recv = next;
  }

  encrypt(plaintext: Uint8Array): Uint8Array {
    return this.#send.encrypt(plaintext);
  }

  decrypt(ciphertext: Uint8Array): Uint8Array {
    return this.#recv.decrypt(ciphertext);
  }

  encryptInPlace(buf: Uint8Array, at: number, length: number): number {
    return this.#send.encryptInPlace(buf, at, length);
  }

  decryptInPlace(ciphertext: Uint8Array): Uint8Array {
    return this.#recv.decryptInPlace(ciphertext);
  }

  openInPlace(ciphertext: Uint8Array): number {
    return this.#recv.openInPlace(ciphertext);
  }

  rekeySend(): void {
    this.#send.rekeySend();
  }

  rekeyRecv(): void {
    this.#recv.rekeyRecv();
  }

  get sendNonce(): number {
    return this.#send.sendNonce;
  }

  get recvNonce(): number {
    return this.#recv.recvNonce;
  }

  /** The handshake hash of the current sending epoch (what the next rekey binds to). */
  get handshakeHash(): Uint8Array {
    return this.#send.handshakeHash;
  }

  destroy(): void {
    this.#send.destroy();
    if (this.#recv !== this.#send) this.#recv.destroy();
  }
}

/** The side that starts a rekey (A above). */
export class RekeyInitiator {
  readonly #noise: Handshake;
  readonly #transport: EpochTransport;

  private constructor(noise: Handshake, transport: EpochTransport) {
    this.#noise = noise;
    this.#transport = transport;
  }

  /** Starts a rekey of `transport`; returns the exchange and the `init` message to send. */
  static async start(
    transport: EpochTransport,
    backend: Backend = "native",
  ): Promise<{ rekey: RekeyInitiator; init: Uint8Array }> {
    const noise = createHandshake({
      protocolName: REKEY_PROTOCOL,
      initiator: true,
      prologue: rekeyPrologue(transport.epoch, transport.handshakeHash),
      backend,
    });
    const init = await noise.writeMessageAsync();
    return { rekey: new RekeyInitiator(noise, transport), init };
  }

  /**
   * Handles the peer's `reply`: the receiving direction switches now (the
   * next message read is under the new key). The caller then sends `done`
   * under the old sending key and calls the returned function to switch it.
   */
  async onReply(reply: Uint8Array): Promise<() => void> {
    await this.#noise.readMessageAsync(reply);
    const next = this.#noise.split();
    this.#transport.switchRecv(next);
    return () => this.#transport.switchSend(next);
  }
}

/**
 * The answering side (B above): reads `init`, returns the `reply` to send
 * under the old key and `afterReply` (switches sending once it is sent) and
 * `onDone` (switches receiving once the peer's `done` has been read).
 */
export async function answerRekey(
  transport: EpochTransport,
  init: Uint8Array,
  backend: Backend = "native",
): Promise<{ reply: Uint8Array; afterReply: () => void; onDone: () => void }> {
  const noise = createHandshake({
    protocolName: REKEY_PROTOCOL,
    initiator: false,
    prologue: rekeyPrologue(transport.epoch, transport.handshakeHash),
    backend,
  });
  await noise.readMessageAsync(init);
  const reply = await noise.writeMessageAsync();
  const next = noise.split();
  let sent = false;
  return {
    reply,
    afterReply: () => {
      sent = true;
      transport.switchSend(next);
    },
    onDone: () => {
      if (!sent) throw new NoiseError("invalid-state", "rekey done before the reply was sent");
      transport.switchRecv(next);
    },
  };
}
