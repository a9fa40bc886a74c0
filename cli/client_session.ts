/**
 * What the terminal client's commands share: connecting a profile's device,
 * the REST calls it makes with that session, and readable renderings of
 * friends and delivered frames.
 *
 * @module
 */
import type { PathSlotStatus } from "../src/client/mod.ts";
import { raptorqCodec } from "../src/multipath/mod.ts";
import {
  backoffDelay,
  type BackoffOptions,
  type ClientOptions,
  CommuCatClient,
  connectThroughTransports,
  connectWithBackoff,
  ServerError,
  type TransportAttempt,
} from "../src/client/mod.ts";
import { transportsFromSpecs } from "../src/client/transports/mod.ts";
import { certificateToJson, fromHex, fromUtf8, parseCertificate } from "../src/crypto/mod.ts";
import { FrameType, frameTypeLabel, parsePaddingPolicy } from "../src/proto/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { exitWithError, messageOf } from "./errors.ts";
import { type ClientProfile, loadProfile, saveProfile } from "./client_profile.ts";

/** The CA certificates a profile trusts (its `--tls-ca`), if any. */
export async function caCerts(profile: { tls_ca_path?: string }): Promise<string[] | undefined> {
  return profile.tls_ca_path ? [await Deno.readTextFile(profile.tls_ca_path)] : undefined;
}

/** How a command connects: a one-shot leaves deliveries queued for the device's next session. */
export interface ConnectHow {
  mode?: ConnectMode;
  /** Acknowledge (and so consume) what the server delivers; false for one-shot commands. */
  acknowledgeDeliveries: boolean;
  /**
   * A multipath session (PROTOCOL.md "Multipath"): the modes of its paths,
   * the first one's first (`mode` is ignored then). RaptorQ runs in a Worker.
   */
  paths?: ConnectMode[];
  /** The multipath FEC policy (`auto`, `off`, `duplicate`, `raptorq[:overhead]`). */
  fecPolicy?: string;
  /** Path changes of a multipath session (status lines). */
  onPaths?: (paths: PathSlotStatus[]) => void;
  /** Retry a connection that fails before the handshake (the chat's reconnect). */
  backoff?: BackoffOptions;
}

/** Connects the profile's device; saves its user id, session token and certificate. */
export async function connect(path: string, how: ConnectHow): Promise<{
  client: CommuCatClient;
  profile: ClientProfile;
}> {
  const profile = await loadProfile(path);
  const options: ClientOptions = {
    url: profile.server_url,
    pattern: profile.noise_pattern,
    serverStatic: fromHex(profile.server_static, 32),
    // Pinned at init: with it the SDK uses the hybrid pattern and checks the server's signature.
    serverPqPublic: profile.server_pq_public ? fromHex(profile.server_pq_public, 1952) : undefined,
    domain: profile.domain,
    deviceId: profile.device_id,
    devicePrivateKey: fromHex(profile.private_key, 32),
    user: profile.user_id
      ? { id: profile.user_id }
      : { handle: profile.user_handle, display_name: profile.display_name },
    certificate: profile.device_certificate as string | undefined,
    prologue: profile.prologue,
    padding: profile.padding === undefined ? undefined : profilePadding(profile.padding),
    caCerts: await caCerts(profile),
    mode: how.paths?.[0] ?? how.mode ?? "binary",
    acknowledgeDeliveries: how.acknowledgeDeliveries,
  };
  const codec = how.paths && how.paths.length > 1 ? raptorqCodec("worker") : undefined;
  if (how.paths && how.paths.length > 1) {
    options.paths = how.paths.slice(1);
    options.fecPolicy = how.fecPolicy;
    options.fec = codec;
    options.onPaths = how.onPaths;
  }
  const client = profile.transports?.length
    ? await connectByTransports(profile, options, how.backoff)
    : how.backoff
    ? await connectWithBackoff(options, how.backoff)
    : await CommuCatClient.connect(options);
  // The Worker goes with the session (a reconnect starts a new one).
  if (codec) client.finished.then(() => codec.close());
  const ack = client.session.ack;
  profile.user_id = client.session.userId;
  profile.session_token = client.session.sessionId;
  // Kept as canonical JSON text: the u64 serial must survive exactly.
  if (ack.device_certificate) {
    profile.device_certificate = certificateToJson(
      parseCertificate(ack.device_certificate as object),
    );
  }
  profile.device_ca_public = String(ack.device_ca_public ?? profile.device_ca_public ?? "");
  await saveProfile(path, profile);
  return { client, profile };
}

/** Default time for one transport attempt (profile `transport_timeout_ms`). */
export const TRANSPORT_TIMEOUT_MS = 10_000;

/** One stderr line per failed attempt: the censorship signal and what the network said. */
export function attemptLine(a: TransportAttempt): string {
  return a.ok
    ? `transport ${a.transport}: connected in ${a.elapsedMs} ms`
    : `transport ${a.transport}: failed (${a.signal}) after ${a.elapsedMs} ms: ${a.error}`;
}

/**
 * Connects through the profile's ordered `transports` (the one that worked
 * last time first), logging each failure's censorship signal to stderr and
 * remembering the one that worked (`last_transport`, saved by the caller).
 * With `backoff`, a round where every transport failed is retried.
 */
async function connectByTransports(
  profile: ClientProfile,
  options: ClientOptions,
  backoff?: BackoffOptions,
): Promise<CommuCatClient> {
  const transports = transportsFromSpecs(profile.transports!);
  for (let round = 0;; round++) {
    try {
      const { client, transport } = await connectThroughTransports(options, transports, {
        attemptTimeoutMs: profile.transport_timeout_ms ?? TRANSPORT_TIMEOUT_MS,
        preferred: profile.last_transport,
        onAttempt: (a) => {
          if (!a.ok || a.transport !== profile.last_transport) console.error(attemptLine(a));
        },
      });
      profile.last_transport = transport.label;
      return client;
    } catch (error) {
      if (error instanceof ServerError || !backoff) throw error;
      if (backoff.maxAttempts !== undefined && round + 1 >= backoff.maxAttempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(round, backoff)));
    }
  }
}

/** The profile's `padding`, or an error naming the key. */
function profilePadding(text: string) {
  try {
    return parsePaddingPolicy(text);
  } catch (error) {
    throw new Error(`profile key padding: ${(error as Error).message}`);
  }
}

/** Calls the REST API with the connection's session token; throws with the problem detail. */
export async function rest(
  profile: ClientProfile,
  session: CommuCatClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  // The session's own route (a transport's proxied client) when it has one: REST goes the same way.
  const via = session.reachedVia;
  const certs = via.httpClient ? undefined : await caCerts(profile);
  const http = certs ? Deno.createHttpClient({ caCerts: certs }) : undefined;
  try {
    const response = await fetch(`${via.url || profile.server_url}${path}`, {
      method,
      client: via.httpClient ?? http,
      headers: {
        authorization: `Bearer ${session.session.sessionId}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) as Record<string, unknown> : {};
    if (!response.ok) throw new Error(`${response.status}: ${json.detail ?? json.title ?? text}`);
    return json;
  } finally {
    http?.close();
  }
}

/** Sends a friend request to `handle`, or accepts one from them when it exists. */
export async function befriendHandle(
  profile: ClientProfile,
  c: CommuCatClient,
  handle: string,
): Promise<string> {
  const target = encodeURIComponent(handle);
  // Accepting succeeds only when they asked first; otherwise ask them.
  try {
    await rest(profile, c, "POST", `/api/friends/requests/${target}/accept`);
    return `accepted ${handle}'s friend request`;
  } catch {
    await rest(profile, c, "POST", `/api/friends/requests/${target}`, {});
    return `friend request sent to ${handle}`;
  }
}

/** `/api/friends` and `/api/friends/requests` as lines a person reads: handles, not user ids. */
export function formatFriends(
  friends: Record<string, unknown>,
  requests: Record<string, unknown>,
): string {
  type Friend = { user_id: string; handle?: string; alias?: string };
  type Request = { from_user_id: string; from_handle?: string; status?: string };
  type Sent = { to_user_id: string; to_handle?: string; status?: string };
  const devices = friends.devices as Record<string, { device_id: string }[]> | undefined;
  const lines = ((friends.friends as Friend[] | undefined) ?? []).map((f) => {
    const name = f.handle ?? f.user_id;
    const alias = f.alias !== undefined && f.alias !== name ? ` (${f.alias})` : "";
    const list = (devices?.[f.user_id] ?? []).map((d) => d.device_id).join(", ") || "-";
    return `friend ${name}${alias}: devices ${list}`;
  });
  for (const r of (requests.incoming as Request[] | undefined) ?? []) {
    const who = r.from_handle ?? r.from_user_id;
    lines.push(`request from ${who} (accept: friend ${who})`);
  }
  for (const r of (requests.outgoing as Sent[] | undefined) ?? []) {
    if (r.status === "pending") lines.push(`request to ${r.to_handle ?? r.to_user_id} (pending)`);
  }
  return lines.length ? lines.join("\n") : "no friends yet";
}

/** The friends list and pending requests, as {@link formatFriends} renders them. */
export async function friendsText(profile: ClientProfile, c: CommuCatClient): Promise<string> {
  const friends = await rest(profile, c, "GET", "/api/friends");
  const requests = await rest(profile, c, "GET", "/api/friends/requests");
  return formatFriends(friends, requests);
}

/** Renders a delivered frame as one readable line. */
export function describeFrame(
  frame: { type: number; channel: number; payload: Uint8Array },
): string {
  if (frame.type === FrameType.Msg) {
    let text: string;
    try {
      text = fromUtf8(frame.payload);
    } catch {
      return `[${frame.channel}] <${frame.payload.length} bytes>`;
    }
    try {
      const msg = JSON.parse(text) as { from?: unknown; text?: unknown };
      if (typeof msg.text === "string") return `[${frame.channel}] ${msg.from ?? "?"}: ${msg.text}`;
    } catch { /* plain text */ }
    return `[${frame.channel}] ${text}`;
  }
  let body = "";
  try {
    body = fromUtf8(frame.payload);
  } catch { /* binary */ }
  return `[${frame.channel}] ${frameTypeLabel(frame.type as FrameType)} ${body}`;
}

/** The JSON a chat message carries: the sender's handle and the text. */
export function messageBody(profile: ClientProfile, text: string): string {
  return JSON.stringify({ from: profile.user_handle ?? profile.device_id, text });
}

/** A network error's useful part: Deno's fetch says "fetch failed" and keeps the reason in `cause`. */
function networkReason(error: unknown): string {
  const e = error as Error & { cause?: unknown };
  const reason = e.cause instanceof Error ? e.cause.message : String(e?.message ?? error);
  const text = reason.replace(/^error sending request for url \([^)]*\): /, "").replaceAll(
    "\n",
    " ",
  );
  return /UnknownIssuer|certificate/i.test(text)
    ? `${text} (for a self-signed server certificate pass --tls-ca, e.g. var/tls/cert.pem)`
    : text;
}

/** One line for a failed `fetch`: the URL and the underlying cause (TLS, DNS, refused…). */
export function fetchFailure(url: string, error: unknown): Error {
  return new Error(`cannot reach ${url}: ${networkReason(error)}`);
}

/** Ends `client <command>` with its one error line (exit 1). */
export function fail(command: string, error: unknown): never {
  const text = error instanceof ServerError
    ? `server refused: ${error.code}: ${error.body.detail ?? ""}`
    : (error as { cause?: unknown }).cause instanceof Error
    ? `cannot reach the server: ${networkReason(error)}`
    : messageOf(error);
  exitWithError(`client ${command}`, text);
}
