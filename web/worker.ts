/**
 * The session worker: runs the client SDK (noble backend) in a dedicated
 * Worker, so the device key and the session token (the REST bearer) live
 * only in this worker's memory and IndexedDB, never in the page's script
 * context. The page sends {@link Command}s and renders {@link Event}s.
 *
 * @module
 */
import {
  backoffDelay,
  choosePattern,
  type ClientOptions,
  CommuCatClient,
  E2EClient,
  ServerError,
} from "../src/client/mod.ts";
import type { E2EEvent } from "../src/e2e/mod.ts";
import { fromHex, toHex } from "../src/crypto/bytes.ts";
import { type DecodedFrame, FrameType } from "../src/proto/mod.ts";
import { type Identity, IndexedDbE2EStore, loadIdentity, saveIdentity } from "./keystore.ts";
import type { ChatMessage, Command, Event, ViewState } from "./messages.ts";
import { Friends } from "./friends.ts";
import { api, explainConnectError, UserFacingError } from "./rest.ts";

interface WorkerScope {
  postMessage(message: Event): void;
  onmessage: ((event: { data: Command }) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;
const post = (event: Event) => scope.postMessage(event);

/** Live pings to friends this often; a friend is online while pings arrive. */
const PRESENCE_PING_MS = 10_000;
/** The directory's stock of this device's key packages is checked this often. */
const KEY_PACKAGES_EVERY_MS = 60_000;
/** Friends, requests and device lists are refreshed this often while online. */
const REFRESH_MS = 2_000;

/** When the page started loading (Unix ms; from its "start"), for the session timing. */
let startedAt = performance.timeOrigin;
let identity: Identity | null = null;
let cold = false;
let client: CommuCatClient | null = null;
let running = false;
let timed = false;
/** The Noise pattern of the last connect (XKhfs when the server offers post-quantum). */
let pattern = "";
const messages = new Map<string, ChatMessage>();
/** Ours, not yet acknowledged by the server: sent again after a reconnect. */
const outbox = new Map<string, ChatMessage>();
const view: ViewState = {
  registered: false,
  handle: "",
  deviceId: "",
  connection: "offline",
  retryIn: null,
  problem: null,
  friends: [],
  incoming: [],
  outgoing: [],
  devices: [],
  pairCode: null,
  fingerprint: "",
  keyChange: null,
};
const friends = new Friends(view, () => publishView());

/**
 * End-to-end encryption (docs/PROTOCOL.md §8): the MLS state lives in this worker and its
 * IndexedDB (sealed, keystore.ts). Each friendship channel is one MLS group of both users'
 * devices; the device with the smallest id creates it, the others join from its Welcome.
 */
let e2e: E2EClient | null = null;
const e2eStore = new IndexedDbE2EStore();
/** channel → the device set its group was last set up or synced for. */
const synced = new Map<number, string>();
let securing = false;

function publishView(): void {
  post({ event: "view", view: structuredClone(view) });
}

function publishMessages(list: ChatMessage[]): void {
  if (list.length > 0) post({ event: "messages", messages: list.map((m) => ({ ...m })) });
}

function fail(error: unknown): void {
  const text = error instanceof UserFacingError
    ? error.message
    : error instanceof ServerError && error.code !== "handshake"
    ? `The server refused that: ${error.body.detail ?? error.code}`
    : explainConnectError(error);
  post({ event: "error", text });
}

function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A device id from the name a person typed (PROTOCOL.md §3 device id rules). */
function deviceIdFor(name: string): string {
  const base = name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "")
    .slice(0, 40);
  return `${base || "browser"}-${randomHex(4)}`;
}

interface ServerInfo {
  domain: string;
  noise_public: string;
  post_quantum?: { enabled: boolean; signing_public?: string | null };
}

async function connect(id: Identity, register: boolean): Promise<CommuCatClient> {
  const info = await api<ServerInfo>("/api/server-info");
  // The post-quantum key comes from the origin that served this code: pinning it longer would
  // not add trust (that origin could serve other code), and it follows the server's key rotation.
  const pqKey = info.post_quantum?.enabled ? info.post_quantum.signing_public : null;
  const options: ClientOptions = {
    url: location.origin,
    mode: "websocket",
    backend: "noble",
    serverStatic: fromHex(info.noise_public),
    serverPqPublic: pqKey ? fromHex(pqKey) : undefined,
    domain: info.domain,
    deviceId: id.deviceId,
    devicePrivateKey: id.privateKey,
    user: register ? { handle: id.handle, display_name: id.handle } : undefined,
    certificate: id.certificate,
  };
  pattern = choosePattern(options).name;
  return await CommuCatClient.connect(options);
}

/** Connects, and reconnects with backoff, for as long as the page lives. */
async function run(first: CommuCatClient | null): Promise<void> {
  if (running || identity === null) return;
  running = true;
  let attempt = 0;
  let next = first;
  while (true) {
    view.connection = attempt === 0 ? "connecting" : "reconnecting";
    view.retryIn = null;
    publishView();
    try {
      const c = next ?? await connect(identity, false);
      next = null;
      attempt = 0;
      await established(c);
    } catch (error) {
      // Said in the status line; a refusal by the server (e.g. a revoked device) also as an alert.
      view.problem = error instanceof ServerError ? null : explainConnectError(error);
      if (error instanceof ServerError) fail(error);
    }
    client = null;
    attempt++;
    const delay = backoffDelay(attempt, { maxMs: 8_000 });
    view.connection = "reconnecting";
    view.retryIn = Math.ceil(delay / 1000);
    publishView();
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function established(c: CommuCatClient): Promise<void> {
  client = c;
  if (!timed) {
    timed = true;
    post({
      event: "session",
      millis: performance.timeOrigin + performance.now() - startedAt,
      cold,
      pattern,
    });
  }
  view.connection = "online";
  view.retryIn = null;
  view.problem = null;
  publishView();
  const token = c.session.sessionId;
  e2e = await E2EClient.attach(c, {
    store: e2eStore,
    deviceId: identity!.deviceId,
    devicePrivateKey: identity!.privateKey,
    rest: { url: location.origin },
  });
  view.fingerprint = await e2e.fingerprint();
  publishView();
  const refresh = () => friends.refresh(c, token).then(() => secure(c)).catch(fail);
  await refresh();
  for (const message of outbox.values()) transmit(c, message);
  const ping = () => friends.ping(c);
  ping();
  // Key packages others took (to add this device to a conversation) are made up for.
  const replenish = () => e2e?.replenishKeyPackages().catch(() => {});
  const timers = [
    setInterval(refresh, REFRESH_MS),
    setInterval(ping, PRESENCE_PING_MS),
    setInterval(replenish, KEY_PACKAGES_EVERY_MS),
  ];
  try {
    for (let frame = await c.next(); frame !== null; frame = await c.next()) {
      await receive(c, frame);
    }
  } finally {
    timers.forEach(clearInterval);
    for (const message of outbox.values()) message.state = "waiting";
    publishMessages([...outbox.values()]);
  }
}

/**
 * Sets up the MLS conversation of each friendship (creator: the smallest device id of both users'
 * active devices) and keeps its membership in line with the devices (paired ones added, revoked
 * ones removed, by the committer). A failure (say, a device without key packages yet) is retried
 * at the next refresh.
 */
async function secure(c: CommuCatClient): Promise<void> {
  const e = e2e;
  if (e === null || c.closed || securing) return;
  securing = true;
  try {
    for (const friend of view.friends) {
      const set = [...new Set([...view.devices, ...friend.devices])].sort();
      const key = set.join(",");
      if (synced.get(friend.channel) !== key) {
        synced.set(friend.channel, key);
        try {
          if (!e.device.hasGroup(friend.channel)) {
            if (set[0] === view.deviceId) await e.open(friend.channel, [friend.userId]);
          } else {
            for (const event of await e.sync(friend.channel, [friend.userId])) note(event);
          }
          friend.safety = await e.safetyNumber(friend.userId);
        } catch {
          synced.delete(friend.channel);
        }
      }
      friend.secure = e.device.hasGroup(friend.channel);
      friend.members = friend.secure ? e.device.members(friend.channel).length : 0;
    }
  } finally {
    securing = false;
  }
  flushOutbox(c);
  publishView();
}

/** Shows what a person must know about keys: a changed device key. */
function note(event: E2EEvent): void {
  if (event.kind === "key_changed") {
    view.keyChange = `The key of device ${event.deviceId} changed (${event.before} → ` +
      `${event.after}). Compare your safety numbers again.`;
  }
}

function flushOutbox(c: CommuCatClient): void {
  for (const message of outbox.values()) {
    if (message.state === "waiting") transmit(c, message);
  }
}

/** Encrypts `text` for `channel`'s conversation and sends it. */
async function sendSecure(c: CommuCatClient, channel: number, text: string) {
  const e = e2e;
  if (e === null || !e.device.hasGroup(channel)) throw new Error("no conversation yet");
  return await c.send(channel, await e.device.encrypt(channel, new TextEncoder().encode(text)));
}

async function receive(c: CommuCatClient, frame: DecodedFrame): Promise<void> {
  if (frame.type === FrameType.Typing) {
    friends.onLive(frame.channel, (frame.control ?? {}) as Record<string, unknown>);
    return;
  }
  if (frame.type !== FrameType.Msg) return;
  const events: E2EEvent[] = e2e
    ? await e2e.device.receive(frame.channel, frame.payload)
    : [{ kind: "plaintext", channel: frame.channel, data: frame.payload }];
  for (const event of events) {
    if (event.kind === "message" || event.kind === "plaintext") {
      onBody(c, frame.channel, event.data, event.kind === "plaintext");
    } else if (event.kind === "joined" || event.kind === "membership") {
      const friend = view.friends.find((f) => f.channel === frame.channel);
      if (friend && e2e!.device.hasGroup(frame.channel)) {
        friend.secure = true;
        friend.members = e2e!.device.members(frame.channel).length;
        e2e!.safetyNumber(friend.userId).then((n) => {
          friend.safety = n;
          publishView();
        }, () => {});
      }
      flushOutbox(c);
      publishView();
    } else if (event.kind === "key_changed") {
      note(event);
      publishView();
    }
  }
}

function onBody(c: CommuCatClient, channel: number, data: Uint8Array, plaintext: boolean): void {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return; // not one of ours: another client's encoding
  }
  if (body.kind === "receipt" && Array.isArray(body.ids) && body.by !== view.handle) {
    const changed: ChatMessage[] = [];
    for (const id of body.ids) {
      const message = messages.get(String(id));
      if (message?.mine && message.state !== "delivered") {
        message.state = "delivered";
        outbox.delete(message.id);
        changed.push(message);
      }
    }
    publishMessages(changed);
    return;
  }
  if (body.kind !== "msg" || typeof body.id !== "string" || typeof body.text !== "string") return;
  const mine = body.from === view.handle;
  if (!mine) {
    // Delivered to this device: tell the author (at-least-once, so repeat it for a repeat).
    sendSecure(c, channel, JSON.stringify({ kind: "receipt", ids: [body.id], by: view.handle }))
      .catch(() => {});
    friends.onLive(channel, { typing: false });
  }
  if (messages.has(body.id)) return;
  const message: ChatMessage = {
    id: body.id,
    channel,
    from: String(body.from),
    mine,
    text: body.text,
    at: Number(body.at) || Date.now(),
    state: mine ? "acknowledged" : undefined,
    plaintext: plaintext || undefined,
  };
  messages.set(message.id, message);
  publishMessages([message]);
}

function transmit(c: CommuCatClient, message: ChatMessage): void {
  const payload = JSON.stringify({
    kind: "msg",
    id: message.id,
    from: message.from,
    text: message.text,
    at: message.at,
  });
  // End to end only: until the channel's conversation is set up the message waits in the outbox.
  if (e2e === null || !e2e.device.hasGroup(message.channel) || c.closed) return;
  message.state = "sent";
  publishMessages([message]);
  sendSecure(c, message.channel, payload).then(() => {
    if (message.state === "sent") message.state = "acknowledged";
    publishMessages([message]);
  }, (error) => {
    if (error instanceof ServerError) {
      message.state = "failed";
      outbox.delete(message.id);
      fail(error);
    } else {
      message.state = "waiting";
    }
    publishMessages([message]);
  });
}

async function register(handle: string, deviceName: string): Promise<void> {
  // A first visit is timed from the submit: the time a person spends typing is not ours.
  startedAt = performance.timeOrigin + performance.now();
  const id: Identity = {
    deviceId: deviceIdFor(deviceName),
    deviceName,
    handle: handle.trim(),
    privateKey: crypto.getRandomValues(new Uint8Array(32)),
  };
  const c = await connect(id, true);
  id.handle = String((c.session.ack.user as Record<string, unknown>)?.handle ?? id.handle);
  await saveIdentity(id);
  adopt(id, true);
  run(c);
}

async function claim(code: string, deviceName: string): Promise<void> {
  const claimed = await api<
    { device_id: string; private_key: string; user: { handle: string } }
  >("/api/pair/claim", { method: "POST", body: { pair_code: code, device_name: deviceName } });
  // The server made this device's key (pairing as specified upstream, PROTOCOL.md §5).
  const id: Identity = {
    deviceId: claimed.device_id,
    deviceName,
    handle: claimed.user.handle,
    privateKey: fromHex(claimed.private_key),
  };
  const c = await connect(id, false);
  await saveIdentity(id);
  adopt(id, true);
  run(c);
}

function adopt(id: Identity, fresh: boolean): void {
  identity = id;
  cold = fresh;
  view.registered = true;
  view.handle = id.handle;
  view.deviceId = id.deviceId;
  publishView();
}

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case "start": {
      startedAt = command.pageOrigin;
      const stored = await loadIdentity();
      if (stored === null) return publishView();
      adopt(stored, false);
      return run(null);
    }
    case "register":
      return await register(command.handle, command.deviceName);
    case "claim":
      return await claim(command.code, command.deviceName);
    case "send": {
      const message: ChatMessage = {
        id: randomHex(16),
        channel: command.channel,
        from: view.handle,
        mine: true,
        text: command.text,
        at: Date.now(),
        state: "waiting",
      };
      messages.set(message.id, message);
      outbox.set(message.id, message);
      friends.sentMessage();
      publishMessages([message]);
      if (client !== null && !client.closed) transmit(client, message);
      return;
    }
    case "typing":
      if (client !== null && !client.closed) friends.typing(client, command.channel);
      return;
    default:
      if (client === null) throw new UserFacingError("Not connected yet. Try again in a moment.");
      return await friends.command(client, command);
  }
}

scope.onmessage = (event) => {
  handle(event.data).catch(fail);
};
