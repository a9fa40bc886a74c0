/**
 * Test helpers for the REST API: an HTTPS client trusting the test server's
 * certificate, a small request function, and `befriend` (friend request +
 * accept, the way real users become reachable to each other).
 */
import assert from "node:assert/strict";
import type { ServerHandle } from "./devices.ts";

/** A response read in full. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty / non-JSON body. */
  body: Record<string, unknown> | null;
  text: string;
}

/** Anything with a session: a CommuCatClient, or `{ session }` built from a raw handshake's Ack. */
export interface Party {
  session: { sessionId: string; userId: string };
}

/** The party of a hand-driven session (its Ack names session and user). */
export function partyOf(ack: Record<string, unknown>): Party {
  return { session: { sessionId: String(ack.session), userId: String(ack.user_id) } };
}

/** Who sends a request: a party (its session token), a raw token, or nobody. */
export type As = Party | string | null;

function tokenOf(as: As): string | null {
  if (as === null) return null;
  return typeof as === "string" ? as : as.session.sessionId;
}

/** Sends `method path` with an optional JSON (or raw) body as `as`. */
export async function api(
  server: ServerHandle,
  method: string,
  path: string,
  options: { as?: As; json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers = new Headers(options.headers);
  const token = tokenOf(options.as ?? null);
  if (token !== null && !headers.has("authorization")) {
    headers.set("authorization", `Bearer ${token}`);
  }
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers.set("content-type", "application/json");
  }
  // One client per request: nothing stays open for the leak sanitizers to find.
  const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${server.url}${path}`, { method, headers, body, client });
    text = await response.text();
  } finally {
    client.close();
  }
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Asserts a problem+json error with `status` and (when given) exactly `detail`. */
export function assertProblem(response: ApiResponse, status: number, detail?: string): void {
  assert.equal(
    response.status,
    status,
    `expected ${status}, got ${response.status}: ${response.text}`,
  );
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  assert.equal(response.body?.type, "about:blank");
  assert.equal(response.body?.status, status);
  assert.equal(typeof response.body?.title, "string");
  if (detail !== undefined) assert.equal(response.body?.detail, detail);
}

/**
 * Makes the users of `a` and `b` friends through the API: `a` sends a
 * friend request, `b` accepts it. Both need a valid session (a connected
 * client, or one that disconnected less than `server.keepalive` ago).
 */
export async function befriend(
  server: ServerHandle,
  a: Party,
  b: Party,
): Promise<void> {
  const sent = await api(server, "POST", `/api/friends/requests/${b.session.userId}`, { as: a });
  assert.equal(sent.status, 201, `friend request failed: ${sent.text}`);
  const accepted = await api(
    server,
    "POST",
    `/api/friends/requests/${a.session.userId}/accept`,
    { as: b },
  );
  assert.equal(accepted.status, 200, `accept failed: ${accepted.text}`);
}
