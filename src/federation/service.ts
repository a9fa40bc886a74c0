/**
 * The federation service the server composes: peers, the outbox worker,
 * the inbound endpoints, the router's remote-member hook and the REST API's
 * federated friend requests and key-package takes.
 *
 * @module
 */
import type { Frame } from "../proto/mod.ts";
import type { FriendRequestRecord, Store, UserRecord } from "../storage/mod.ts";
import { parseJsonKeepingNumbers } from "./canonical.ts";
import type { Logger } from "../log/mod.ts";
import { RateLimiter } from "../security/ratelimit/mod.ts";
import type { FederationContext, FederationMetrics } from "./context.ts";
import { decodeSignedEvent, encodeSignedEvent, signEvent } from "./event.ts";
import {
  acceptFederatedFriendRequest,
  type FederationResult,
  receiveFriendRequest,
  sendFederatedFriendRequest,
  signFriendRequest,
} from "./friends.ts";
import {
  fetchRemoteDevices,
  receiveDevicesRequest,
  type RemoteDevicesResult,
} from "./e2e_devices.ts";
import { receiveEvent } from "./inbound.ts";
import {
  fetchRemoteKeyPackage,
  receiveKeyPackageRequest,
  type RemoteKeyPackageResult,
} from "./key_packages.ts";
import { FederationOutbox } from "./outbox.ts";
import { PeerDirectory } from "./peers.ts";
import { FederationProblem, problemResponse } from "./problem.ts";
import { isRemoteMember, relayToRemote } from "./relay.ts";
import { formatRfc3339Nanos } from "./time.ts";

/** Options of {@link Federation}. */
export interface FederationOptions {
  store: Store;
  /** `server.domain`. */
  domain: string;
  /** The federation (device CA) key. */
  key: { seed: Uint8Array; publicKey: Uint8Array };
  /** `federation.peers` (public keys as bytes). */
  peers: { domain: string; endpoint: string; publicKey: Uint8Array }[];
  /** Extra trusted CA certificates (PEM) for outbound TLS (`federation.ca_file`). */
  caCerts?: string[];
  deliver(deviceId: string, frame: Frame, senderUser?: string): Promise<void>;
  notifyChannel?: number;
  /** Default ±10 min. */
  freshnessMs?: number;
  metrics?: Partial<FederationMetrics>;
  ledger?: { record(metadata: Record<string, unknown>): void | Promise<void> };
  log: Logger;
  newId(context: string): string;
  now?: () => number;
  /** Server version for the User-Agent. */
  version: string;
  /** Outbox tuning (tests). */
  outbox?: { intervalMs?: number; timeoutMs?: number; leaseMs?: number; maxAgeMs?: number };
}

/** Federation of this server with its peers. */
export class Federation {
  readonly peers: PeerDirectory;
  readonly outbox: FederationOutbox;
  #ctx: FederationContext;
  /** Outbound TLS for synchronous requests (key packages), trusting `caCerts` too. */
  #client: Deno.HttpClient | undefined;

  constructor(o: FederationOptions) {
    this.#client = o.caCerts && o.caCerts.length > 0
      ? Deno.createHttpClient({ caCerts: o.caCerts })
      : undefined;
    const noop = () => {};
    const metrics: FederationMetrics = {
      outboxEnqueued: o.metrics?.outboxEnqueued ?? noop,
      outboxDelivered: o.metrics?.outboxDelivered ?? noop,
      outboxAttempt: o.metrics?.outboxAttempt ?? noop,
      inboundProcessed: o.metrics?.inboundProcessed ?? noop,
      inboundRejected: o.metrics?.inboundRejected ?? noop,
    };
    const now = o.now ?? Date.now;
    this.peers = new PeerDirectory(o.store, o.peers);
    this.outbox = new FederationOutbox({
      store: o.store,
      peers: this.peers,
      log: o.log,
      userAgent: `commucat-federation/${o.version}`,
      caCerts: o.caCerts,
      prepare: (payload, at) => refreshSignature(payload, at, o.key.seed),
      recordDeadLetter: (entry, reason) =>
        o.ledger?.record({
          scope: "federation",
          action: "dead_letter",
          outbox_id: entry.outboxId,
          destination: entry.destinationDomain,
          attempts: entry.attempts,
          reason,
        }),
      onAttempt: metrics.outboxAttempt,
      onDelivered: metrics.outboxDelivered,
      newId: o.newId,
      now,
      ...o.outbox,
    });
    this.#ctx = {
      store: o.store,
      domain: o.domain.toLowerCase(),
      seed: o.key.seed,
      peers: this.peers,
      outbox: this.outbox,
      deliver: o.deliver,
      notifyChannel: o.notifyChannel ?? 0,
      freshnessMs: o.freshnessMs ?? 10 * 60_000,
      metrics,
      ledger: o.ledger,
      log: o.log,
      newId: o.newId,
      now,
      // As the REST API's per-user limit on local takes.
      keyPackageTakes: new RateLimiter({ burst: 120, windowMs: 60_000, penaltyMs: 0 }),
    };
  }

  /** Starts the outbox worker. */
  start(): void {
    this.outbox.start();
  }

  /** Stops the outbox worker (entries stay in the store). */
  async stop(): Promise<void> {
    await this.outbox.stop();
    this.#client?.close();
    this.#client = undefined;
  }

  /** True for paths this service answers. */
  static handles(pathname: string): boolean {
    return pathname === "/federation/events" || pathname === "/federation/friend-request" ||
      pathname === "/federation/key-package" || pathname === "/federation/e2e-devices";
  }

  /** Answers `POST /federation/events` and `POST /federation/friend-request`. */
  async handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method !== "POST") {
      return problemResponse(new FederationProblem(405, "MethodNotAllowed", "use POST"));
    }
    try {
      if (pathname === "/federation/key-package") {
        return await receiveKeyPackageRequest(this.#ctx, request);
      }
      if (pathname === "/federation/e2e-devices") {
        return await receiveDevicesRequest(this.#ctx, request);
      }
      return pathname === "/federation/events"
        ? await receiveEvent(this.#ctx, request)
        : await receiveFriendRequest(this.#ctx, request);
    } catch (error) {
      if (!(error instanceof FederationProblem)) throw error;
      this.#ctx.metrics.inboundRejected();
      this.#ctx.log.warn("federation: refused an inbound request", {
        path: pathname,
        status: error.status,
        reason: error.title,
      });
      await this.#ctx.ledger?.record({
        scope: "federation",
        action: "inbound_rejected",
        path: pathname,
        status: error.status,
        reason: error.title,
      });
      const response = problemResponse(error);
      if (error.status === 405) response.headers.set("allow", "POST");
      return response;
    }
  }

  /** The router's hook: does this member live on another domain? */
  isRemote(member: string): boolean {
    return isRemoteMember(member, this.#ctx.domain);
  }

  /** The router's hook: queue `frame` for remote members (durably). */
  relay(fromDevice: string, members: string[], frame: Frame): Promise<void> {
    return relayToRemote(this.#ctx, fromDevice, members, frame);
  }

  /** REST: a friend request to `handle@domain`. */
  sendFriendRequest(
    caller: UserRecord,
    handle: string,
    domain: string,
    message: string | null,
  ): Promise<FederationResult> {
    return sendFederatedFriendRequest(this.#ctx, caller, handle, domain, message);
  }

  /** REST: take one KeyPackage of `deviceId` on `domain` for `caller`. */
  takeKeyPackage(
    caller: UserRecord,
    deviceId: string,
    domain: string,
  ): Promise<RemoteKeyPackageResult> {
    return fetchRemoteKeyPackage(this.#ctx, this.#client, caller, deviceId, domain);
  }

  /** REST: the devices of `handle` on `domain`, for `caller` (a federated friend). */
  listDevices(caller: UserRecord, handle: string, domain: string): Promise<RemoteDevicesResult> {
    return fetchRemoteDevices(this.#ctx, this.#client, caller, handle, domain);
  }

  /** REST: accept the pending request of `handle@domain`. */
  acceptFriendRequest(caller: UserRecord, remoteUser: string): Promise<FederationResult> {
    return acceptFederatedFriendRequest(this.#ctx, caller, remoteUser);
  }
}

/** A queued body with a fresh time and signature (same ids). */
export function refreshSignature(payload: string, nowMs: number, seed: Uint8Array): string {
  const at = formatRfc3339Nanos(BigInt(nowMs) * 1_000_000n);
  const value = parseJsonKeepingNumbers(payload) as Record<string, unknown>;
  if (value !== null && typeof value === "object" && "event" in value) {
    const signed = decodeSignedEvent(payload);
    return encodeSignedEvent(signEvent({ ...signed.event, created_at: at }, seed));
  }
  const b = value as Record<string, string>;
  if (b.type === "friend_request") {
    return JSON.stringify(signFriendRequest({
      request_id: b.request_id,
      from: b.from,
      to: b.to,
      message: b.message ?? "",
      timestamp: at,
    }, seed));
  }
  return payload;
}

export type { FederationResult, FriendRequestRecord };
