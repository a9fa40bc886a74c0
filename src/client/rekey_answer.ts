/**
 * The client's part of an in-session rekey (PROTOCOL.md §3): the server
 * starts it, the client answers.
 *
 * @module
 */
import { answerRekey, type Backend, type EpochTransport } from "../crypto/mod.ts";
import { controlFrame, FrameType, parseRekeyBody, rekeyBody } from "../proto/mod.ts";

/** What the rekey of one session needs from its client. */
export interface RekeyPeer {
  readonly transport: EpochTransport;
  readonly backend: Backend;
  /** True once the connection ended (an answer computed after it is dropped). */
  closed(): boolean;
  /** Sends our `reply` (a KeyUpdate payload) under the current sending key. */
  send(payload: Uint8Array): void;
  /** Ends the connection: the two sides' keys no longer match. */
  fail(error: Error): void;
}

/**
 * Answers the server's rekey messages: `init` is answered with `reply` (our
 * sending key switches right after it), `done` switches our receiving key
 * before the next transport message is read. Anything out of order ends the
 * connection: the keys of the two sides would no longer match.
 */
export class RekeyAnswer {
  readonly #peer: RekeyPeer;
  /** Set between sending a `reply` and reading the server's `done`. */
  #done: (() => void) | null = null;
  #answering = false;

  constructor(peer: RekeyPeer) {
    this.#peer = peer;
  }

  /** Handles the control body of one server rekey frame. */
  onMessage(control: Record<string, unknown>): void {
    let message;
    try {
      message = parseRekeyBody(control);
      if (message.step === "reply") throw new Error("rekey: the server sent a reply");
      if (message.step === "done" && this.#done === null) {
        throw new Error("rekey: done without a pending exchange");
      }
      if (message.step === "init" && (this.#answering || this.#done !== null)) {
        throw new Error("rekey: init while an exchange is running");
      }
    } catch (error) {
      this.#peer.fail(error as Error);
      return;
    }
    if (message.step === "done") {
      this.#done!();
      this.#done = null;
      return;
    }
    this.#answering = true;
    const peer = this.#peer;
    answerRekey(peer.transport, message.noise, peer.backend).then(
      ({ reply, afterReply, onDone }) => {
        this.#answering = false;
        if (peer.closed()) return;
        peer.send(controlFrame(FrameType.KeyUpdate, 0, 0, rekeyBody("reply", reply)).payload);
        afterReply();
        this.#done = onDone;
      },
      (error) => peer.fail(new Error(`rekey: ${(error as Error).message}`)),
    );
  }
}
