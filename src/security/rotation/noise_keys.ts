/**
 * The server's Noise static keys, versioned in the store's `server_secret`
 * rows (upstream §15.3) and rotated on a schedule.
 *
 * Every instance sharing a store sees the same keys: `tick()` reloads the
 * rows each time, so a rotation made by another instance (or by
 * `commucat keys rotate`) is picked up within one tick. Two instances that
 * rotate at the same moment race for the same `(name, version)` primary key;
 * the loser gets a conflict, reloads, and uses the winner's key.
 *
 * Each version also holds an independent ML-DSA-65 seed (the row's secret is
 * `x25519 private ‖ ML-DSA seed`, 64 bytes): the server's post-quantum
 * identity, which signs hybrid handshakes and so rotates, with its grace
 * period, exactly like the Noise key. It is random, never derived from the
 * X25519 key (a quantum adversary recovers that one from its public key).
 * A 32-byte row from before has no PQ identity; at start such a newest key
 * is rotated once so the current version has one.
 *
 * @module
 */
import {
  constantTimeEqual,
  generateKeyPair,
  type KeyPair,
  x25519PublicFromPrivate,
} from "../../crypto/mod.ts";
import { ML_DSA_65, pqSuite, type Signer } from "../../crypto/pq/mod.ts";
import { type Logger, silentLogger } from "../../log/mod.ts";
import { RotationListeners } from "./listeners.ts";
import type { NoiseKey, NoiseKeyring } from "../../crypto/mod.ts";
import { type ServerSecretRecord, type Store, StoreConflictError } from "../../storage/mod.ts";
import { hoursToMs, isActiveAt, type RotationPolicy, SerialQueue } from "./settings.ts";

/** `server_secret.name` of the Noise static keys. */
export const NOISE_SECRET_NAME = "noise-static";

/** A rotation this instance made. */
export interface NoiseRotationEvent {
  version: number;
  publicKey: Uint8Array;
  rotatedAt: Date;
  /** True for {@link NoiseKeyManager.rotateNow}, false for a scheduled one. */
  forced: boolean;
}

/** The key stored at first start; `source` says where it came from (logged; default "configured"). */
export interface BootstrapNoiseKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  source?: string;
}

/** Options of {@link NoiseKeyManager}. */
export interface NoiseKeyManagerOptions {
  store: Store;
  policy: RotationPolicy;
  /**
   * Key stored when the table has no active key at start (the configured
   * pair, or the data-dir key file). Ignored once a key is active; a fresh
   * pair is generated when absent.
   */
  bootstrapKey?: BootstrapNoiseKey | null;
  /** Clock (tests inject one). */
  now?: () => Date;
  logger?: Logger;
  /** Key generator (default X25519 from the crypto module). */
  generateKeyPair?: () => KeyPair;
  /** Gives each new version an ML-DSA-65 identity (default true). */
  pqIdentity?: boolean;
  /** The ML-DSA-65 implementation (default WebCrypto). */
  signer?: Signer;
}

/** Bytes of an X25519 private key at the start of a row's secret. */
const X25519_LENGTH = 32;

/** Raised when a rotation cannot be stored after retries. */
export class SecretRotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretRotationError";
  }
}

/** Versioned, rotating Noise static keys; the handshake's {@link NoiseKeyring}. */
export class NoiseKeyManager implements NoiseKeyring {
  readonly #store: Store;
  readonly #policy: RotationPolicy;
  readonly #bootstrap: BootstrapNoiseKey | null;
  readonly #now: () => Date;
  readonly #log: Logger;
  readonly #generate: () => KeyPair;
  readonly #queue = new SerialQueue();
  readonly #listeners = new RotationListeners<NoiseRotationEvent>();
  readonly #pqIdentity: boolean;
  readonly #signer: Signer;
  /** ML-DSA key pairs already derived, by version (deriving costs a keygen). */
  readonly #pqCache = new Map<number, NoiseKey["pqSigning"]>();
  /** Usable keys at the last load, newest first. */
  #keys: NoiseKey[] = [];
  #started = false;

  constructor(options: NoiseKeyManagerOptions) {
    if (options.policy.maxVersions < 1) throw new RangeError("maxVersions must be at least 1");
    this.#store = options.store;
    this.#policy = options.policy;
    this.#bootstrap = options.bootstrapKey ?? null;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.logger ?? silentLogger;
    this.#generate = options.generateKeyPair ?? (() => generateKeyPair());
    this.#pqIdentity = options.pqIdentity ?? true;
    this.#signer = options.signer ?? pqSuite().signer;
  }

  /**
   * Loads the active keys; when there is none, stores the bootstrap key as
   * version latest+1. Then applies a rotation that fell due while stopped.
   * Throws when the bootstrap pair is inconsistent or the store fails.
   */
  start(): Promise<NoiseKey[]> {
    return this.#queue.run(async () => {
      const now = this.#now();
      let rows = await this.#load();
      if (activeRows(rows, now).length === 0) {
        const pair = this.#bootstrap === null ? this.#generate() : checkPair(this.#bootstrap);
        const inserted = await this.#insertNext(rows, pair, now);
        if (inserted !== null) {
          this.#log.info("noise key stored", {
            version: inserted.version,
            source: this.#bootstrap === null
              ? "generated"
              : (this.#bootstrap.source ?? "configured"),
          });
        }
        rows = await this.#load();
      }
      const newest = activeRows(rows, now)[0];
      const upgrade = this.#pqIdentity && newest !== undefined &&
        newest.secret.length === X25519_LENGTH;
      if (upgrade) {
        this.#log.info("noise key has no PQ identity: rotating", { version: newest.version });
      }
      await this.#step(rows, now, upgrade);
      this.#started = true;
      return this.#keys;
    });
  }

  /**
   * Keys valid now, newest first. If every key has run out (a late tick),
   * the newest is still offered so handshakes keep working until the next
   * tick rotates it.
   */
  active(): NoiseKey[] {
    if (!this.#started) throw new Error("NoiseKeyManager.start() has not completed");
    const now = this.#now();
    const valid = this.#keys.filter((key) => isActiveAt(key, now));
    return valid.length > 0 ? valid : this.#keys.slice(0, 1);
  }

  /** The key new clients should use (`/api/server-info.noise_public`). */
  newest(): NoiseKey {
    return this.active()[0];
  }

  /**
   * Reloads the keys, rotates when the newest is due (`now ≥ rotates_at`),
   * and drops versions past `expires_at` or beyond `maxVersions`. Call every
   * 60 s. Resolves with the rotation this call made, if any.
   */
  tick(now: Date = this.#now()): Promise<NoiseRotationEvent | null> {
    return this.#queue.run(async () => await this.#step(await this.#load(), now, false));
  }

  /** Rotates now whatever the schedule (`commucat keys rotate`); returns the new key. */
  rotateNow(now: Date = this.#now()): Promise<NoiseKey> {
    return this.#queue.run(async () => {
      const event = await this.#step(await this.#load(), now, true);
      const key = this.#keys.find((k) => k.version === event?.version);
      if (key === undefined) throw new SecretRotationError("the new Noise key was not stored");
      return key;
    });
  }

  /** Calls `listener` after each rotation this instance makes; returns an unsubscribe. */
  onRotation(listener: (event: NoiseRotationEvent) => void): () => void {
    return this.#listeners.add(listener);
  }

  async #step(
    rows: ServerSecretRecord[],
    now: Date,
    force: boolean,
  ): Promise<NoiseRotationEvent | null> {
    let event: NoiseRotationEvent | null = null;
    // A forced rotation must happen, so a conflict (another writer) is retried.
    for (let attempt = 0; attempt < 3; attempt++) {
      const newest = activeRows(rows, now)[0];
      const due = newest === undefined || now.getTime() >= newest.rotatesAt.getTime();
      if (!force && !due) break;
      const inserted = await this.#insertNext(rows, this.#generate(), now);
      rows = await this.#load();
      if (inserted !== null) {
        event = {
          version: inserted.version,
          publicKey: inserted.public!,
          rotatedAt: now,
          forced: force,
        };
        break;
      }
      if (!force) break; // another instance rotated: use its key
    }
    if (force && event === null) {
      throw new SecretRotationError("could not store a new Noise key (conflicts)");
    }
    rows = await this.#prune(rows, now);
    this.#keys = await this.#toKeys(activeRows(rows, now));
    if (event !== null) {
      this.#log.info("noise key rotated", { version: event.version, forced: event.forced });
      this.#listeners.notify(event, this.#log);
    }
    return event;
  }

  async #load(): Promise<ServerSecretRecord[]> {
    const rows = await this.#store.listSecrets(NOISE_SECRET_NAME);
    return rows.filter((row) => {
      const ok = (row.secret.length === X25519_LENGTH ||
        row.secret.length === X25519_LENGTH + ML_DSA_65.seedLength) &&
        (row.public === null || row.public.length === 32);
      if (!ok) this.#log.warn("ignoring malformed noise key row", { version: row.version });
      return ok;
    }).map((row) =>
      row.public === null
        ? { ...row, public: x25519PublicFromPrivate(row.secret.subarray(0, X25519_LENGTH)) }
        : row
    )
      .sort((a, b) => b.version - a.version);
  }

  /** Inserts `pair` as version latest+1; null when another writer took that version. */
  async #insertNext(
    rows: ServerSecretRecord[],
    pair: { privateKey: Uint8Array; publicKey: Uint8Array },
    now: Date,
  ): Promise<ServerSecretRecord | null> {
    const rotatesAt = new Date(now.getTime() + hoursToMs(this.#policy.intervalHours));
    const secret = new Uint8Array(X25519_LENGTH + (this.#pqIdentity ? ML_DSA_65.seedLength : 0));
    secret.set(pair.privateKey);
    if (this.#pqIdentity) crypto.getRandomValues(secret.subarray(X25519_LENGTH));
    // Versions are never reused, even after every row expired and was pruned:
    // a client pinned to "version N" must never meet a different key under N.
    const latest = Math.max(
      rows[0]?.version ?? 0,
      await this.#store.latestSecretVersion(NOISE_SECRET_NAME),
    );
    const record: ServerSecretRecord = {
      name: NOISE_SECRET_NAME,
      version: latest + 1,
      secret,
      public: pair.publicKey,
      metadata: {},
      createdAt: now,
      validAfter: now,
      rotatesAt,
      expiresAt: new Date(rotatesAt.getTime() + hoursToMs(this.#policy.graceHours)),
    };
    try {
      await this.#store.insertSecret(record, { neverReused: true });
      return record;
    } catch (error) {
      if (error instanceof StoreConflictError) return null;
      throw error;
    }
  }

  /** The keys of active rows, each with its ML-DSA identity (derived once per version). */
  async #toKeys(rows: ServerSecretRecord[]): Promise<NoiseKey[]> {
    const keys: NoiseKey[] = [];
    for (const row of rows) {
      let pqSigning = this.#pqCache.get(row.version);
      if (pqSigning === undefined) {
        pqSigning = row.secret.length > X25519_LENGTH
          ? await this.#signer.keyPairFromSeed(row.secret.subarray(X25519_LENGTH))
          : null;
        this.#pqCache.set(row.version, pqSigning);
      }
      keys.push({ ...toNoiseKey(row), pqSigning });
    }
    return keys;
  }

  /** Deletes expired rows and active rows beyond `maxVersions`; returns what is left. */
  async #prune(rows: ServerSecretRecord[], now: Date): Promise<ServerSecretRecord[]> {
    const active = activeRows(rows, now);
    const surplus = new Set(active.slice(this.#policy.maxVersions));
    const kept: ServerSecretRecord[] = [];
    for (const row of rows) {
      if (surplus.has(row) || now.getTime() >= row.expiresAt.getTime()) {
        await this.#store.deleteSecret(row.name, row.version);
      } else {
        kept.push(row);
      }
    }
    return kept;
  }
}

/** Active rows, newest first (rows arrive sorted). */
function activeRows(rows: ServerSecretRecord[], now: Date): ServerSecretRecord[] {
  return rows.filter((row) => isActiveAt(row, now));
}

function toNoiseKey(row: ServerSecretRecord): NoiseKey {
  return {
    version: row.version,
    privateKey: row.secret.slice(0, X25519_LENGTH),
    publicKey: row.public!,
    validAfter: row.validAfter,
    rotatesAt: row.rotatesAt,
    expiresAt: row.expiresAt,
  };
}

function checkPair(pair: { privateKey: Uint8Array; publicKey: Uint8Array }) {
  if (pair.privateKey.length !== 32 || pair.publicKey.length !== 32) {
    throw new RangeError("a Noise static key pair is two 32-byte values");
  }
  if (!constantTimeEqual(x25519PublicFromPrivate(pair.privateKey), pair.publicKey)) {
    throw new RangeError(
      "the configured Noise public key does not belong to the private key " +
        "(crypto.noise_public must be the X25519 public key of crypto.noise_private)",
    );
  }
  return pair;
}
