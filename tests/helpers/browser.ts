// deno-lint-ignore-file no-explicit-any -- page-side callbacks run in Chromium, typed loosely (no DOM lib here)
/**
 * Drives Debian's Chromium with puppeteer-core (npm): it runs under Deno
 * as is (plain CDP over a pipe/WebSocket, no browser download), where
 * playwright-core expects its own patched browser builds and Node's
 * child-process quirks. Helpers for the web client's screens.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { startTestServer, type TestServer } from "./inprocess.ts";
import { buildWebClient } from "../../src/web/mod.ts";
import { openStore, type Store } from "../../src/storage/mod.ts";

// Page-side code (page.evaluate) runs in Chromium; its globals are typed loosely here so the
// DOM library stays out of the server's type check.
declare const document: any;

export const CHROMIUM = "/usr/bin/chromium";

/** True when Chromium is installed (the tests skip, loudly, without it). */
export async function haveChromium(): Promise<boolean> {
  return await Deno.stat(CHROMIUM).then(() => true, () => false);
}

/** Where screenshots go (gitignored, kept after the run for people to look at). */
export const ARTIFACTS = new URL("../../var/test-artifacts/web/", import.meta.url);

/** Starts headless Chromium trusting the test server's self-signed certificate. */
export async function launchChromium(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    acceptInsecureCerts: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
}

/** A server with the freshly built web client, and every session token it handed out. */
export interface WebServer extends TestServer {
  tokens: Set<string>;
  /** Every byte string (hex) and text the store was given: what the server kept. */
  written: Set<string>;
  /** Stops; `keepData` keeps the data directory for {@link startWebServer}(again). */
  stop(keepData?: boolean): Promise<void>;
}

/**
 * Builds the web client, then starts a server whose store records session
 * ids. With `again`, starts the same server again (same data, keys and port).
 */
export async function startWebServer(again?: WebServer): Promise<WebServer> {
  if (!again) await buildWebClient();
  const dataDir = again?.dataDir ?? await Deno.makeTempDir({ prefix: "commucat-web-" });
  const tokens = again?.tokens ?? new Set<string>();
  const store = await openStore({ backend: "sqlite", path: `${dataDir}/commucat.db` }, {
    migrate: true,
    createIfNew: true,
  });
  const port = again ? Number(new URL(again.url).port) : 0;
  const written = again?.written ?? new Set<string>();
  const srv = await startTestServer({ dataDir, port }, {
    store: recordSessions(store, tokens, written),
  });
  return {
    ...srv,
    tokens,
    written,
    async stop(keepData = false) {
      await srv.stop();
      if (keepData) return;
      await Deno.remove(dataDir, { recursive: true }).catch(() => {
        // Already removed: nothing to clean.
      });
    },
  };
}

/**
 * The store, noting every `sessionId` passed to any of its methods, and
 * every byte string it was given (hex) in `written`.
 */
function recordSessions(store: Store, tokens: Set<string>, written: Set<string>): Store {
  const note = (value: unknown, depth: number) => {
    if (value instanceof Uint8Array) {
      written.add(Array.from(value, (b) => b.toString(16).padStart(2, "0")).join(""));
      return;
    }
    if (typeof value === "string") written.add(value.toLowerCase());
    if (depth > 3 || typeof value !== "object" || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record.sessionId === "string") tokens.add(record.sessionId);
    for (const inner of Object.values(record)) note(inner, depth + 1);
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        for (const arg of args) note(arg, 0);
        return value.apply(target, args);
      };
    },
  });
}

/** Waits until `selector` matches (30 s at most). */
export async function waitFor(page: Page, selector: string): Promise<void> {
  await page.waitForSelector(selector, { timeout: 30_000 });
}

/** Waits until some `#log` entry contains `text`. */
export async function waitForMessage(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (t: string) =>
      [...document.querySelectorAll("#log li p")].some((p: any) => p.textContent === t),
    { timeout: 30_000 },
    text,
  );
}

/** Waits until our message `text` shows `state` (`delivered`, `acknowledged`…). */
export async function waitForState(page: Page, text: string, state: string): Promise<void> {
  await page.waitForFunction(
    (t: string, s: string) =>
      [...document.querySelectorAll("#log li.mine")].some((li: any) =>
        li.querySelector("p")?.textContent === t &&
        li.querySelector(".state")?.getAttribute("data-state") === s
      ),
    { timeout: 30_000 },
    text,
    state,
  );
}

/** Types into the field labelled by `id` and submits its form with Enter (keyboard only). */
export async function typeAndSubmit(page: Page, id: string, text: string): Promise<void> {
  await page.focus(`#${id}`);
  await page.$eval(`#${id}`, (input: any) => (input.value = ""));
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** Opens `/app/` and registers `handle` on a device named `device`. */
export async function register(page: Page, url: string, handle: string, device: string) {
  await page.goto(`${url}/app/`);
  await waitFor(page, "#register:not([hidden])");
  await page.$eval("#device-name", (input: any, d: string) => (input.value = d), device);
  await typeAndSubmit(page, "handle", handle);
  await waitFor(page, 'body[data-screen="home"] #status[data-state="online"]');
}

/**
 * Presses `selector` once it exists, in one page-side step: a list refresh between a
 * lookup and a separate click could otherwise detach the looked-up node.
 */
export async function press(page: Page, selector: string): Promise<void> {
  await page.waitForFunction(
    (sel: string) => {
      const target: any = document.querySelector(sel);
      target?.click();
      return target !== null;
    },
    { timeout: 30_000 },
    selector,
  );
}

/** Opens the chat with `friend` (waiting until the friendship is mutual). */
export async function openChat(page: Page, friend: string): Promise<void> {
  await press(page, `button[aria-label="Chat with ${friend}"]`);
  await waitFor(page, 'body[data-screen="chat"]');
}

/** Saves a screenshot `name`.png into {@link ARTIFACTS}. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname as `${string}.png` });
}

export type { Browser, Page, Store };
