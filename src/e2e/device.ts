/**
 * One device's end-to-end state: its key packages, one MLS group per conversation channel, and
 * the pinned device keys of the members it has seen. It turns outgoing application data into
 * Msg payloads and incoming Msg payloads into events (docs/PROTOCOL.md "End-to-end encryption").
 *
 * Out-of-order, duplicated and lost messages: a payload seen before (the server delivers at least
 * once) is reported as `duplicate`; one of an epoch this device has not reached yet is held (up to
 * `MAX_HELD` per channel, replay.ts) and retried after each commit; one of a recent earlier epoch is
 * still readable (ts-mls keeps 4 epochs of receiver data); generations may arrive in any order
 * within {@link KEY_RETENTION}, and a lost message costs nothing but itself.
 *
 * The pieces: pins.ts (pinned device keys), own_key_packages.ts (private key packages),
 * groups.ts (group state per channel), replay.ts (seen and held payloads), inbox.ts (receiving);
 * this class serialises the calls and does the sending side (groups, commits, encryption).
 *
 * @module
 */
import {
  type ClientConfig,
  createApplicationMessage,
  createCommit,
  createGroup,
  encodeMlsMessage,
  type Proposal,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { e2eSuite } from "./suite.ts";
import { E2EError } from "./errors.ts";
import {
  type DeviceIdentity,
  generateKeyPackageFor,
  type KeyPackageUpload,
  openKeyPackage,
} from "./key_package.ts";
import { padApplication, wrapMls } from "./envelope.ts";
import type { DirectoryEntry, E2EEvent, GroupMember, KeyPackageSource } from "./events.ts";
import { DeviceGroups } from "./groups.ts";
import { Inbox } from "./inbox.ts";
import { makeKeyPackages, unusedKeyPackages } from "./own_key_packages.ts";
import { DevicePins } from "./pins.ts";
import { HeldPayloads, SeenPayloads } from "./replay.ts";
import type { E2EStore } from "./store.ts";

/** Message keys kept for skipped generations, and how far a sender may jump ahead. */
export const KEY_RETENTION = {
  retainKeysForGenerations: 1000,
  retainKeysForEpochs: 4,
  maximumForwardRatchetSteps: 2000,
};

/** The end-to-end engine of one device. Not safe for concurrent calls on one channel. */
export class E2EDevice {
  readonly identity: DeviceIdentity;
  readonly #store: E2EStore;
  readonly #groups: DeviceGroups;
  readonly #seen: SeenPayloads;
  readonly #pins: DevicePins;
  readonly #config: ClientConfig;
  readonly #inbox: Inbox;
  /** Serialises every state change: events of one payload never interleave another's. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(identity: DeviceIdentity, store: E2EStore) {
    this.identity = identity;
    this.#store = store;
    this.#seen = new SeenPayloads(store);
    this.#pins = new DevicePins(store);
    this.#groups = new DeviceGroups(store, this.#pins);
    this.#config = {
      ...defaultClientConfig,
      keyRetentionConfig: KEY_RETENTION,
      // Application data is padded to size buckets before MLS (envelope.ts); commits pad to 256.
      paddingConfig: { kind: "padUntilLength", padUntilLength: 256 },
      authService: { validateCredential: (c, key) => this.#pins.validateCredential(c, key) },
    };
    this.#inbox = new Inbox({
      identity,
      store,
      config: this.#config,
      groups: this.#groups,
      pins: this.#pins,
      seen: this.#seen,
      held: new HeldPayloads(),
    });
  }

  /** Opens the device's state from `store` (empty on first use). */
  static async open(identity: DeviceIdentity, store: E2EStore): Promise<E2EDevice> {
    const device = new E2EDevice(identity, store);
    await device.#load();
    return device;
  }

  async #load(): Promise<void> {
    await this.#pins.load();
    await this.#groups.load(this.#config);
    await this.#seen.load();
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * The address of a leaf whose credential names `identity` with device key `key`: the pinned
   * address with that bare id and that key. When several match (the same key listed under two
   * addresses) the local one wins, else it is ambiguous: null, as when none matches.
   */
  addressOf(identity: string, key: Uint8Array): string | null {
    return this.#pins.addressOf(identity, key);
  }

  /**
   * Records `entry`'s device key (from the directory). A different key for a device already
   * pinned is a key change: it is re-pinned and reported (the caller shows it); the returned
   * event is null when nothing changed.
   */
  pin(entry: DirectoryEntry): Promise<E2EEvent | null> {
    return this.#pins.pin(entry);
  }

  /** The pinned key of `deviceId`, if any. */
  pinnedKey(deviceId: string): Uint8Array | undefined {
    return this.#pins.pinnedKey(deviceId);
  }

  // ---------------------------------------------------------------- key packages

  /**
   * Makes `count` one-time key packages (plus a last-resort one when this device has none),
   * keeps their private keys and returns what to upload.
   */
  newKeyPackages(
    count: number,
    options: { lastResort?: boolean } = {},
  ): Promise<KeyPackageUpload[]> {
    return makeKeyPackages(this.identity, this.#store, count, options);
  }

  /** How many one-time key packages this device holds private keys for (not yet used). */
  unusedKeyPackages(): Promise<number> {
    return unusedKeyPackages(this.#store);
  }

  // ---------------------------------------------------------------- groups

  /** The channels this device has a group on. */
  channels(): number[] {
    return this.#groups.channels();
  }

  /** True when this device has a group for `channel`. */
  hasGroup(channel: number): boolean {
    return this.#groups.has(channel);
  }

  /** The group's current epoch. */
  epoch(channel: number): bigint {
    return this.#groups.require(channel).groupContext.epoch;
  }

  /** The group's members (address, device key, leaf). */
  members(channel: number): GroupMember[] {
    return this.#groups.membersOf(this.#groups.require(channel));
  }

  /** The epoch authenticator (RFC 9420 §8.7): equal on every member in the same epoch. */
  epochAuthenticator(channel: number): Uint8Array {
    return this.#groups.require(channel).keySchedule.epochAuthenticator.slice();
  }

  /**
   * Creates the group of `channel` with this device alone, then adds `devices` (their key
   * packages fetched from `source`). Returns the payloads to send on the channel, in order.
   */
  createGroup(
    channel: number,
    devices: DirectoryEntry[],
    source: KeyPackageSource,
  ): Promise<Uint8Array[]> {
    return this.#serial(async () => {
      if (this.#groups.has(channel)) {
        throw new E2EError("bad_message", `channel ${channel} already has a group`);
      }
      const cs = await e2eSuite();
      const own = await generateKeyPackageFor(this.identity);
      const groupId = crypto.getRandomValues(new Uint8Array(16));
      const state = await createGroup(
        groupId,
        own.publicPackage,
        own.privatePackage,
        [],
        cs,
        this.#config,
      );
      await this.pin({ deviceId: this.identity.deviceId, publicKey: this.identity.publicKey });
      await this.#groups.save(channel, state);
      if (devices.length === 0) return [];
      // The group has no other member yet: only the Welcome needs to travel.
      const [, welcome] = await this.#addLocked(channel, devices, source);
      return welcome ? [welcome] : [];
    });
  }

  /**
   * Adds `devices` to the group of `channel`: one commit (for the current members) and one
   * Welcome (for the new ones). Returns `[commit, welcome]` payloads, to send in that order.
   */
  addDevices(
    channel: number,
    devices: DirectoryEntry[],
    source: KeyPackageSource,
  ): Promise<Uint8Array[]> {
    return this.#serial(async () => {
      const [commit, welcome] = await this.#addLocked(channel, devices, source);
      return welcome ? [commit, welcome] : [commit];
    });
  }

  async #addLocked(
    channel: number,
    devices: DirectoryEntry[],
    source: KeyPackageSource,
  ): Promise<[Uint8Array, Uint8Array | null]> {
    const proposals: Proposal[] = [];
    for (const device of devices) {
      const keyChange = await this.pin(device);
      if (keyChange) this.#pins.report(keyChange);
      const fetched = await source.fetchKeyPackage(device.deviceId);
      const keyPackage = await openKeyPackage(fetched, device.deviceId, device.publicKey);
      proposals.push({ proposalType: "add", add: { keyPackage } });
    }
    return await this.#commit(channel, proposals);
  }

  /** Removes `deviceIds` from the group of `channel` (e.g. a revoked device). Returns `[commit]`. */
  removeDevices(channel: number, deviceIds: string[]): Promise<Uint8Array[]> {
    return this.#serial(async () => {
      const state = this.#groups.require(channel);
      const proposals: Proposal[] = this.#groups.membersOf(state)
        .filter((m) => deviceIds.includes(m.deviceId) && m.deviceId !== this.identity.deviceId)
        .map((m) => ({ proposalType: "remove", remove: { removed: m.leafIndex } }));
      if (proposals.length === 0) return [];
      const [commit] = await this.#commit(channel, proposals);
      return [commit];
    });
  }

  /**
   * A commit without proposals: a fresh path secret for this device (post-compromise security:
   * keys an attacker may have copied stop working for later epochs).
   */
  updateKeys(channel: number): Promise<Uint8Array[]> {
    return this.#serial(async () => [(await this.#commit(channel, []))[0]]);
  }

  async #commit(channel: number, proposals: Proposal[]): Promise<[Uint8Array, Uint8Array | null]> {
    const cs = await e2eSuite();
    const state = this.#groups.require(channel);
    const result = await createCommit(
      { state, cipherSuite: cs },
      { extraProposals: proposals, ratchetTreeExtension: true },
    );
    await this.#groups.save(channel, result.newState);
    const commit = wrapMls(encodeMlsMessage(result.commit));
    await this.#seen.remember(channel, commit);
    const welcome = result.welcome
      ? wrapMls(
        encodeMlsMessage({ welcome: result.welcome, wireformat: "mls_welcome", version: "mls10" }),
      )
      : null;
    if (welcome) await this.#seen.remember(channel, welcome);
    return [commit, welcome];
  }

  /**
   * The committer of `channel` among `active` devices: the lowest leaf whose device is still
   * active. Only it changes the membership, so two members never commit on the same epoch for
   * the same change (docs/PROTOCOL.md).
   */
  isCommitter(channel: number, active: Set<string>): boolean {
    const members = this.members(channel).filter((m) => active.has(m.deviceId));
    members.sort((a, b) => a.leafIndex - b.leafIndex);
    return members[0]?.deviceId === this.identity.deviceId;
  }

  // ---------------------------------------------------------------- messages

  /** Encrypts `data` for the group of `channel`: the Msg payload to send. */
  encrypt(channel: number, data: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const cs = await e2eSuite();
      const state = this.#groups.require(channel);
      const result = await createApplicationMessage(state, padApplication(data), cs);
      await this.#groups.save(channel, result.newState);
      const payload = wrapMls(encodeMlsMessage({
        privateMessage: result.privateMessage,
        wireformat: "mls_private_message",
        version: "mls10",
      }));
      await this.#seen.remember(channel, payload);
      return payload;
    });
  }

  /** Handles a Msg payload received on `channel`. */
  receive(channel: number, payload: Uint8Array): Promise<E2EEvent[]> {
    return this.#serial(async () => {
      const events = await this.#inbox.receive(channel, payload);
      return [...this.#pins.takeChanges(), ...events];
    });
  }
}
