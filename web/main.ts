/**
 * The page: renders what the session worker reports and forwards what a
 * person does. It never holds keys or the session token (see worker.ts).
 * DOM is built with `textContent` only (no HTML strings), so message text
 * cannot inject markup.
 *
 * @module
 */
import type { ChatMessage, Command, Event, Friend, ViewState } from "./messages.ts";

const doc = document;
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const send = (command: Command) => worker.postMessage(command);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => doc.getElementById(id) as T;
let view: ViewState | null = null;
let openChannel: number | null = null;
/** When the worker tries to connect again (the status line counts down to it). */
let retryAt: number | null = null;
const messages = new Map<string, ChatMessage>();

const STATE_WORDS: Record<string, string> = {
  waiting: "waiting to send",
  sent: "sent",
  acknowledged: "on the server",
  delivered: "delivered",
  failed: "not sent",
};
const CONNECTION_WORDS: Record<string, string> = {
  offline: "Offline",
  connecting: "Connecting…",
  online: "Online",
  reconnecting: "Connection lost. Reconnecting…",
};

function el(tag: string, text = "", className = ""): HTMLElement {
  const node = doc.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function button(text: string, onClick: () => void, label?: string): HTMLElement {
  const node = el("button", text);
  node.setAttribute("type", "button");
  if (label) node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

function show(screen: "register" | "home" | "chat"): void {
  for (const id of ["register", "home", "chat"]) $(id).hidden = id !== screen;
  doc.body.dataset.screen = screen;
}

function render(): void {
  if (view === null) return;
  if (!view.registered) {
    $("status").textContent = "Not signed in";
    return show("register");
  }
  $("whoami").textContent = `${view.handle} · ${view.deviceId}` +
    (view.fingerprint ? ` · key ${view.fingerprint}` : "");
  const keyChange = $("key-change");
  keyChange.textContent = view.keyChange ?? "";
  keyChange.hidden = view.keyChange === null;
  const status = $("status");
  const retryIn = retryAt === null ? null : Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
  status.textContent = CONNECTION_WORDS[view.connection] +
    (view.problem !== null ? ` ${view.problem}` : "") +
    (retryIn !== null ? ` Next try in ${retryIn} s.` : "");
  status.dataset.state = view.connection;
  renderFriends(view.friends);
  renderRequests(view);
  $("devices").textContent = view.devices.join(", ");
  $("pair-code").textContent = view.pairCode ?? "";
  $("pair-hint").hidden = view.pairCode === null;
  if (openChannel !== null) renderChat();
  else show("home");
}

/** Friend rows by channel: re-rendering updates them in place, so a row a person
 * is focused on or about to press is never replaced under them. */
const friendRows = new Map<number, { item: HTMLElement; presence: HTMLElement }>();

function renderFriends(friends: Friend[]): void {
  const list = $("friends");
  const wanted = new Set(friends.map((f) => f.channel));
  for (const [channel, row] of friendRows) {
    if (!wanted.has(channel)) {
      row.item.remove();
      friendRows.delete(channel);
    }
  }
  const rows = friends.map((friend) => {
    let row = friendRows.get(friend.channel);
    if (row === undefined) {
      const item = el("li");
      const open = button(friend.handle, () => {
        openChannel = friend.channel;
        render();
        $("chat-input").focus();
      }, `Chat with ${friend.handle}`);
      const presence = el("span");
      item.append(open, presence);
      row = { item, presence };
      friendRows.set(friend.channel, row);
    }
    row.presence.textContent = friend.online ? "online" : "away";
    row.presence.className = `presence ${friend.online}`;
    return row.item;
  });
  if (rows.length === 0) {
    list.replaceChildren(el("li", "No friends yet.", "muted"));
    return;
  }
  // Moves only rows out of place (append of an attached node moves it, keeping focus).
  rows.forEach((item, i) => {
    if (list.children[i] !== item) list.insertBefore(item, list.children[i] ?? null);
  });
  while (list.children.length > rows.length) list.lastElementChild!.remove();
}

/** What the request lists last showed: unchanged lists are left alone (focus stays put). */
let shownRequests = "";

function renderRequests(v: ViewState): void {
  const key = JSON.stringify([v.incoming, v.outgoing]);
  if (key === shownRequests) return;
  shownRequests = key;
  const incoming = $("incoming");
  incoming.replaceChildren();
  for (const request of v.incoming) {
    const item = el("li", `${request.handle} wants to be your friend `);
    item.append(
      button(
        "Accept",
        () => send({ cmd: "accept", userId: request.userId }),
        `Accept ${request.handle}`,
      ),
      button(
        "Decline",
        () => send({ cmd: "reject", userId: request.userId }),
        `Decline ${request.handle}`,
      ),
    );
    incoming.append(item);
  }
  const outgoing = $("outgoing");
  outgoing.replaceChildren(
    ...v.outgoing.map((r) => el("li", `Waiting for ${r.handle} to accept`)),
  );
}

function renderChat(): void {
  const friend = view?.friends.find((f) => f.channel === openChannel);
  if (!friend) return show("home");
  show("chat");
  $("chat-title").textContent = `Chat with ${friend.handle}`;
  $("chat-presence").textContent = friend.typing
    ? `${friend.handle} is typing…`
    : friend.online
    ? `${friend.handle} is online`
    : `${friend.handle} is away`;
  const security = $("chat-security");
  security.dataset.secure = String(friend.secure);
  security.textContent = friend.secure
    ? `End-to-end encrypted between ${friend.members} devices (MLS).` +
      (friend.safety ? ` Safety number: ${friend.safety}` : "")
    : "Setting up end-to-end encryption… messages wait until it is ready.";
  const log = $("log");
  log.replaceChildren();
  const ours = [...messages.values()].filter((m) => m.channel === openChannel)
    .sort((a, b) => a.at - b.at);
  for (const message of ours) {
    const item = el("li", "", message.mine ? "mine" : "theirs");
    item.dataset.id = message.id;
    item.append(el("span", message.mine ? "You" : message.from, "author"), el("p", message.text));
    if (message.plaintext) {
      item.append(el("span", "plaintext: not end-to-end encrypted", "plaintext"));
    }
    if (message.mine && message.state) {
      const state = el("span", STATE_WORDS[message.state], "state");
      state.dataset.state = message.state;
      item.append(state);
    }
    log.append(item);
  }
  log.scrollTop = log.scrollHeight;
}

function onEvent(event: Event): void {
  switch (event.event) {
    case "view":
      view = event.view;
      retryAt = view.retryIn === null ? null : Date.now() + view.retryIn * 1000;
      break;
    case "messages":
      for (const m of event.messages) messages.set(m.id, m);
      break;
    case "error": {
      const box = $("error");
      box.textContent = event.text;
      box.hidden = false;
      return;
    }
    case "session":
      doc.body.dataset.sessionMs = String(Math.round(event.millis));
      doc.body.dataset.sessionCold = String(event.cold);
      doc.body.dataset.sessionPattern = event.pattern;
      return;
  }
  render();
}

function onSubmit(id: string, handler: (form: HTMLFormElement) => void): void {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    $("error").hidden = true;
    handler(event.target as HTMLFormElement);
  });
}

const value = (id: string) => ($(id) as HTMLInputElement).value;

onSubmit(
  "register-form",
  () => send({ cmd: "register", handle: value("handle"), deviceName: value("device-name") }),
);
onSubmit(
  "claim-form",
  () => send({ cmd: "claim", code: value("claim-code"), deviceName: value("claim-device-name") }),
);
onSubmit("befriend-form", (form) => {
  send({ cmd: "befriend", handle: value("friend-handle") });
  form.reset();
});
onSubmit("chat-form", (form) => {
  const text = value("chat-input").trim();
  if (text && openChannel !== null) send({ cmd: "send", channel: openChannel, text });
  form.reset();
});
$("chat-input").addEventListener("input", () => {
  if (openChannel !== null) send({ cmd: "typing", channel: openChannel });
});
$("pair").addEventListener("click", () => send({ cmd: "pair" }));
$("back").addEventListener("click", () => {
  openChannel = null;
  render();
});
worker.onmessage = (event: MessageEvent<Event>) => onEvent(event.data);
worker.onerror = () =>
  onEvent({ event: "error", text: "The app failed to start. Reload the page." });
// The page's time origin (Unix ms): session timing counts from the page load, not the worker's.
send({ cmd: "start", pageOrigin: performance.timeOrigin });
setInterval(() => {
  if (retryAt !== null) render();
}, 1_000);
