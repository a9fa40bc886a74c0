/**
 * The MLS group states of one device, one per conversation channel, kept as `group/<channel>` in
 * its store, and how a group's leaves are named (through the device's pins).
 *
 * @module
 */
import { type ClientConfig, type ClientState, decodeGroupState, encodeGroupState } from "ts-mls";
import { E2EError } from "./errors.ts";
import type { GroupMember } from "./events.ts";
import { credentialDevice } from "./key_package.ts";
import type { DevicePins } from "./pins.ts";
import type { E2EStore } from "./store.ts";

/** The group state per channel, in memory and in the store. */
export class DeviceGroups {
  readonly #store: E2EStore;
  readonly #pins: DevicePins;
  readonly #groups = new Map<number, ClientState>();

  constructor(store: E2EStore, pins: DevicePins) {
    this.#store = store;
    this.#pins = pins;
  }

  /** Reads the group states kept in the store; `config` is the device's (not stored). */
  async load(config: ClientConfig): Promise<void> {
    for (const key of await this.#store.keys("group/")) {
      const bytes = await this.#store.get(key);
      const decoded = bytes ? decodeGroupState(bytes, 0) : undefined;
      if (!decoded) continue;
      this.#groups.set(Number(key.slice(6)), { ...decoded[0], clientConfig: config });
    }
  }

  /** The channels with a group, in ascending order. */
  channels(): number[] {
    return [...this.#groups.keys()].sort((a, b) => a - b);
  }

  /** True when `channel` has a group. */
  has(channel: number): boolean {
    return this.#groups.has(channel);
  }

  /** The group state of `channel`, if any. */
  get(channel: number): ClientState | undefined {
    return this.#groups.get(channel);
  }

  /** The group state of `channel`; throws `no_group` when there is none. */
  require(channel: number): ClientState {
    const state = this.#groups.get(channel);
    if (!state) throw new E2EError("no_group", `no end-to-end group on channel ${channel}`);
    return state;
  }

  /** The members of a group state, named by the pins (`DevicePins.nameOf`). */
  membersOf(state: ClientState): GroupMember[] {
    const out: GroupMember[] = [];
    state.ratchetTree.forEach((node, index) => {
      if (node?.nodeType !== "leaf") return;
      const identity = credentialDevice(node.leaf.credential);
      if (identity === null) return;
      const publicKey = node.leaf.signaturePublicKey;
      out.push({
        deviceId: this.#pins.nameOf(identity, publicKey),
        publicKey,
        leafIndex: index / 2,
      });
    });
    return out;
  }

  /** Makes `state` the group of `channel` and stores it. */
  async save(channel: number, state: ClientState): Promise<void> {
    this.#groups.set(channel, state);
    await this.#store.put(`group/${channel}`, encodeGroupState(state));
  }

  /** Drops the group of `channel` (this device was removed from it). */
  async forget(channel: number): Promise<void> {
    this.#groups.delete(channel);
    await this.#store.delete(`group/${channel}`);
  }
}
