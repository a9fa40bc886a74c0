// deno-lint-ignore-file no-explicit-any -- page-side callbacks run in Chromium, typed loosely (no DOM lib here)
/**
 * The web client in a real browser (Debian Chromium via puppeteer-core):
 * two people register, befriend each other and chat both ways; one closes
 * the tab, gets the queued messages on return (keys from IndexedDB); a
 * paired second device gets new messages. Screenshots of each screen go to
 * var/test-artifacts/web/. Also: the page's CSP refuses foreign and inline
 * script, and no session token is readable by page script.
 */
import assert from "node:assert/strict";
import {
  type Browser,
  haveChromium,
  launchChromium,
  openChat,
  type Page,
  press,
  register,
  screenshot,
  startWebServer,
  typeAndSubmit,
  waitFor,
  waitForMessage,
  waitForState,
  type WebServer,
} from "./helpers/browser.ts";
import { friendshipChannel } from "../web/friends.ts";

// Page-side code (page.evaluate) runs in Chromium; its globals are typed loosely here so the
// DOM library stays out of the server's type check.
declare const document: any, indexedDB: any, window: any;

const available = await haveChromium();

/** Polls `condition` every 100 ms, failing after 30 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function sessionMillis(
  page: Page,
): Promise<{ ms: number; cold: string; pattern: string }> {
  await waitFor(page, "body[data-session-ms]");
  return await page.$eval("body", (b: any) => ({
    ms: Number(b.dataset.sessionMs),
    cold: String(b.dataset.sessionCold),
    pattern: String(b.dataset.sessionPattern),
  }));
}

/** Every string page script can reach without the worker: DOM, storage, cookies, globals. */
function pageVisibleText(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const parts: string[] = [document.documentElement.outerHTML, document.cookie];
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i++) {
        parts.push(storage.key(i) ?? "", storage.getItem(storage.key(i) ?? "") ?? "");
      }
    }
    for (const key of Object.getOwnPropertyNames(globalThis)) {
      try {
        const value = (globalThis as Record<string, unknown>)[key];
        if (typeof value === "string") parts.push(value);
      } catch { /* a getter that throws has nothing to show */ }
    }
    parts.push(...performance.getEntries().map((e) => e.name));
    const dbs = await indexedDB.databases();
    for (const info of dbs) {
      const db = await new Promise<any>((resolve, reject) => {
        const r = indexedDB.open(info.name!);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      for (const name of db.objectStoreNames) {
        const all = await new Promise<unknown[]>((resolve) => {
          const r = db.transaction(name).objectStore(name).getAll();
          r.onsuccess = () => resolve(r.result);
        });
        parts.push(
          JSON.stringify(
            all,
            (_k, v) =>
              v instanceof ArrayBuffer || ArrayBuffer.isView(v)
                ? new TextDecoder().decode(v as ArrayBuffer)
                : v,
          ),
        );
      }
      db.close();
    }
    return parts.join("\n");
  });
}

Deno.test({
  name: `web client: register, befriend, chat both ways, offline queue, paired device, CSP, token${
    available ? "" : " (skipped: /usr/bin/chromium missing)"
  }`,
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const srv: WebServer = await startWebServer();
    let browser: Browser | null = null;
    try {
      browser = await launchChromium();
      const alice = await (await browser.createBrowserContext()).newPage();
      const bobContext = await browser.createBrowserContext();
      let bob = await bobContext.newPage();

      await alice.goto(`${srv.url}/app/`);
      await waitFor(alice, "#register:not([hidden])");
      await screenshot(alice, "1-register");
      await register(alice, srv.url, "alice", "laptop");
      const cold = await sessionMillis(alice);
      assert.equal(cold.cold, "true");
      // The server offers post-quantum (crypto.pq = "prefer"): the browser uses the hybrid.
      assert.equal(cold.pattern, "XKhfs");
      await register(bob, srv.url, "bob", "phone");

      // Friend request by handle, accepted with the keyboard.
      await typeAndSubmit(alice, "friend-handle", "bob");
      await waitFor(bob, 'button[aria-label="Accept alice"]');
      await screenshot(bob, "2-friend-request");
      await bob.focus('button[aria-label="Accept alice"]');
      await bob.keyboard.press("Enter");

      // Chat both ways with delivery states.
      await openChat(alice, "bob");
      await openChat(bob, "alice");
      // End to end by default: both show the same safety number once the conversation is set up.
      const safety = (page: Page) =>
        page.waitForFunction(
          () => {
            const text = document.getElementById("chat-security")?.textContent ?? "";
            return /Safety number: ((\d{5} ){11}\d{5})/.exec(text)?.[1] ?? false;
          },
          { timeout: 30_000 },
        ).then((handle) => handle.jsonValue() as Promise<unknown>);
      assert.equal(await safety(alice), await safety(bob));
      assert.match(
        await alice.$eval("#whoami", (w: any) => String(w.textContent)),
        / · key ([0-9a-f]{4} ){7}[0-9a-f]{4}$/,
      );
      await typeAndSubmit(alice, "chat-input", "hello bob");
      await waitForMessage(bob, "hello bob");
      await waitForState(alice, "hello bob", "delivered");
      await typeAndSubmit(bob, "chat-input", "hi alice");
      await waitForMessage(alice, "hi alice");
      await waitForState(bob, "hi alice", "delivered");
      // Typing and presence are shown live.
      await bob.focus("#chat-input");
      await bob.keyboard.type("tr");
      await alice.waitForFunction(
        () => document.getElementById("chat-presence")?.textContent === "bob is typing…",
        { timeout: 30_000 },
      );
      await screenshot(alice, "3-chat");
      await bob.$eval("#chat-input", (input: any) => (input.value = ""));

      // Bob closes the tab; alice's messages are queued by the server.
      await bob.close();
      await typeAndSubmit(alice, "chat-input", "are you there?");
      await typeAndSubmit(alice, "chat-input", "second while away");
      await waitForState(alice, "second while away", "acknowledged");
      bob = await bobContext.newPage();
      await bob.goto(`${srv.url}/app/`);
      const warm = await sessionMillis(bob);
      assert.equal(warm.cold, "false"); // keys came from IndexedDB
      await openChat(bob, "alice");
      await waitForMessage(bob, "are you there?");
      await waitForMessage(bob, "second while away");
      await waitForState(alice, "second while away", "delivered");

      // Alice pairs a second browser; it receives bob's next message.
      await alice.click("#back");
      await alice.click("#pair");
      await alice.waitForFunction(
        () =>
          /^[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}$/.test(
            document.getElementById("pair-code")?.textContent ?? "",
          ),
        { timeout: 30_000 },
      );
      await screenshot(alice, "4-friends-and-pairing");
      const code = await alice.$eval("#pair-code", (o) => o.textContent ?? "");
      const alice2 = await (await browser.createBrowserContext()).newPage();
      await alice2.goto(`${srv.url}/app/`);
      await waitFor(alice2, "#register:not([hidden])");
      await typeAndSubmit(alice2, "claim-code", code);
      await waitFor(alice2, 'body[data-screen="home"] #status[data-state="online"]');
      await openChat(alice2, "bob");
      // Alice's first device adds the new one to the friendship's route on its next refresh.
      const deviceOf = (page: Page) =>
        page.$eval("#whoami", (w: any) => String(w.textContent).split(" · ")[1]);
      const store = srv.server.store;
      const [a1, a2, b1] = await Promise.all([alice, alice2, bob].map(deviceOf));
      const userOf = async (id: string) => (await store.getDevice(id))!.userId;
      const channel = friendshipChannel(await userOf(a1), await userOf(b1));
      await until(async () => (await store.getRoute(channel))?.members.includes(a2) ?? false);
      // …and to the friendship's MLS conversation: bob sends once his device has applied that
      // commit (his chat counts 3 devices), so the message is in the epoch alice2 joined.
      const secured = (page: Page, devices: number) =>
        page.waitForFunction(
          (n: number) =>
            (document.getElementById("chat-security")?.textContent ?? "").includes(
              `between ${n} devices`,
            ),
          { timeout: 30_000 },
          devices,
        );
      await secured(alice2, 3);
      await secured(bob, 3);
      await typeAndSubmit(bob, "chat-input", "to all your devices");
      await waitForMessage(alice2, "to all your devices");
      await screenshot(alice2, "5-paired-device-chat");

      // The device key stays in the browser: sealed under a non-extractable key, never stored
      // by the server (which holds only the public key).
      const sealed = await alice.evaluate(async () => {
        const db = await new Promise<any>((resolve) => {
          const r = indexedDB.open("commucat");
          r.onsuccess = () => resolve(r.result);
        });
        const record = await new Promise<any>((resolve) => {
          const r = db.transaction("identity").objectStore("identity").get("device");
          r.onsuccess = () => resolve(r.result);
        });
        db.close();
        const seed = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: record.iv },
            record.wrapKey,
            record.sealed,
          ),
        );
        return {
          extractable: record.wrapKey.extractable,
          fields: Object.keys(record).sort(),
          seed: Array.from(seed, (b: number) => b.toString(16).padStart(2, "0")).join(""),
        };
      });
      assert.equal(sealed.extractable, false);
      assert.ok(sealed.fields.includes("sealed"));
      assert.ok(!sealed.fields.some((f: string) => /private|seed/i.test(f)), "a raw key field");
      assert.equal(sealed.seed.length, 64);
      for (const value of srv.written) {
        assert.ok(!value.includes(sealed.seed), "the server stored the device key");
      }
      const device = await srv.server.store.getDevice(
        await alice.$eval("#whoami", (w: any) => w.textContent.split(" · ")[1]),
      );
      assert.ok(device !== null && device.publicKey.length === 32);
      // The recorder did see what was stored (so the check above could have failed).
      const publicHex = Array.from(device.publicKey, (b) => b.toString(16).padStart(2, "0")).join(
        "",
      );
      assert.ok(srv.written.has(publicHex), "the device's public key was stored");

      // No session token is readable by page script.
      assert.ok(srv.tokens.size >= 3, "the server handed out session tokens");
      for (const page of [alice, bob, alice2]) {
        const visible = await pageVisibleText(page);
        for (const token of srv.tokens) assert.ok(!visible.includes(token), "token visible");
      }

      // CSP: a script from elsewhere and an inline script are refused.
      const refused = await alice.evaluate(async () => {
        const violations: string[] = [];
        document.addEventListener(
          "securitypolicyviolation",
          (e: { blockedURI: string }) => violations.push(e.blockedURI),
        );
        const foreign = document.createElement("script");
        foreign.src = "https://127.0.0.1:9/evil.js";
        const loaded = new Promise<string>((resolve) => {
          foreign.onload = () => resolve("loaded");
          foreign.onerror = () => resolve("refused");
        });
        document.head.append(foreign);
        const inline = document.createElement("script");
        inline.textContent = "window.__pwned = true";
        document.head.append(inline);
        const result = await loaded;
        // Violation events are queued tasks: wait for both (bounded) rather than a fixed 100 ms.
        const reported = () =>
          violations.some((v) => v.includes("127.0.0.1:9")) && violations.includes("inline");
        for (let i = 0; i < 500 && !reported(); i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return {
          result,
          violations,
          pwned: (window as unknown as { __pwned?: boolean }).__pwned === true,
        };
      });
      assert.equal(refused.result, "refused");
      assert.equal(refused.pwned, false);
      assert.ok(refused.violations.some((v) => v.includes("127.0.0.1:9")), "violation reported");
      assert.ok(refused.violations.includes("inline"), "inline violation reported");
      console.log(
        `session established (${cold.pattern}): cold ${cold.ms} ms, stored keys ${warm.ms} ms`,
      );
    } finally {
      await browser?.close();
      await srv.stop();
    }
  },
});

Deno.test({
  name: `web client: a lost connection shows "reconnecting", then sends what waited${
    available ? "" : " (skipped: /usr/bin/chromium missing)"
  }`,
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let srv: WebServer = await startWebServer();
    let browser: Browser | null = null;
    try {
      browser = await launchChromium();
      const alice = await (await browser.createBrowserContext()).newPage();
      const bob = await (await browser.createBrowserContext()).newPage();
      await register(alice, srv.url, "carol", "desk");
      await register(bob, srv.url, "dave", "tablet");
      await typeAndSubmit(alice, "friend-handle", "dave");
      await waitFor(bob, 'button[aria-label="Accept carol"]');
      await press(bob, 'button[aria-label="Accept carol"]');
      await openChat(alice, "dave");
      await openChat(bob, "carol");

      // A taken handle is explained in words, not a protocol error.
      const copycat = await (await browser.createBrowserContext()).newPage();
      await copycat.goto(`${srv.url}/app/`);
      await waitFor(copycat, "#register:not([hidden])");
      await typeAndSubmit(copycat, "handle", "carol");
      await waitFor(copycat, "#error:not([hidden])");
      const refusal = await copycat.$eval("#error", (e: any) => e.textContent);
      assert.match(refusal, /That handle is already taken/);
      await copycat.close();

      // The server goes away: both pages say so, and a message waits on the device.
      await srv.stop(true);
      await waitFor(alice, '#status[data-state="reconnecting"]');
      const status = await alice.$eval("#status", (s: any) => s.textContent);
      assert.match(status, /Connection lost\. Reconnecting…/);
      await alice.waitForFunction(
        () =>
          /Cannot reach the server\./.test(document.getElementById("status")?.textContent ?? ""),
        { timeout: 30_000 },
      );
      await typeAndSubmit(alice, "chat-input", "sent while the server was down");
      await waitForState(alice, "sent while the server was down", "waiting");
      await screenshot(alice, "6-reconnecting");

      srv = await startWebServer(srv);
      await waitFor(alice, '#status[data-state="online"]');
      await waitForMessage(bob, "sent while the server was down");
      await waitForState(alice, "sent while the server was down", "delivered");
    } finally {
      await browser?.close();
      await srv.stop();
    }
  },
});
