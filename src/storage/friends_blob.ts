/**
 * The friends list as stored in `user_blob (user_id, 'friends')`: a JSON
 * array of `{"user_id", "alias"?}` (upstream layout). Entries written by
 * older upstream versions may name the friend `id` instead of `user_id`;
 * entries naming no user id at all are skipped on read.
 *
 * @module
 */
import type { FriendEntry } from "./store.ts";
import { StoreCorruptionError } from "./row_narrowing.ts";

/** Key of the friends list in `user_blob`. */
export const FRIENDS_BLOB_KEY = "friends";

/** The stored JSON text of `entries`. */
export function encodeFriends(entries: FriendEntry[]): string {
  return JSON.stringify(
    entries.map((
      e,
    ) => (e.alias === null ? { user_id: e.userId } : { user_id: e.userId, alias: e.alias })),
  );
}

/** Entries of a stored friends blob; throws {@link StoreCorruptionError} when it is not an array. */
export function decodeFriends(text: string): FriendEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreCorruptionError("user_blob friends: not JSON");
  }
  if (!Array.isArray(value)) throw new StoreCorruptionError("user_blob friends: not an array");
  const out: FriendEntry[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) continue;
    const o = item as Record<string, unknown>;
    const id = typeof o.user_id === "string" ? o.user_id : typeof o.id === "string" ? o.id : null;
    if (id === null || id.trim() === "") continue;
    out.push({ userId: id, alias: typeof o.alias === "string" ? o.alias : null });
  }
  return out;
}
