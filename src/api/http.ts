/**
 * HTTP plumbing of the API: the error type every handler throws, the shared
 * problem+json and JSON responses (from `src/http`), body reading with a size cap, and zod validation with
 * readable messages.
 *
 * @module
 */
import type { z } from "zod";

export { json, problem } from "../http/mod.ts";

/** Largest request body of any endpoint: 10 MiB. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** An error with an HTTP status; its message is the problem's `detail` (never secrets). */
export class ApiError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The request body, at most `max` bytes (413 beyond, without reading further).
 * `tooLarge` is the problem detail.
 */
export async function readBody(
  request: Request,
  max = MAX_BODY_BYTES,
  tooLarge = "request body too large (max 10 MiB)",
): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw new ApiError(413, tooLarge);
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) throw new ApiError(413, tooLarge);
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
    // Best effort: the 413 is thrown either way; a body that fails to cancel
    // (client already gone) has nothing left to release.
    if (size > max) await request.body.cancel().catch(() => {});
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The JSON body parsed; `undefined` for an empty (or whitespace) body.
 * Not JSON → 400 "invalid JSON payload".
 */
export async function readJson(request: Request): Promise<unknown> {
  const text = new TextDecoder().decode(await readBody(request));
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid JSON payload");
  }
}

/** `value` validated by `schema`; the first issue becomes a 400 naming its field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String).join(".");
  throw new ApiError(400, path === "" ? issue.message : `${path}: ${issue.message}`);
}

/**
 * Segment `index` of the request path, percent-decoded (400 on a broken
 * escape or invalid UTF-8).
 */
export function pathSegment(request: Request, index: number): string {
  const raw = new URL(request.url).pathname.split("/")[index] ?? "";
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, "invalid percent-encoding in path");
  }
}

/** RFC 3339 (UTC, seconds precision) of unix milliseconds or a Date. */
export function rfc3339(time: number | Date): string {
  const ms = typeof time === "number" ? time : time.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
