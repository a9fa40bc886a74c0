/**
 * The device keys one device has pinned, by address (a local id, or `dev@domain` for a device of
 * a federated domain), and how an MLS leaf's credential resolves to one of them. Trust on first
 * use for local devices; federated ones only from the directory.
 *
 * @module
 */
import { sameBytes } from "./bytes.ts";
import type { DirectoryEntry, E2EEvent } from "./events.ts";
import { deviceFingerprint } from "./fingerprint.ts";
import { bareDeviceId, credentialDevice } from "./key_package.ts";
import type { E2EStore } from "./store.ts";

/** Pinned device keys, persisted as `pin/<address>` in the device's store. */
export class DevicePins {
  readonly #store: E2EStore;
  readonly #pins = new Map<string, Uint8Array>();
  /** Pinned addresses by bare id (`dev` → {`dev`, `dev@b.example`, …}): leaf lookups. */
  readonly #byBare = new Map<string, Set<string>>();
  /** Key changes found while validating credentials (reported with the next events). */
  #changes: E2EEvent[] = [];

  constructor(store: E2EStore) {
    this.#store = store;
  }

  /** Reads the pins kept in the store. */
  async load(): Promise<void> {
    for (const key of await this.#store.keys("pin/")) {
      this.#set(key.slice(4), (await this.#store.get(key))!);
    }
  }

  /**
   * Accepts a leaf when its (credential id, key) resolves to exactly one pinned address
   * ({@link addressOf}). A credential id no address is pinned for is trusted on first use as a
   * local device (pinned under the bare id); devices of federated domains must be pinned from the
   * directory first (`dev@domain`). Anything else is refused and reported as a key change of the
   * addresses it claimed; no pin is touched (a remote domain naming its device like a local one
   * cannot move the local device's pin).
   */
  async validateCredential(credential: { credentialType: string }, key: Uint8Array) {
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
      this.#changes.push({
        kind: "key_changed",
        deviceId: address,
        before: await deviceFingerprint(this.#pins.get(address)!),
        after: await deviceFingerprint(key),
      });
    }
    return false;
  }

  /** Queues `event` (a key change) to be reported with the next received events. */
  report(event: E2EEvent): void {
    this.#changes.push(event);
  }

  /** The key changes queued since the last call, oldest first. */
  takeChanges(): E2EEvent[] {
    const changes = this.#changes;
    this.#changes = [];
    return changes;
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
  nameOf(identity: string, key: Uint8Array): string {
    const resolved = this.addressOf(identity, key);
    if (resolved !== null) return resolved;
    const claimed = this.#addressesOf(identity);
    return claimed.length === 1 ? claimed[0] : identity;
  }

  /**
   * Records `entry`'s device key (from the directory). A different key for a device already
   * pinned is a key change: it is re-pinned and returned (the caller reports it); null when
   * nothing changed.
   */
  async pin(entry: DirectoryEntry): Promise<E2EEvent | null> {
    const pinned = this.#pins.get(entry.deviceId);
    if (pinned !== undefined && sameBytes(pinned, entry.publicKey)) return null;
    this.#set(entry.deviceId, entry.publicKey.slice());
    await this.#store.put(`pin/${entry.deviceId}`, entry.publicKey);
    if (pinned === undefined) return null;
    return {
      kind: "key_changed",
      deviceId: entry.deviceId,
      before: await deviceFingerprint(pinned),
      after: await deviceFingerprint(entry.publicKey),
    };
  }

  #set(address: string, key: Uint8Array): void {
    this.#pins.set(address, key);
    const bare = bareDeviceId(address);
    const set = this.#byBare.get(bare) ?? new Set<string>();
    set.add(address);
    this.#byBare.set(bare, set);
  }

  /** The pinned key of `deviceId`, if any (a copy). */
  pinnedKey(deviceId: string): Uint8Array | undefined {
    return this.#pins.get(deviceId)?.slice();
  }
}
