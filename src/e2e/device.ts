/**
 * One device's end-to-end state: its key packages, one MLS group per conversation channel, and
 * the pinned device keys of the members it has seen. It turns outgoing application data into
 * Msg payloads and incoming Msg payloads into events (docs/PROTOCOL.md "End-to-end encryption").
 *
 * Out-of-order, duplicated and lost messages: a payload seen before (the server delivers at least
 * once) is reported as `duplicate`; one of an epoch this device has not reached yet is held (up to
 * {@link MAX_HELD} per channel) and retried after each commit; one of a recent earlier epoch is
 * still readable (ts-mls keeps 4 epochs of receiver data); generations may arrive in any order
 * within {@link KEY_RETENTION}, and a lost message costs nothing but itself.
 *
 * @module
 */
import {
  type ClientConfig,
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  encodeGroupState,
  encodeMlsMessage,
  joinGroup,
  type KeyPackage,
  makePskIndex,
  type MLSMessage,
  type PrivateKeyPackage,
  processMessage,
  type Proposal,
  type Welcome,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { getCredentialFromLeafIndex } from "ts-mls/ratchetTree.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { toLeafIndex } from "ts-mls/treemath.js";
import { e2eSuite } from "./suite.ts";
import { fromBase64, hex, sameBytes, sha256, toBase64, utf8 } from "./bytes.ts";
import { E2EError } from "./errors.ts";
import {
  bareDeviceId,
  credentialDevice,
  decodeKeyPackageMessage,
  type DeviceIdentity,
  type FetchedKeyPackage,
  generateKeyPackageFor,
  KEY_PACKAGE_LIFETIME_SECONDS,
  type KeyPackageUpload,
  openKeyPackage,
} from "./key_package.ts";
import { isE2EPayload, padApplication, unpadApplication, unwrapMls, wrapMls } from "./envelope.ts";
import { deviceFingerprint } from "./fingerprint.ts";
import type { E2EStore } from "./store.ts";

/** Payloads of a later epoch held per channel until the commit that reaches it arrives. */
export const MAX_HELD = 256;
/** Recently seen payload hashes kept per channel (duplicate detection). */
const MAX_SEEN = 1024;
/** Message keys kept for skipped generations, and how far a sender may jump ahead. */
export const KEY_RETENTION = {
  retainKeysForGenerations: 1000,
  retainKeysForEpochs: 4,
  maximumForwardRatchetSteps: 2000,
};

/** A member device as the group knows it. */
export interface GroupMember {
  /** Its address as this device knows it: a local id, or `dev@domain` (federated domain). */
  deviceId: string;
  publicKey: Uint8Array;
  leafIndex: number;
}

/** A device to add: its address and the device key the directory lists for it. */
export interface DirectoryEntry {
  /** A local id, or `dev@domain` for a device of a federated domain (as the directory lists it). */
  deviceId: string;
  publicKey: Uint8Array;
}

/** What the device fetches key packages from (the server's key directory). */
export interface KeyPackageSource {
  fetchKeyPackage(deviceId: string): Promise<FetchedKeyPackage>;
}

/** What receiving a payload meant. */
export type E2EEvent =
  | { kind: "message"; channel: number; sender: string; data: Uint8Array; epoch: bigint }
  | { kind: "plaintext"; channel: number; data: Uint8Array }
  | { kind: "joined"; channel: number; members: string[]; epoch: bigint }
  | {
    kind: "membership";
    channel: number;
    added: string[];
    removed: string[];
    epoch: bigint;
    by: string;
  }
  | { kind: "removed"; channel: number; by: string }
  | { kind: "key_changed"; deviceId: string; before: string; after: string }
  | { kind: "duplicate"; channel: number }
  | { kind: "held"; channel: number; epoch: bigint }
  | { kind: "ignored"; channel: number; reason: string }
  | { kind: "refused"; channel: number; code: string; reason: string };

interface StoredKeyPackage {
  data: string;
  init: string;
  hpke: string;
  lastResort: boolean;
  /** Unix ms it was made (absent in state written before this field existed). */
  created?: number;
}

interface Held {
  payload: Uint8Array;
  epoch: bigint;
}

/** The end-to-end engine of one device. Not safe for concurrent calls on one channel. */
export class E2EDevice {
  readonly identity: DeviceIdentity;
  readonly #store: E2EStore;
  readonly #groups = new Map<number, ClientState>();
  readonly #held = new Map<number, Held[]>();
  readonly #seen = new Map<number, string[]>();
  readonly #pins = new Map<string, Uint8Array>();
  /** Pinned addresses by bare id (`dev` → {`dev`, `dev@b.example`, …}): leaf lookups. */
  readonly #byBare = new Map<string, Set<string>>();
  /** Key changes found while validating credentials (reported with the next events). */
  #keyChanges: E2EEvent[] = [];
  readonly #config: ClientConfig;
  /** Serialises every state change: events of one payload never interleave another's. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(identity: DeviceIdentity, store: E2EStore) {
    this.identity = identity;
    this.#store = store;
    this.#config = {
      ...defaultClientConfig,
      keyRetentionConfig: KEY_RETENTION,
      // Application data is padded to size buckets before MLS (envelope.ts); commits pad to 256.
      paddingConfig: { kind: "padUntilLength", padUntilLength: 256 },
      authService: { validateCredential: (c, key) => this.#validateCredential(c, key) },
    };
  }

  /** Opens the device's state from `store` (empty on first use). */
  static async open(identity: DeviceIdentity, store: E2EStore): Promise<E2EDevice> {
    const device = new E2EDevice(identity, store);
    await device.#load();
    return device;
  }

  async #load(): Promise<void> {
    for (const key of await this.#store.keys("pin/")) {
      this.#setPin(key.slice(4), (await this.#store.get(key))!);
    }
    for (const key of await this.#store.keys("group/")) {
      const bytes = await this.#store.get(key);
      const decoded = bytes ? decodeGroupState(bytes, 0) : undefined;
      if (!decoded) continue;
      this.#groups.set(Number(key.slice(6)), { ...decoded[0], clientConfig: this.#config });
    }
    for (const key of await this.#store.keys("seen/")) {
      const bytes = await this.#store.get(key);
      if (bytes) this.#seen.set(Number(key.slice(5)), JSON.parse(new TextDecoder().decode(bytes)));
    }
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Accepts a leaf when its (credential id, key) resolves to exactly one pinned address
   * ({@link addressOf}). A credential id no address is pinned for is trusted on first use as a
   * local device (pinned under the bare id); devices of federated domains must be pinned from the
   * directory first (`dev@domain`). Anything else is refused and reported as a key change of the
   * addresses it claimed; no pin is touched (a remote domain naming its device like a local one
   * cannot move the local device's pin).
   */
  async #validateCredential(credential: { credentialType: string }, key: Uint8Array) {
    // deno-lint-ignore no-explicit-any
    const identity = credentialDevice(credential as any);
    if (identity === null || identity === "" || identity.includes("@")) return false;
    if (this.addressOf(identity, key) !== null) return true;
    const claimed = this.#addressesOf(identity);
    if (claimed.length === 0) {
      await this.pin({ deviceId: identity, publicKey: key });
      return true;
    }
    // The key is pinned under several remote addresses: ambiguous, refused (no key changed).
    if (claimed.some((a) => sameBytes(this.#pins.get(a)!, key))) return false;
    for (const address of claimed) {
      this.#keyChanges.push({
        kind: "key_changed",
        deviceId: address,
        before: await deviceFingerprint(this.#pins.get(address)!),
        after: await deviceFingerprint(key),
      });
    }
    return false;
  }

  /** The pinned addresses whose bare id is `identity` (a local id, `identity@…` remote ones). */
  #addressesOf(identity: string): string[] {
    return [...(this.#byBare.get(identity) ?? [])];
  }

  /**
   * The address of a leaf whose credential names `identity` with device key `key`: the pinned
   * address with that bare id and that key. When several match (the same key listed under two
   * addresses) the local one wins, else it is ambiguous: null, as when none matches.
   */
  addressOf(identity: string, key: Uint8Array): string | null {
    const matching = this.#addressesOf(identity).filter((a) => sameBytes(this.#pins.get(a)!, key));
    if (matching.length === 1) return matching[0];
    return matching.includes(identity) ? identity : null;
  }

  /**
   * How a leaf is named in events and member lists: its resolved address; a leaf that no longer
   * resolves (its pin moved since) keeps the only address claiming its id, else its bare id.
   */
  #nameOf(identity: string, key: Uint8Array): string {
    const resolved = this.addressOf(identity, key);
    if (resolved !== null) return resolved;
    const claimed = this.#addressesOf(identity);
    return claimed.length === 1 ? claimed[0] : identity;
  }

  /**
   * Records `entry`'s device key (from the directory). A different key for a device already
   * pinned is a key change: it is re-pinned and reported (the caller shows it); the returned
   * event is null when nothing changed.
   */
  async pin(entry: DirectoryEntry): Promise<E2EEvent | null> {
    const pinned = this.#pins.get(entry.deviceId);
    if (pinned !== undefined && sameBytes(pinned, entry.publicKey)) return null;
    this.#setPin(entry.deviceId, entry.publicKey.slice());
    await this.#store.put(`pin/${entry.deviceId}`, entry.publicKey);
    if (pinned === undefined) return null;
    return {
      kind: "key_changed",
      deviceId: entry.deviceId,
      before: await deviceFingerprint(pinned),
      after: await deviceFingerprint(entry.publicKey),
    };
  }

  #setPin(address: string, key: Uint8Array): void {
    this.#pins.set(address, key);
    const bare = bareDeviceId(address);
    const set = this.#byBare.get(bare) ?? new Set<string>();
    set.add(address);
    this.#byBare.set(bare, set);
  }

  /** The pinned key of `deviceId`, if any. */
  pinnedKey(deviceId: string): Uint8Array | undefined {
    return this.#pins.get(deviceId)?.slice();
  }

  // ---------------------------------------------------------------- key packages

  /**
   * Makes `count` one-time key packages (plus a last-resort one when this device has none),
   * keeps their private keys and returns what to upload.
   */
  async newKeyPackages(
    count: number,
    options: { lastResort?: boolean } = {},
  ): Promise<KeyPackageUpload[]> {
    await this.#pruneKeyPackages();
    const uploads: KeyPackageUpload[] = [];
    const makeLastResort = options.lastResort ??
      !(await this.#storedKeyPackages()).some((k) => k.lastResort);
    for (let i = 0; i < count + (makeLastResort ? 1 : 0); i++) {
      const lastResort = makeLastResort && i === count;
      const generated = await generateKeyPackageFor(this.identity, { lastResort });
      const stored: StoredKeyPackage = {
        data: generated.upload.data,
        init: toBase64(generated.privatePackage.initPrivateKey),
        hpke: toBase64(generated.privatePackage.hpkePrivateKey),
        lastResort,
        created: Date.now(),
      };
      await this.#store.put(`kp/${hex(generated.ref)}`, utf8(JSON.stringify(stored)));
      uploads.push(generated.upload);
    }
    return uploads;
  }

  /**
   * Forgets private keys of key packages past their lifetime (plus a day for Welcomes still in
   * flight): the directory no longer hands them out.
   */
  async #pruneKeyPackages(): Promise<void> {
    const limit = Date.now() - (KEY_PACKAGE_LIFETIME_SECONDS + 86_400) * 1000;
    for (const key of await this.#store.keys("kp/")) {
      const bytes = await this.#store.get(key);
      if (!bytes) continue;
      const stored = JSON.parse(new TextDecoder().decode(bytes)) as StoredKeyPackage;
      if (stored.created !== undefined && stored.created < limit) await this.#store.delete(key);
    }
  }

  /** How many one-time key packages this device holds private keys for (not yet used). */
  async unusedKeyPackages(): Promise<number> {
    return (await this.#storedKeyPackages()).filter((k) => !k.lastResort).length;
  }

  async #storedKeyPackages(): Promise<StoredKeyPackage[]> {
    const out: StoredKeyPackage[] = [];
    for (const key of await this.#store.keys("kp/")) {
      const bytes = await this.#store.get(key);
      if (bytes) out.push(JSON.parse(new TextDecoder().decode(bytes)));
    }
    return out;
  }

  // ---------------------------------------------------------------- groups

  /** The channels this device has a group on. */
  channels(): number[] {
    return [...this.#groups.keys()].sort((a, b) => a - b);
  }

  /** True when this device has a group for `channel`. */
  hasGroup(channel: number): boolean {
    return this.#groups.has(channel);
  }

  /** The group's current epoch. */
  epoch(channel: number): bigint {
    return this.#group(channel).groupContext.epoch;
  }

  /** The group's members (address, device key, leaf). */
  members(channel: number): GroupMember[] {
    return this.#membersOf(this.#group(channel));
  }

  /** The members of a group state, named by {@link addressOf}. */
  #membersOf(state: ClientState): GroupMember[] {
    const out: GroupMember[] = [];
    state.ratchetTree.forEach((node, index) => {
      if (node?.nodeType !== "leaf") return;
      const identity = credentialDevice(node.leaf.credential);
      if (identity === null) return;
      const publicKey = node.leaf.signaturePublicKey;
      out.push({ deviceId: this.#nameOf(identity, publicKey), publicKey, leafIndex: index / 2 });
    });
    return out;
  }

  /** The epoch authenticator (RFC 9420 §8.7): equal on every member in the same epoch. */
  epochAuthenticator(channel: number): Uint8Array {
    return this.#group(channel).keySchedule.epochAuthenticator.slice();
  }

  #group(channel: number): ClientState {
    const state = this.#groups.get(channel);
    if (!state) throw new E2EError("no_group", `no end-to-end group on channel ${channel}`);
    return state;
  }

  async #save(channel: number, state: ClientState): Promise<void> {
    this.#groups.set(channel, state);
    await this.#store.put(`group/${channel}`, encodeGroupState(state));
  }

  async #forget(channel: number): Promise<void> {
    this.#groups.delete(channel);
    this.#held.delete(channel);
    await this.#store.delete(`group/${channel}`);
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
      await this.#save(channel, state);
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
      if (keyChange) this.#keyChanges.push(keyChange);
      const fetched = await source.fetchKeyPackage(device.deviceId);
      const keyPackage = await openKeyPackage(fetched, device.deviceId, device.publicKey);
      proposals.push({ proposalType: "add", add: { keyPackage } });
    }
    return await this.#commit(channel, proposals);
  }

  /** Removes `deviceIds` from the group of `channel` (e.g. a revoked device). Returns `[commit]`. */
  removeDevices(channel: number, deviceIds: string[]): Promise<Uint8Array[]> {
    return this.#serial(async () => {
      const state = this.#group(channel);
      const proposals: Proposal[] = this.#membersOf(state)
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
    const state = this.#group(channel);
    const result = await createCommit(
      { state, cipherSuite: cs },
      { extraProposals: proposals, ratchetTreeExtension: true },
    );
    await this.#save(channel, result.newState);
    const commit = wrapMls(encodeMlsMessage(result.commit));
    await this.#remember(channel, commit);
    const welcome = result.welcome
      ? wrapMls(
        encodeMlsMessage({ welcome: result.welcome, wireformat: "mls_welcome", version: "mls10" }),
      )
      : null;
    if (welcome) await this.#remember(channel, welcome);
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
      const state = this.#group(channel);
      const result = await createApplicationMessage(state, padApplication(data), cs);
      await this.#save(channel, result.newState);
      const payload = wrapMls(encodeMlsMessage({
        privateMessage: result.privateMessage,
        wireformat: "mls_private_message",
        version: "mls10",
      }));
      await this.#remember(channel, payload);
      return payload;
    });
  }

  /** Handles a Msg payload received on `channel`. */
  receive(channel: number, payload: Uint8Array): Promise<E2EEvent[]> {
    return this.#serial(async () => {
      const events = await this.#receiveLocked(channel, payload);
      const changes = this.#keyChanges;
      this.#keyChanges = [];
      return [...changes, ...events];
    });
  }

  async #receiveLocked(channel: number, payload: Uint8Array): Promise<E2EEvent[]> {
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
    if (await this.#seenBefore(channel, payload)) return [{ kind: "duplicate", channel }];
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
      this.#hold(channel, payload, pm.epoch);
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
      this.#hold(channel, payload, pm.epoch);
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
        ? this.#nameOf(identity, leaf.leaf.signaturePublicKey)
        : identity;
    } catch {
      return [{ kind: "refused", channel, code: "bad_message", reason: "cannot read the sender" }];
    }
    const before = this.#membersOf(state);
    let result;
    try {
      result = await processMessage(message, state, makePskIndex(state, {}), () => "accept", cs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const code = pm.epoch < state.groupContext.epoch ? "stale_epoch" : "bad_message";
      return [{ kind: "refused", channel, code, reason }];
    }
    await this.#remember(channel, payload);
    if (result.kind === "applicationMessage") {
      await this.#save(channel, result.newState);
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
      await this.#forget(channel);
      return [{ kind: "removed", channel, by: sender }];
    }
    await this.#save(channel, next);
    const after = this.#membersOf(next);
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
    let mine: { key: string; stored: StoredKeyPackage } | undefined;
    for (const secret of welcome.secrets) {
      const key = `kp/${hex(secret.newMember)}`;
      const bytes = await this.#store.get(key);
      if (bytes) {
        mine = { key, stored: JSON.parse(new TextDecoder().decode(bytes)) };
        break;
      }
    }
    if (!mine) {
      // A Welcome goes to the whole channel; the ones for other devices are not ours to read.
      return [{ kind: "ignored", channel, reason: "Welcome for other devices" }];
    }
    const keyPackage: KeyPackage = decodeKeyPackageMessage(fromBase64(mine.stored.data));
    if (!sameBytes(await makeKeyPackageRef(keyPackage, cs.hash), refFromStoreKey(mine.key))) {
      return [{ kind: "refused", channel, code: "bad_message", reason: "key package mismatch" }];
    }
    const privateKeys: PrivateKeyPackage = {
      initPrivateKey: fromBase64(mine.stored.init),
      hpkePrivateKey: fromBase64(mine.stored.hpke),
      signaturePrivateKey: this.identity.privateKey,
    };
    let state: ClientState;
    try {
      state = await joinGroup(
        welcome,
        keyPackage,
        privateKeys,
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
    if (!mine.stored.lastResort) await this.#store.delete(mine.key);
    await this.#store.put(welcomeKey, new Uint8Array([1]));
    await this.#remember(channel, payload);
    this.#held.set(
      channel,
      (this.#held.get(channel) ?? []).filter((h) => h.epoch >= state.groupContext.epoch),
    );
    await this.#save(channel, state);
    // Every leaf was pinned (or matched a pin) when the tree's credentials were validated.
    const members = this.#membersOf(state);
    const events: E2EEvent[] = [{
      kind: "joined",
      channel,
      members: members.map((m) => m.deviceId),
      epoch: state.groupContext.epoch,
    }];
    events.push(...await this.#releaseHeld(channel));
    return events;
  }

  #hold(channel: number, payload: Uint8Array, epoch: bigint): void {
    const held = this.#held.get(channel) ?? [];
    if (held.some((h) => sameBytes(h.payload, payload))) return;
    held.push({ payload: payload.slice(), epoch });
    while (held.length > MAX_HELD) held.shift();
    this.#held.set(channel, held);
  }

  /** Retries held payloads that the group's epoch has reached (in epoch order). */
  async #releaseHeld(channel: number): Promise<E2EEvent[]> {
    const events: E2EEvent[] = [];
    let progress = true;
    while (progress) {
      progress = false;
      const state = this.#groups.get(channel);
      const held = this.#held.get(channel);
      if (!state || !held || held.length === 0) break;
      const ready = held.filter((h) => h.epoch <= state.groupContext.epoch);
      if (ready.length === 0) break;
      this.#held.set(channel, held.filter((h) => h.epoch > state.groupContext.epoch));
      ready.sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
      for (const h of ready) {
        const more = await this.#receiveLocked(channel, h.payload);
        events.push(...more.filter((e) => e.kind !== "duplicate"));
        if (more.some((e) => e.kind === "membership")) progress = true;
      }
    }
    return events;
  }

  async #seenBefore(channel: number, payload: Uint8Array): Promise<boolean> {
    const digest = hex(await sha256(payload));
    return this.#seen.get(channel)?.includes(digest) ?? false;
  }

  async #remember(channel: number, payload: Uint8Array): Promise<void> {
    const digest = hex(await sha256(payload));
    const seen = this.#seen.get(channel) ?? [];
    if (seen.includes(digest)) return;
    seen.push(digest);
    while (seen.length > MAX_SEEN) seen.shift();
    this.#seen.set(channel, seen);
    await this.#store.put(`seen/${channel}`, utf8(JSON.stringify(seen)));
  }
}

/** Lexicographic order of two byte strings. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function refFromStoreKey(storeKey: string): Uint8Array {
  const h = storeKey.slice(3);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
