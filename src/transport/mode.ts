/**
 * Connect-mode selection for `/connect` (upstream §2.2): first match wins.
 *
 * @module
 */

import { type ConnectMode, parseModeAlias } from "../proto/mod.ts";

export { type ConnectMode, parseModeAlias } from "../proto/mod.ts";

function hasToken(header: string | null, token: string): boolean {
  if (!header) return false;
  return header.split(",").some((part) => part.trim().toLowerCase().startsWith(token));
}

/** True when the request asks for a WebSocket upgrade. */
export function isWebSocketUpgrade(headers: Headers): boolean {
  return (headers.get("upgrade") ?? "").trim().toLowerCase() === "websocket" &&
    hasToken(headers.get("connection"), "upgrade");
}

/**
 * Picks the mode: query `mode=`/`transport=` (key case-insensitive), then the
 * `x-connect-mode` and `x-commucat-connect-mode` headers, then a WebSocket
 * upgrade, then `Accept: text/event-stream`, else binary. Unknown values fall
 * through to the next rule.
 */
export function selectConnectMode(url: URL, headers: Headers): ConnectMode {
  for (const [key, value] of url.searchParams) {
    const k = key.toLowerCase();
    if (k === "mode" || k === "transport") {
      const mode = parseModeAlias(value);
      if (mode) return mode;
    }
  }
  for (const name of ["x-connect-mode", "x-commucat-connect-mode"]) {
    const mode = parseModeAlias(headers.get(name));
    if (mode) return mode;
  }
  if (isWebSocketUpgrade(headers)) return "websocket";
  if (hasToken(headers.get("accept"), "text/event-stream")) return "sse";
  return "binary";
}
