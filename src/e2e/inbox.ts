/**
 * The receiving half of an `E2EDevice` (device.ts): what an incoming Msg payload means. Plain
 * payloads pass through; Welcomes join (once, with a key package of this device); commits and
 * application messages of the current or a recent epoch are processed; those of a later epoch are
 * held until the commit that reaches it; repeats are reported as `duplicate`.
 *
 * @module
 */
import {
  type ClientConfig,
  type ClientState,
  decodeMlsMessage,
  joinGroup,
  makePskIndex,
  type MLSMessage,
  processMessage,
  type Welcome,
} from "ts-mls";
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { getCredentialFromLeafIndex } from "ts-mls/ratchetTree.js";
import { toLeafIndex } from "ts-mls/treemath.js";
import { compareBytes, hex, sameBytes, sha256 } from "./bytes.ts";
import { isE2EPayload, unpadApplication, unwrapMls } from "./envelope.ts";
import type { E2EEvent } from "./events.ts";
import type { DeviceGroups } from "./groups.ts";
import { credentialDevice, type DeviceIdentity } from "./key_package.ts";
import { findOwnKeyPackage } from "./own_key_packages.ts";
import type { DevicePins } from "./pins.ts";
import type { HeldPayloads, SeenPayloads } from "./replay.ts";
import type { E2EStore } from "./store.ts";
import { e2eSuite } from "./suite.ts";

/** The device state an {@link Inbox} reads and changes (shared with the device). */
export interface InboxParts {
  identity: DeviceIdentity;
  store: E2EStore;
  config: ClientConfig;
  groups: DeviceGroups;
  pins: DevicePins;
  seen: SeenPayloads;
  held: HeldPayloads;
}

/** Turns received payloads into events, changing the device's groups as they say. */
export class Inbox {
  readonly #identity: DeviceIdentity;
  readonly #store: E2EStore;
  readonly #config: ClientConfig;
  readonly #groups: DeviceGroups;
  readonly #pins: DevicePins;
  readonly #seen: SeenPayloads;
  readonly #held: HeldPayloads;

  constructor(parts: InboxParts) {
    this.#identity = parts.identity;
    this.#store = parts.store;
    this.#config = parts.config;
    this.#groups = parts.groups;
    this.#pins = parts.pins;
    this.#seen = parts.seen;
    this.#held = parts.held;
  }

  /** What `payload`, received on `channel`, means (the caller serialises calls). */
  async receive(channel: number, payload: Uint8Array): Promise<E2EEvent[]> {
    if (!isE2EPayload(payload)) return [{ kind: "plaintext", channel, data: payload.slice() }];
    let message: MLSMessage;
    try {
      const bytes = unwrapMls(payload);
      const decoded = decodeMlsMessage(bytes, 0);
      if (!decoded || decoded[1] !== bytes.length) throw new Error("undecodable");
      message = decoded[0];
    } catch {
      return [{ kind: "refused", channel, code: "bad_message", reason: "not an MLS message" }];
    }
    if (message.wireformat === "mls_welcome") {
      return await this.#onWelcome(channel, payload, message.welcome);
    }
    if (await this.#seen.has(channel, payload)) return [{ kind: "duplicate", channel }];
    if (message.wireformat !== "mls_private_message") {
      return [{
        kind: "refused",
        channel,
        code: "bad_message",
        reason: `${message.wireformat} is not accepted on a channel`,
      }];
    }
    const state = this.#groups.get(channel);
    const pm = message.privateMessage;
    if (!state) {
      this.#held.hold(channel, payload, pm.epoch);
      return [{ kind: "held", channel, epoch: pm.epoch }];
    }
    if (!sameBytes(pm.groupId, state.groupContext.groupId)) {
      return [{
        kind: "refused",
        channel,
        code: "wrong_group",
        reason: "message of another group",
      }];
    }
    if (pm.epoch > state.groupContext.epoch) {
      this.#held.hold(channel, payload, pm.epoch);
      return [{ kind: "held", channel, epoch: pm.epoch }];
    }
    const events = await this.#process(channel, state, payload, message);
    if (events.some((e) => e.kind === "membership" || e.kind === "joined")) {
      events.push(...await this.#releaseHeld(channel));
    }
    return events;
  }

  async #process(
    channel: number,
    state: ClientState,
    payload: Uint8Array,
    message: MLSMessage,
  ): Promise<E2EEvent[]> {
    if (message.wireformat !== "mls_private_message") return [];
    const cs = await e2eSuite();
    const pm = message.privateMessage;
    // Who sent it: the sender data names a leaf of that epoch's tree (the signature check in
    // processMessage then authenticates it with that leaf's key).
    const epochData = pm.epoch === state.groupContext.epoch
      ? { secret: state.keySchedule.senderDataSecret, tree: state.ratchetTree }
      : (() => {
        const old = state.historicalReceiverData.get(pm.epoch);
        return old ? { secret: old.senderDataSecret, tree: old.ratchetTree } : undefined;
      })();
    if (!epochData) {
      return [{
        kind: "refused",
        channel,
        code: "stale_epoch",
        reason: `epoch ${pm.epoch} is too old`,
      }];
    }
    let sender = "?";
    try {
      const senderData = await decryptSenderData(pm, epochData.secret, cs);
      if (!senderData) throw new Error("sender data");
      const leafIndex = toLeafIndex(senderData.leafIndex);
      const identity = credentialDevice(getCredentialFromLeafIndex(epochData.tree, leafIndex));
      const leaf = epochData.tree[leafIndex * 2];
      sender = identity === null
        ? "?"
        : leaf?.nodeType === "leaf"
        ? this.#pins.nameOf(identity, leaf.leaf.signaturePublicKey)
        : identity;
    } catch {
      return [{ kind: "refused", channel, code: "bad_message", reason: "cannot read the sender" }];
    }
    const before = this.#groups.membersOf(state);
    let result;
    try {
      result = await processMessage(message, state, makePskIndex(state, {}), () => "accept", cs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const code = pm.epoch < state.groupContext.epoch ? "stale_epoch" : "bad_message";
      return [{ kind: "refused", channel, code, reason }];
    }
    await this.#seen.remember(channel, payload);
    if (result.kind === "applicationMessage") {
      await this.#groups.save(channel, result.newState);
      try {
        return [{
          kind: "message",
          channel,
          sender,
          data: unpadApplication(result.message),
          epoch: pm.epoch,
        }];
      } catch (error) {
        return [{
          kind: "refused",
          channel,
          code: "bad_message",
          reason: (error as Error).message,
        }];
      }
    }
    const next = result.newState;
    if (next.groupActiveState.kind === "removedFromGroup") {
      this.#held.forget(channel);
      await this.#groups.forget(channel);
      return [{ kind: "removed", channel, by: sender }];
    }
    await this.#groups.save(channel, next);
    const after = this.#groups.membersOf(next);
    const beforeIds = new Set(before.map((m) => m.deviceId));
    const afterIds = new Set(after.map((m) => m.deviceId));
    // New leaves were pinned (or matched a pin) when their credentials were validated.
    return [{
      kind: "membership",
      channel,
      added: [...afterIds].filter((id) => !beforeIds.has(id)),
      removed: [...beforeIds].filter((id) => !afterIds.has(id)),
      epoch: next.groupContext.epoch,
      by: sender,
    }];
  }

  async #onWelcome(channel: number, payload: Uint8Array, welcome: Welcome): Promise<E2EEvent[]> {
    const cs = await e2eSuite();
    const welcomeKey = `welcome/${hex(await sha256(payload))}`;
    if (await this.#store.get(welcomeKey)) {
      // Delivered again (at least once), or replayed by someone: never joined twice.
      return [{
        kind: "refused",
        channel,
        code: "replayed_welcome",
        reason: "this Welcome was used already",
      }];
    }
    const mine = await findOwnKeyPackage(this.#store, this.#identity, welcome, cs);
    if (mine === "none") {
      // A Welcome goes to the whole channel; the ones for other devices are not ours to read.
      return [{ kind: "ignored", channel, reason: "Welcome for other devices" }];
    }
    if (mine === "mismatch") {
      return [{ kind: "refused", channel, code: "bad_message", reason: "key package mismatch" }];
    }
    let state: ClientState;
    try {
      state = await joinGroup(
        welcome,
        mine.keyPackage,
        mine.privateKeys,
        makePskIndex(undefined, {}),
        cs,
        undefined,
        undefined,
        this.#config,
      );
    } catch (error) {
      return [{
        kind: "refused",
        channel,
        code: "bad_message",
        reason: `Welcome refused: ${(error as Error).message}`,
      }];
    }
    const existing = this.#groups.get(channel);
    if (
      existing && sameBytes(existing.groupContext.groupId, state.groupContext.groupId) &&
      existing.groupContext.epoch >= state.groupContext.epoch
    ) {
      return [{
        kind: "refused",
        channel,
        code: "replayed_welcome",
        reason: "already in this group",
      }];
    }
    if (
      existing && !sameBytes(existing.groupContext.groupId, state.groupContext.groupId) &&
      compareBytes(state.groupContext.groupId, existing.groupContext.groupId) > 0
    ) {
      // Two members opened the channel's conversation at once: every member keeps the group
      // with the smaller id, so all of them end up in the same one.
      return [{
        kind: "ignored",
        channel,
        reason: "a concurrent conversation on this channel (the one with the smaller id is kept)",
      }];
    }
    // One-time key packages are used once: their private keys go now, so a replayed Welcome
    // can never be opened again. A last-resort one stays (a replay then hits the check above).
    if (!mine.lastResort) await this.#store.delete(mine.key);
    await this.#store.put(welcomeKey, new Uint8Array([1]));
    await this.#seen.remember(channel, payload);
    this.#held.dropBefore(channel, state.groupContext.epoch);
    await this.#groups.save(channel, state);
    // Every leaf was pinned (or matched a pin) when the tree's credentials were validated.
    const members = this.#groups.membersOf(state);
    const events: E2EEvent[] = [{
      kind: "joined",
      channel,
      members: members.map((m) => m.deviceId),
      epoch: state.groupContext.epoch,
    }];
    events.push(...await this.#releaseHeld(channel));
    return events;
  }

  /** Retries held payloads that the group's epoch has reached (in epoch order). */
  async #releaseHeld(channel: number): Promise<E2EEvent[]> {
    const events: E2EEvent[] = [];
    let progress = true;
    while (progress) {
      progress = false;
      const state = this.#groups.get(channel);
      if (!state) break;
      const ready = this.#held.takeReady(channel, state.groupContext.epoch);
      if (ready.length === 0) break;
      for (const h of ready) {
        const more = await this.receive(channel, h.payload);
        events.push(...more.filter((e) => e.kind !== "duplicate"));
        if (more.some((e) => e.kind === "membership")) progress = true;
      }
    }
    return events;
  }
}
