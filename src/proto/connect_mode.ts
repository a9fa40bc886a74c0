/**
 * The `/connect` mode names (upstream §2.2) and their aliases, shared by the
 * server's mode selection and the client SDK.
 *
 * @module
 */

/** The four ways a device can carry CCP-1 over HTTP. */
export type ConnectMode = "binary" | "sse" | "long-poll" | "websocket";

/** Every mode, in the order above. */
export const CONNECT_MODES: readonly ConnectMode[] = ["binary", "sse", "long-poll", "websocket"];

const ALIASES: Record<string, ConnectMode> = {
  binary: "binary",
  stream: "binary",
  sse: "sse",
  "event-stream": "sse",
  eventstream: "sse",
  "long-poll": "long-poll",
  longpoll: "long-poll",
  poll: "long-poll",
  websocket: "websocket",
  ws: "websocket",
};

/** Maps a mode name or alias (trimmed, any case) to a mode; unknown → null. */
export function parseModeAlias(value: string | null | undefined): ConnectMode | null {
  if (value == null) return null;
  return ALIASES[value.trim().toLowerCase()] ?? null;
}
