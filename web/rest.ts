/**
 * REST calls of the session worker (same origin), and the words a person
 * reads when one fails.
 *
 * @module
 */

/** A failed call, with a message meant for a person. */
export class UserFacingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserFacingError";
  }
}

/** Friendly text for a server problem detail (PROTOCOL.md §5 texts). */
export function explainProblem(status: number, detail: string): string {
  if (/pairing code not found/.test(detail)) return "That pairing code does not exist.";
  if (/pairing code invalid or expired/.test(detail)) {
    return "That pairing code has expired or was already used. Ask for a new one.";
  }
  if (/yourself/.test(detail)) return "You cannot send a friend request to yourself.";
  if (status === 404 && /user/.test(detail)) return "Nobody with that handle is registered here.";
  if (status === 429) return "Too many attempts. Wait a minute and try again.";
  if (status === 401) return "Your session ended. Reconnecting…";
  if (status >= 500) return "The server had a problem. Try again in a moment.";
  return detail || `The server refused the request (HTTP ${status}).`;
}

/** Friendly text for a handshake refusal or a connect failure. */
export function explainConnectError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const body = (error as { body?: Record<string, unknown> }).body;
  if (body?.pairing_required === true || /handle is taken/.test(text)) {
    return "That handle is already taken. Choose another one, or pair this browser with a code " +
      "from a device that is already signed in.";
  }
  if (/invalid hello: user\.handle/.test(text)) {
    return "A handle may use letters, digits, '.', '_' and '-' (no spaces, '@' or '/'), at most 64.";
  }
  if (/invalid hello: device_id/.test(text)) {
    return "The device name must start with a letter or digit.";
  }
  if (/websocket connect failed|Failed to fetch|NetworkError/.test(text)) {
    return "Cannot reach the server.";
  }
  if (/device is revoked|revoked/.test(text)) {
    return "This device was removed from your account. Pair it again with a code.";
  }
  return `Could not connect: ${text}`;
}

/** JSON request to `path`; throws {@link UserFacingError} with a friendly text. */
export async function api<T>(
  path: string,
  options: { method?: string; token?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "omit",
    });
  } catch {
    throw new UserFacingError("Cannot reach the server.");
  }
  const text = await response.text();
  if (!response.ok) {
    let detail = "";
    try {
      detail = String(JSON.parse(text).detail ?? "");
    } catch { /* not problem+json: the status says enough */ }
    throw new UserFacingError(explainProblem(response.status, detail));
  }
  return (text ? JSON.parse(text) : {}) as T;
}
