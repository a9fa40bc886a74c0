import assert from "node:assert/strict";
import { parseModeAlias, selectConnectMode } from "./mode.ts";

const url = (q = "") => new URL(`https://h/connect${q}`);

Deno.test("aliases map to modes, unknown to null", () => {
  assert.equal(parseModeAlias(" Stream "), "binary");
  assert.equal(parseModeAlias("EventStream"), "sse");
  assert.equal(parseModeAlias("poll"), "long-poll");
  assert.equal(parseModeAlias("WS"), "websocket");
  assert.equal(parseModeAlias("carrier-pigeon"), null);
});

Deno.test("query wins over headers; key is case-insensitive", () => {
  const h = new Headers({ "x-connect-mode": "sse", accept: "text/event-stream" });
  assert.equal(selectConnectMode(url("?Transport=longpoll"), h), "long-poll");
});

Deno.test("unknown values fall through to the next rule", () => {
  const h = new Headers({ "x-connect-mode": "bogus", "x-commucat-connect-mode": "ws" });
  assert.equal(selectConnectMode(url("?mode=nope"), h), "websocket");
});

Deno.test("upgrade needs both Upgrade and Connection tokens", () => {
  assert.equal(
    selectConnectMode(
      url(),
      new Headers({ upgrade: "websocket", connection: "keep-alive, Upgrade" }),
    ),
    "websocket",
  );
  assert.equal(selectConnectMode(url(), new Headers({ upgrade: "websocket" })), "binary");
});

Deno.test("Accept text/event-stream selects SSE; default is binary", () => {
  assert.equal(
    selectConnectMode(url(), new Headers({ accept: "application/json, text/event-stream" })),
    "sse",
  );
  assert.equal(selectConnectMode(url(), new Headers()), "binary");
});
