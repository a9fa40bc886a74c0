/**
 * Admin bearer tokens, stored only as salted hashes in `server_secret` rows
 * (upstream §15.3): `secret` = BLAKE3(salt ‖ token), `public` = the 16-byte
 * salt, metadata `{label?, kind}`.
 *
 * Kinds: `config` (from `admin.token`), `generated` (made at first start
 * when none is configured), `rotated` (scheduled rotation) and `manual`
 * (`commucat admin-token create`). Scheduled rotation and `maxVersions`
 * only govern the first three; manual tokens live until their own expiry
 * or `revoke`.
 *
 * Versions are never reused (#19 §3): a new token gets one more than the
 * highest version ever stored, revoked ones included (the store's
 * high-water mark), so "version 7" names one token for good — in logs,
 * `admin-token list` and audit trails. Two instances issuing at once both
 * aim at the same next version; the store lets only one have it.
 *
 * A plaintext token leaves this module exactly once: as the return value of
 * {@link AdminTokenManager.bootstrap} / {@link AdminTokenManager.create}, or
 * through the `deliverToken` callback on rotation. It is never logged.
 *
 * @module
 */
import { blake3, concatBytes, constantTimeEqual, toHex, utf8 } from "../../crypto/mod.ts";
import { type Logger, silentLogger } from "../../log/mod.ts";
import { RotationListeners } from "./listeners.ts";
import { type ServerSecretRecord, type Store, StoreConflictError } from "../../storage/mod.ts";
import { type AdminRotationPolicy, hoursToMs, isActiveAt, SerialQueue } from "./settings.ts";

/** `server_secret.name` of admin tokens. */
export const ADMIN_SECRET_NAME = "admin-token";

/** Salt length in bytes. */
export const ADMIN_SALT_LENGTH = 16;

/** Longest token `verify` will hash (a bearer header is not a place for megabytes). */
export const MAX_ADMIN_TOKEN_LENGTH = 1024;

/** Lifetime of tokens when rotation is off (upstream: effectively never). */
const FOREVER_ROTATES_MS = 5200 * 7 * 86_400_000;
const FOREVER_EXPIRES_MS = 36_525 * 86_400_000;

/** Where a token came from. */
export type AdminTokenKind = "config" | "generated" | "rotated" | "manual";

/** A token issued just now; the only time its plaintext is visible. */
export interface IssuedAdminToken {
  version: number;
  token: string;
  kind: AdminTokenKind;
  label: string | null;
  expiresAt: Date;
}

/** What `list()` shows: never the token or its hash. */
export interface AdminTokenInfo {
  version: number;
  kind: AdminTokenKind;
  label: string | null;
  createdAt: Date;
  validAfter: Date;
  rotatesAt: Date;
  expiresAt: Date;
  /** Valid now. */
  active: boolean;
}

/** A scheduled rotation this instance made (for metrics; no plaintext). */
export interface AdminRotationEvent {
  version: number;
  rotatedAt: Date;
  expiresAt: Date;
}

/** Options of {@link AdminTokenManager}. */
export interface AdminTokenManagerOptions {
  store: Store;
  policy: AdminRotationPolicy;
  /** Receives each rotated token's plaintext (print it to stdout; never log it). */
  deliverToken?: (token: IssuedAdminToken) => void;
  now?: () => Date;
  logger?: Logger;
}

/** Hashed, versioned admin tokens. */
export class AdminTokenManager {
  readonly #store: Store;
  readonly #policy: AdminRotationPolicy;
  readonly #deliver: ((token: IssuedAdminToken) => void) | null;
  readonly #now: () => Date;
  readonly #log: Logger;
  readonly #queue = new SerialQueue();
  readonly #listeners = new RotationListeners<AdminRotationEvent>();
  /** Rows at the last successful load (fallback for `verify` when the store is down). */
  #cache: ServerSecretRecord[] = [];

  constructor(options: AdminTokenManagerOptions) {
    if (options.policy.maxVersions < 1) throw new RangeError("maxVersions must be at least 1");
    this.#store = options.store;
    this.#policy = options.policy;
    this.#deliver = options.deliverToken ?? null;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * Makes sure a token exists. With no active token: stores `configToken`
   * (returns null), or generates one and returns its plaintext — the caller
   * shows it once (stdout, not logs). With an active token, returns null.
   */
  bootstrap(configToken?: string | null): Promise<string | null> {
    return this.#queue.run(async () => {
      const now = this.#now();
      const rows = await this.#load();
      const active = rows.filter((row) => isActiveAt(row, now));
      if (active.length > 0) {
        if (configToken && !active.some((row) => matches(row, configToken))) {
          this.#log.warn(
            "admin.token is not among the active admin tokens and is ignored " +
              "(it only seeds an empty table; use `commucat admin-token create`)",
            { active_tokens: active.length },
          );
        }
        return null;
      }
      const token = configToken || randomToken();
      const kind: AdminTokenKind = configToken ? "config" : "generated";
      for (let attempt = 0; attempt < 3; attempt++) {
        const stored = await this.#insert(await this.#load(), token, kind, null, now, null);
        if (stored !== null) {
          this.#log.info("admin token stored", { version: stored.version, kind });
          return configToken ? null : token;
        }
        // Another instance bootstrapped at the same moment: its token stands.
        if ((await this.#load()).some((row) => isActiveAt(row, now))) return null;
      }
      throw new Error("could not store the bootstrap admin token (conflicts)");
    });
  }

  /** Issues a manual token (`ttlHours` default: the rotation lifetime, or ~forever when off). */
  create(label?: string | null, ttlHours?: number): Promise<IssuedAdminToken> {
    if (ttlHours !== undefined && !(Number.isFinite(ttlHours) && ttlHours > 0)) {
      return Promise.reject(new RangeError("ttl hours must be a positive number"));
    }
    return this.#queue.run(async () => {
      const now = this.#now();
      const token = randomToken();
      for (let attempt = 0; attempt < 3; attempt++) {
        const stored = await this.#insert(
          await this.#load(),
          token,
          "manual",
          label ?? null,
          now,
          ttlHours ?? null,
        );
        if (stored !== null) {
          this.#log.info("admin token created", { version: stored.version, label: label ?? null });
          return {
            version: stored.version,
            token,
            kind: "manual",
            label: label ?? null,
            expiresAt: stored.expiresAt,
          };
        }
      }
      throw new Error("could not store the admin token (conflicts)");
    });
  }

  /** Every stored token's description, newest first. */
  async list(): Promise<AdminTokenInfo[]> {
    const now = this.#now();
    return (await this.#load()).map((row) => ({
      version: row.version,
      kind: kindOf(row),
      label: labelOf(row),
      createdAt: row.createdAt,
      validAfter: row.validAfter,
      rotatesAt: row.rotatesAt,
      expiresAt: row.expiresAt,
      active: isActiveAt(row, now),
    }));
  }

  /** Deletes version `version`; false when there was no such token. */
  revoke(version: number): Promise<boolean> {
    return this.#queue.run(async () => {
      const exists = (await this.#load()).some((row) => row.version === version);
      if (!exists) return false;
      await this.#store.deleteSecret(ADMIN_SECRET_NAME, version);
      this.#cache = this.#cache.filter((row) => row.version !== version);
      this.#log.info("admin token revoked", { version });
      return true;
    });
  }

  /**
   * Whether `token` is an active admin token. Reads the store each time so a
   * revocation from the CLI takes effect at once; if the store is down, the
   * last loaded rows are used. Every active hash is compared, in constant time.
   */
  async verify(token: string): Promise<boolean> {
    if (typeof token !== "string" || token.length === 0) return false;
    if (token.length > MAX_ADMIN_TOKEN_LENGTH) return false;
    let rows: ServerSecretRecord[];
    try {
      rows = await this.#load();
    } catch (error) {
      this.#log.warn("admin token check uses cached tokens: store unavailable", {
        error: (error as Error).message,
      });
      rows = this.#cache;
    }
    const now = this.#now();
    let ok = false;
    for (const row of rows) {
      if (isActiveAt(row, now) && matches(row, token)) ok = true;
    }
    return ok;
  }

  /**
   * When rotation is on and every non-manual active token is due, issues a
   * new one (delivered through `deliverToken`); drops expired tokens and
   * non-manual tokens beyond `maxVersions`. Call every 60 s.
   */
  tick(now: Date = this.#now()): Promise<AdminRotationEvent | null> {
    return this.#queue.run(async () => {
      let rows = await this.#load();
      let event: AdminRotationEvent | null = null;
      if (this.#policy.enabled) {
        const rotating = rows.filter((row) => isActiveAt(row, now) && kindOf(row) !== "manual");
        const due = rotating.every((row) => now.getTime() >= row.rotatesAt.getTime());
        if (due) {
          const token = randomToken();
          const stored = await this.#insert(rows, token, "rotated", null, now, null);
          rows = await this.#load();
          if (stored !== null) {
            event = { version: stored.version, rotatedAt: now, expiresAt: stored.expiresAt };
            this.#handOver({
              version: stored.version,
              token,
              kind: "rotated",
              label: null,
              expiresAt: stored.expiresAt,
            });
          }
        }
      }
      await this.#prune(rows, now);
      if (event !== null) {
        this.#log.info("admin token rotated", { version: event.version });
        this.#listeners.notify(event, this.#log);
      }
      return event;
    });
  }

  /** Calls `listener` after each scheduled rotation this instance makes. */
  onRotation(listener: (event: AdminRotationEvent) => void): () => void {
    return this.#listeners.add(listener);
  }

  #handOver(issued: IssuedAdminToken): void {
    if (this.#deliver === null) {
      this.#log.warn("rotated admin token issued with nowhere to deliver it", {
        version: issued.version,
      });
      return;
    }
    try {
      this.#deliver(issued);
    } catch (error) {
      this.#log.warn("admin token delivery failed", { error: (error as Error).message });
    }
  }

  async #load(): Promise<ServerSecretRecord[]> {
    const rows = (await this.#store.listSecrets(ADMIN_SECRET_NAME))
      .filter((row) => row.secret.length === 32 && row.public?.length === ADMIN_SALT_LENGTH)
      .sort((a, b) => b.version - a.version);
    this.#cache = rows;
    return rows;
  }

  async #insert(
    rows: ServerSecretRecord[],
    token: string,
    kind: AdminTokenKind,
    label: string | null,
    now: Date,
    ttlHours: number | null,
  ): Promise<ServerSecretRecord | null> {
    let rotatesMs: number;
    let expiresMs: number;
    if (ttlHours !== null) {
      rotatesMs = expiresMs = hoursToMs(ttlHours);
    } else if (this.#policy.enabled) {
      rotatesMs = hoursToMs(this.#policy.intervalHours);
      expiresMs = rotatesMs + hoursToMs(this.#policy.graceHours);
    } else {
      rotatesMs = FOREVER_ROTATES_MS;
      expiresMs = FOREVER_EXPIRES_MS;
    }
    if (kind === "manual") rotatesMs = expiresMs;
    const salt = crypto.getRandomValues(new Uint8Array(ADMIN_SALT_LENGTH));
    const metadata: Record<string, unknown> = { kind };
    if (label !== null) metadata.label = label;
    const latest = Math.max(
      rows[0]?.version ?? 0,
      await this.#store.latestSecretVersion(ADMIN_SECRET_NAME),
    );
    const record: ServerSecretRecord = {
      name: ADMIN_SECRET_NAME,
      version: latest + 1,
      secret: hashToken(salt, token),
      public: salt,
      metadata,
      createdAt: now,
      validAfter: now,
      rotatesAt: new Date(now.getTime() + rotatesMs),
      expiresAt: new Date(now.getTime() + expiresMs),
    };
    try {
      await this.#store.insertSecret(record, { neverReused: true });
      return record;
    } catch (error) {
      if (error instanceof StoreConflictError) return null;
      throw error;
    }
  }

  async #prune(rows: ServerSecretRecord[], now: Date): Promise<void> {
    const rotating = rows.filter((row) => isActiveAt(row, now) && kindOf(row) !== "manual");
    const surplus = new Set(rotating.slice(this.#policy.maxVersions));
    for (const row of rows) {
      if (surplus.has(row) || now.getTime() >= row.expiresAt.getTime()) {
        await this.#store.deleteSecret(row.name, row.version);
      }
    }
    if (surplus.size > 0 || rows.some((row) => now.getTime() >= row.expiresAt.getTime())) {
      await this.#load();
    }
  }
}

/** BLAKE3(salt ‖ token): what is stored in place of the token. */
export function hashToken(salt: Uint8Array, token: string): Uint8Array {
  return blake3(concatBytes(salt, utf8(token)));
}

function matches(row: ServerSecretRecord, token: string): boolean {
  return constantTimeEqual(hashToken(row.public!, token), row.secret);
}

/** 32 random bytes as 64 hex characters. */
function randomToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

function kindOf(row: ServerSecretRecord): AdminTokenKind {
  const kind = row.metadata.kind;
  return kind === "config" || kind === "generated" || kind === "rotated" || kind === "manual"
    ? kind
    : "config"; // rows written by upstream carry no kind
}

function labelOf(row: ServerSecretRecord): string | null {
  return typeof row.metadata.label === "string" ? row.metadata.label : null;
}
