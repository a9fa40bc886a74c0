/**
 * End-to-end encryption in the SDK (docs/PROTOCOL.md "End-to-end encryption"): an
 * {@link E2EClient} wraps a connected {@link CommuCatClient} and an {@link E2EDevice}, talks to
 * the server's key directory over REST, opens conversations (route + MLS group), keeps their
 * membership in line with the directory (paired devices added, revoked ones removed) and turns
 * `Msg` frames into decrypted events. Plaintext-in-tunnel stays available
 * ({@link E2EClient.sendPlaintext}) and is reported as `plaintext` on receipt.
 *
 * @module
 */
import {
  deviceFingerprint,
  type DirectoryEntry,
  E2EDevice,
  E2EError,
  type E2EEvent,
  type E2EStore,
  type FetchedKeyPackage,
  isE2EPayload,
  type KeyPackageSource,
  type KeyPackageUpload,
  safetyNumber,
  toBase64,
  unwrapMls,
} from "../e2e/mod.ts";
import { fromHex, nobleEd25519 } from "../crypto/mod.ts";
import { type DecodedFrame, FrameType } from "../proto/mod.ts";
import { type CommuCatClient, ServerError } from "./client.ts";

/** A device as `GET /api/e2e/devices/{user_id}` lists it. */
export interface DirectoryDevice extends DirectoryEntry {
  /** Hex SHA-256 of the device key (the server's rendering). */
  fingerprint: string;
  oneTime: number;
  lastResort: boolean;
}

/** How to reach the REST API: base URL, session token, and a fetch (TLS trust is its business). */
export interface RestAccess {
  url: string;
  token: string;
  /** Default: `fetch`, with a Deno HTTP client trusting `caCerts` when given. */
  fetch?: typeof fetch;
  caCerts?: string[];
}

/** The server's key directory (`/api/e2e/…`) over REST. */
export class KeyDirectory implements KeyPackageSource {
  readonly #access: RestAccess;
  constructor(access: RestAccess) {
    this.#access = access;
  }

  async #call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#access.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const init: RequestInit = {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    let http: Deno.HttpClient | undefined;
    if (!this.#access.fetch && this.#access.caCerts && typeof Deno !== "undefined") {
      http = Deno.createHttpClient({ caCerts: this.#access.caCerts });
      (init as RequestInit & { client?: Deno.HttpClient }).client = http;
    }
    try {
      const response = await (this.#access.fetch ?? fetch)(`${this.#access.url}${path}`, init);
      const text = await response.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? JSON.parse(text) : {};
      } catch { /* not JSON */ }
      if (!response.ok) {
        throw new E2EError(
          "directory",
          `${method} ${path}: ${response.status} ${json.detail ?? json.title ?? text}`,
        );
      }
      return json;
    } finally {
      http?.close();
    }
  }

  /** Publishes key packages of the calling device; returns how many one-time ones it holds. */
  async upload(keyPackages: KeyPackageUpload[]): Promise<number> {
    const body = await this.#call("POST", "/api/e2e/key-packages", { key_packages: keyPackages });
    return Number(body.available ?? 0);
  }

  /** Hands an MLS Welcome to one device (`POST /api/e2e/welcome`): a Msg on `channel`. */
  async sendWelcome(deviceId: string, channel: number, welcome: Uint8Array): Promise<void> {
    await this.#call("POST", "/api/e2e/welcome", {
      device_id: deviceId,
      channel,
      welcome: toBase64(welcome),
    });
  }

  /** Takes one key package of `deviceId` (a one-time one is consumed). */
  async fetchKeyPackage(deviceId: string): Promise<FetchedKeyPackage> {
    const body = await this.#call("GET", `/api/e2e/key-packages/${encodeURIComponent(deviceId)}`);
    return body as unknown as FetchedKeyPackage;
  }

  /**
   * The caller's friends list (`GET /api/friends`): user ids (`handle@domain` for a federated
   * friend) and the active devices with keys the server lists for local mutual friends.
   */
  async friends(): Promise<{ userIds: string[]; devices: DirectoryEntry[] }> {
    const body = await this.#call("GET", "/api/friends");
    const rows = (body.friends as { user_id?: unknown }[] | undefined) ?? [];
    type Row = { device_id?: unknown; public_key?: unknown; status?: unknown };
    const lists = (body.devices ?? {}) as Record<string, Row[]>;
    const devices: DirectoryEntry[] = [];
    for (const list of Object.values(lists)) {
      for (const d of list ?? []) {
        if (d.status !== "active" || typeof d.device_id !== "string") continue;
        devices.push({ deviceId: d.device_id, publicKey: fromHex(String(d.public_key), 32) });
      }
    }
    return {
      userIds: rows.map((f) => String(f.user_id ?? "")).filter((id) => id !== ""),
      devices,
    };
  }

  /** The active devices of `userId` with their device keys. */
  async devices(userId: string): Promise<DirectoryDevice[]> {
    return (await this.user(userId)).devices;
  }

  /** A user (by id or handle): its user id and active devices with their device keys. */
  async user(userOrHandle: string): Promise<{ userId: string; devices: DirectoryDevice[] }> {
    const body = await this.#call("GET", `/api/e2e/devices/${encodeURIComponent(userOrHandle)}`);
    type Row = {
      device_id: string;
      public_key: string;
      fingerprint: string;
      key_packages?: { one_time?: number; last_resort?: boolean };
    };
    const devices = ((body.devices as Row[] | undefined) ?? []).map((d) => ({
      deviceId: d.device_id,
      publicKey: fromHex(d.public_key, 32),
      fingerprint: d.fingerprint,
      oneTime: d.key_packages?.one_time ?? 0,
      lastResort: d.key_packages?.last_resort ?? false,
    }));
    return { userId: String(body.user_id ?? userOrHandle), devices };
  }
}

/** What {@link E2EClient.next} returns: the frame and, for a Msg, what it meant. */
export interface E2EDelivery {
  frame: DecodedFrame;
  events: E2EEvent[];
}

/** Options of {@link E2EClient.attach}. */
export interface E2EClientOptions {
  store: E2EStore;
  deviceId: string;
  /** The device's 32-byte Ed25519 seed. */
  devicePrivateKey: Uint8Array;
  rest: Omit<RestAccess, "token">;
  /** Upload more key packages when fewer one-time ones than this are left (default 5). */
  minKeyPackages?: number;
  /** How many to upload then (default 10). */
  keyPackageBatch?: number;
  /** Another key directory (tests). */
  directory?: KeyDirectory;
}

/** A connected device that encrypts end to end. */
export class E2EClient {
  readonly client: CommuCatClient;
  readonly device: E2EDevice;
  readonly directory: KeyDirectory;
  readonly #min: number;
  readonly #batch: number;

  private constructor(
    client: CommuCatClient,
    device: E2EDevice,
    directory: KeyDirectory,
    min: number,
    batch: number,
  ) {
    this.client = client;
    this.device = device;
    this.directory = directory;
    this.#min = min;
    this.#batch = batch;
  }

  /** Opens the device's E2E state and makes sure the directory holds its key packages. */
  static async attach(client: CommuCatClient, options: E2EClientOptions): Promise<E2EClient> {
    const identity = {
      deviceId: options.deviceId,
      privateKey: options.devicePrivateKey,
      publicKey: nobleEd25519.publicFromSeed(options.devicePrivateKey),
    };
    const device = await E2EDevice.open(identity, options.store);
    const directory = options.directory ??
      new KeyDirectory({ ...options.rest, token: client.session.sessionId });
    const e2e = new E2EClient(
      client,
      device,
      directory,
      options.minKeyPackages ?? 5,
      options.keyPackageBatch ?? 10,
    );
    await e2e.replenishKeyPackages();
    return e2e;
  }

  /**
   * Uploads fresh key packages when the directory holds fewer one-time ones of this device than
   * the minimum (taken, or expired), or no last-resort one.
   */
  async replenishKeyPackages(): Promise<number> {
    const own = (await this.directory.devices(this.client.session.userId))
      .find((d) => d.deviceId === this.device.identity.deviceId);
    const oneTime = own?.oneTime ?? 0;
    const lastResort = own?.lastResort ?? false;
    if (oneTime >= this.#min && lastResort) return 0;
    const uploads = await this.device.newKeyPackages(
      oneTime >= this.#min ? 0 : this.#batch,
      { lastResort: !lastResort },
    );
    if (uploads.length > 0) await this.directory.upload(uploads);
    return uploads.length;
  }

  /** The devices a conversation with `userIds` should have: theirs and ours (not this one). */
  async #expected(userIds: string[]): Promise<DirectoryDevice[]> {
    const users = [...new Set([this.client.session.userId, ...userIds])];
    const lists = await Promise.all(users.map((u) => this.directory.devices(u)));
    return lists.flat().filter((d) => d.deviceId !== this.device.identity.deviceId);
  }

  /**
   * Opens an end-to-end conversation on `channel` with every device of `userIds` (and this
   * user's other devices): creates the route and the MLS group and sends the Welcome. A channel
   * that already has a group is brought in line with the directory instead ({@link sync}).
   */
  async open(channel: number, userIds: string[]): Promise<E2EEvent[]> {
    if (this.device.hasGroup(channel)) return await this.sync(channel, userIds);
    const devices = await this.#expected(userIds);
    await this.client.join(channel, devices.map((d) => d.deviceId));
    const [welcome] = await this.device.createGroup(channel, devices, this.directory);
    if (welcome) await this.#welcome(devices, channel, welcome);
    return [];
  }

  /**
   * Brings the group of `channel` in line with the directory: devices paired since are added,
   * revoked ones removed (post-compromise security). Only the committer (docs/PROTOCOL.md) acts;
   * returns the key changes found. `userIds`: the other users of the conversation.
   */
  async sync(channel: number, userIds: string[]): Promise<E2EEvent[]> {
    const expected = await this.#expected(userIds);
    const events: E2EEvent[] = [];
    for (const d of expected) {
      const change = await this.device.pin(d);
      if (change) events.push(change);
    }
    const active = new Set([this.device.identity.deviceId, ...expected.map((d) => d.deviceId)]);
    if (!this.device.isCommitter(channel, active)) return events;
    const members = new Set(this.device.members(channel).map((m) => m.deviceId));
    const gone = [...members].filter((id) => !active.has(id));
    if (gone.length > 0) {
      for (const payload of await this.device.removeDevices(channel, gone)) {
        await this.client.send(channel, payload);
      }
    }
    const added = expected.filter((d) => !members.has(d.deviceId));
    if (added.length > 0) {
      const [commit, welcome] = await this.device.addDevices(channel, added, this.directory);
      await this.client.send(channel, commit);
      // New devices join the route after the commit went out: they never see it.
      await this.client.join(channel, added.map((d) => d.deviceId));
      if (welcome) await this.#welcome(added, channel, welcome);
    }
    return events;
  }

  /** The Welcome goes to each new device alone (the other members have no use for it). */
  async #welcome(devices: DirectoryEntry[], channel: number, welcome: Uint8Array): Promise<void> {
    for (const d of devices) await this.directory.sendWelcome(d.deviceId, channel, welcome);
  }

  /**
   * Pins the directory's device keys of `userIds` under the addresses it lists them by (a
   * federated user's devices as `dev@domain`), so a Welcome or commit naming them resolves to
   * those addresses (docs/PROTOCOL.md "Device names across domains"). Returns key changes.
   */
  async pinUsers(userIds: string[]): Promise<E2EEvent[]> {
    const events: E2EEvent[] = [];
    for (const userId of userIds) {
      for (const d of await this.directory.devices(userId)) {
        const change = await this.device.pin(d);
        if (change) events.push(change);
      }
    }
    return events;
  }

  /**
   * Before a Welcome is opened: the devices of federated friends are pinned from the directory
   * (their leaves carry bare ids; only the directory says which domain they belong to).
   */
  async #beforeWelcome(channel: number): Promise<E2EEvent[]> {
    const friends = await this.directory.friends();
    const events: E2EEvent[] = await this.pinUsers([this.client.session.userId]);
    // Local friends' devices too: a leaf naming one of them with another key is then refused
    // instead of trusted on first use.
    for (const d of friends.devices) {
      const change = await this.device.pin(d);
      if (change) events.push(change);
    }
    for (const userId of friends.userIds.filter((id) => id.includes("@"))) {
      try {
        events.push(...await this.pinUsers([userId]));
      } catch (error) {
        // That domain is unreachable now: its devices stay unpinned, so their leaves would be
        // taken for local devices of the same id. Said, not hidden.
        events.push({
          kind: "ignored",
          channel,
          reason: `devices of ${userId} not pinned: ${(error as Error).message}`,
        });
      }
    }
    return events;
  }

  /**
   * Routes for conversations spanning domains: each server routes what its own devices send, so
   * on our server the channel's route must hold the remote members (their home server relays to
   * them, docs/PROTOCOL.md §6 "Outbound relay") and the local devices added since. A device that
   * joined adds the remote members; a member that sees devices added to a group with remote
   * members adds them all (a newly joined device of ours is not in our route yet: `not_member`,
   * which the member's Join covers).
   */
  async #route(events: E2EEvent[]): Promise<E2EEvent[]> {
    const failures: E2EEvent[] = [];
    for (const e of events) {
      if (e.kind !== "joined" && e.kind !== "membership") continue;
      const self = this.device.identity.deviceId;
      const spans = this.device.hasGroup(e.channel) &&
        this.device.members(e.channel).some((m) => m.deviceId.includes("@"));
      const targets = e.kind === "joined"
        ? e.members.filter((id) => id.includes("@"))
        : spans
        ? e.added.filter((id) => id !== self)
        : [];
      if (targets.length === 0) continue;
      try {
        await this.client.join(e.channel, targets);
      } catch (error) {
        if (e.kind === "joined" && error instanceof ServerError && error.code === "not_member") {
          continue;
        }
        // The group state moved already: report, never lose the delivery's events.
        failures.push({
          kind: "refused",
          channel: e.channel,
          code: "route",
          reason: `no route to ${targets.join(", ")}: ${(error as Error).message}`,
        });
      }
    }
    return failures;
  }

  /** Sends `data` end to end on `channel` (`no_group` when the conversation is not open). */
  async send(channel: number, data: Uint8Array | string) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return await this.client.send(channel, await this.device.encrypt(channel, bytes));
  }

  /** Sends `data` in plaintext mode (bots, bridges): the server can read it, receivers see so. */
  sendPlaintext(channel: number, data: Uint8Array | string) {
    return this.client.send(channel, data);
  }

  /** The next delivered frame; a Msg is decrypted into events. Null once closed. */
  async next(): Promise<E2EDelivery | null> {
    const frame = await this.client.next();
    if (frame === null) return null;
    if (frame.type !== FrameType.Msg) return { frame, events: [] };
    const pinned = isWelcome(frame.payload) ? await this.#beforeWelcome(frame.channel) : [];
    const events = await this.device.receive(frame.channel, frame.payload);
    const failures = await this.#route(events);
    return { frame, events: [...pinned, ...events, ...failures] };
  }

  /** Waits for the next end-to-end event of `kind` (other deliveries are dropped). */
  async nextEvent<K extends E2EEvent["kind"]>(
    kind: K,
  ): Promise<Extract<E2EEvent, { kind: K }> | null> {
    while (true) {
      const delivery = await this.next();
      if (delivery === null) return null;
      const event = delivery.events.find((e) => e.kind === kind);
      if (event) return event as Extract<E2EEvent, { kind: K }>;
    }
  }

  /** This device's key fingerprint. */
  fingerprint(): Promise<string> {
    return deviceFingerprint(this.device.identity.publicKey);
  }

  /** The safety number of this user and `userOrHandle`, from the directory's device keys. */
  async safetyNumber(userOrHandle: string): Promise<string> {
    const [mine, theirs] = await Promise.all([
      this.directory.devices(this.client.session.userId),
      this.directory.user(userOrHandle),
    ]);
    return await safetyNumber(
      { userId: this.client.session.userId, deviceKeys: mine.map((d) => d.publicKey) },
      { userId: theirs.userId, deviceKeys: theirs.devices.map((d) => d.publicKey) },
    );
  }
}

/** True when a Msg payload is an end-to-end MLS Welcome (mls10, mls_welcome). */
function isWelcome(payload: Uint8Array): boolean {
  if (!isE2EPayload(payload)) return false;
  const mls = unwrapMls(payload);
  return mls.length > 4 && mls[0] === 0 && mls[1] === 1 && mls[2] === 0 && mls[3] === 3;
}
