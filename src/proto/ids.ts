/**
 * The rules for the two names clients choose: device ids and user handles
 * (docs/PROTOCOL.md §3 "Device ids and handles"). One place, applied wherever
 * such a name enters: the Hello, self-registration, the REST API and the
 * admin CLI.
 *
 * - A **device id** of this server is 1–128 characters of `A–Z a–z 0–9 . _ : -`,
 *   starting with a letter or digit. It never contains `@`: `device@domain` is
 *   how a device of another server is named, so a local device must not be
 *   able to take that form.
 * - A **handle** is compared, stored and looked up in its normal form: Unicode
 *   NFKC, then lower-cased (the case fold), so `Bob`, `bob` and `ｂｏｂ` are one
 *   handle. Invisible and control characters (zero-width spaces, bidi
 *   controls, default-ignorable code points), whitespace and `@` / `/` are
 *   refused rather than stripped: `bob\u200b` is not a way to get a second `bob`.
 *
 * @module
 */

/** Most characters in a device id. */
export const MAX_DEVICE_ID_LENGTH = 128;

/** Most characters in a handle (after normalisation). */
export const MAX_HANDLE_LENGTH = 64;

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** A device id or handle that breaks the rules; the message says which rule. */
export class InvalidNameError extends Error {
  /** `device_id` or `handle`. */
  readonly field: "device_id" | "handle";

  constructor(field: "device_id" | "handle", message: string) {
    super(message);
    this.name = "InvalidNameError";
    this.field = field;
  }
}

/**
 * Why `id` is not a valid device id of this server, or null when it is.
 * The reason quotes no more than the length of the id, never a long value.
 */
export function deviceIdProblem(id: string): string | null {
  if (typeof id !== "string" || id.length === 0) return "must not be empty";
  if (id.length > MAX_DEVICE_ID_LENGTH) {
    return `must be at most ${MAX_DEVICE_ID_LENGTH} characters (got ${id.length})`;
  }
  if (id.includes("@")) {
    return "must not contain '@' (device@domain names a device of another server)";
  }
  if (!DEVICE_ID.test(id)) {
    return "may only contain A-Z a-z 0-9 . _ : - and must start with a letter or digit";
  }
  return null;
}

/** Returns `id` when it is a valid device id, else throws {@linkcode InvalidNameError}. */
export function checkDeviceId(id: string): string {
  const problem = deviceIdProblem(id);
  if (problem !== null) throw new InvalidNameError("device_id", `device_id ${problem}`);
  return id;
}

/**
 * Characters a handle may not contain: controls (Cc), format characters
 * (Cf: zero-width space/joiners, bidi controls, soft hyphen), surrogates,
 * private use, unassigned, line/paragraph separators, every kind of space,
 * default-ignorable code points (e.g. U+3164 HANGUL FILLER, which is a
 * letter yet renders as nothing), and `@` and `/`, which separate a handle
 * from a domain or a path.
 */
const FORBIDDEN_IN_HANDLE =
  /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}\p{Default_Ignorable_Code_Point}@/]/u;

/**
 * The normal form of a handle, for comparison and lookups, without checking
 * the rules: NFKC, lower-cased, NFKC again (lower-casing can denormalise).
 */
export function handleKey(handle: string): string {
  return handle.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/** A handle's normal form when it follows the rules, else why it does not. */
export type CheckedHandle = { key: string; problem: null } | { key: null; problem: string };

/**
 * {@linkcode handleProblem} and {@linkcode handleKey} with one normalisation:
 * a registering Hello needs both (and the key again for the lookup).
 */
export function checkHandle(handle: string): CheckedHandle {
  if (typeof handle !== "string" || handle.length === 0) {
    return { key: null, problem: "must not be empty" };
  }
  // Bound the work before normalising: NFKC can expand a character up to 18-fold.
  if (handle.length > MAX_HANDLE_LENGTH * 4) {
    return { key: null, problem: `must be at most ${MAX_HANDLE_LENGTH} characters` };
  }
  const key = handleKey(handle);
  if (FORBIDDEN_IN_HANDLE.test(handle) || FORBIDDEN_IN_HANDLE.test(key)) {
    return {
      key: null,
      problem: "must not contain spaces, invisible or control characters, '@' or '/'",
    };
  }
  if ([...key].length > MAX_HANDLE_LENGTH) {
    return { key: null, problem: `must be at most ${MAX_HANDLE_LENGTH} characters` };
  }
  return { key, problem: null };
}

/**
 * Why `handle` is not a valid handle, or null when it is. Checked on the raw
 * text and on its normal form (NFKC can produce a space or `/` from
 * compatibility characters).
 */
export function handleProblem(handle: string): string | null {
  return checkHandle(handle).problem;
}

/**
 * The normal form of `handle` when it follows the rules (what is stored for a
 * new user); throws {@linkcode InvalidNameError} otherwise.
 */
export function normalizeHandle(handle: string): string {
  const checked = checkHandle(handle);
  if (checked.problem !== null) {
    throw new InvalidNameError("handle", `handle ${checked.problem}`);
  }
  return checked.key;
}

/**
 * The forms to look a handle up by, in order: its normal form, then the text
 * as given when that differs. Handles stored before normalisation are kept as
 * they were, so an old `Bob` is still found as `Bob`; new ones are stored
 * normalised. `key`: the normal form, when the caller already has it.
 */
export function handleLookupForms(handle: string, key: string = handleKey(handle)): string[] {
  return key === handle ? [key] : [key, handle];
}

/**
 * Looks a handle up by each of its {@linkcode handleLookupForms} until one is
 * found. Text longer than any valid handle is not looked up at all. `key`:
 * the normal form, when the caller already has it.
 */
export async function findByHandle<T>(
  handle: string,
  lookup: (form: string) => Promise<T | null>,
  key?: string,
): Promise<T | null> {
  if (handle.length === 0 || handle.length > MAX_HANDLE_LENGTH * 4) return null;
  for (const form of handleLookupForms(handle, key)) {
    const found = await lookup(form);
    if (found !== null) return found;
  }
  return null;
}
