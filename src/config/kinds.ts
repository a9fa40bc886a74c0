/**
 * Value kinds: the reusable building blocks of the schema. Each kind couples a
 * zod schema with what the reference docs call its type, the phrase used in
 * error messages ("expected …") and how an environment string is coerced.
 *
 * @module
 */
import { z } from "zod";
import { checkBind } from "./address.ts";

/** Bytes in a mebibyte: byte defaults are written as `n * MiB`. */
export const MiB = 1024 * 1024;

/** How a string from the environment becomes a value of the key's type. */
export type EnvKind = "string" | "integer" | "boolean";

/** A value kind; see the module doc. */
export interface Kind<S extends z.ZodType> {
  /** Validates (and possibly normalises) a value. */
  readonly schema: S;
  /** Type as shown in the reference table. */
  readonly type: string;
  /** Noun phrase completing "expected …" in error messages. */
  readonly expected: string;
  /** Coercion applied to environment values. */
  readonly env: EnvKind;
}

function kind<S extends z.ZodType>(
  schema: S,
  type: string,
  expected: string,
  env: EnvKind,
): Kind<S> {
  return { schema, type, expected, env };
}

/** Integer in `[min, max]`. */
export function intRange(min: number, max = Number.MAX_SAFE_INTEGER, expected?: string) {
  const phrase = expected ??
    (max === Number.MAX_SAFE_INTEGER
      ? (min === 1 ? "a positive integer" : `an integer ≥ ${min}`)
      : `an integer in ${min}..${max}`);
  const error = `expected ${phrase}`;
  const type = max === Number.MAX_SAFE_INTEGER ? `integer ≥ ${min}` : `integer ${min}..${max}`;
  return kind(z.int({ error }).min(min, { error }).max(max, { error }), type, phrase, "integer");
}

/** Integer ≥ 1. */
export const positiveInt = () => intRange(1);
/** Integer ≥ 0. */
export const nonNegativeInt = () => intRange(0, Number.MAX_SAFE_INTEGER, "a non-negative integer");

/** `true` or `false`. */
export function boolean() {
  return kind(
    z.boolean({ error: "expected true or false" }),
    "boolean",
    "true or false",
    "boolean",
  );
}

/** Non-empty string; `type` labels it in the docs (e.g. "path"). */
export function text(type = "string") {
  const error = "expected a non-empty string";
  return kind(z.string({ error }).min(1, { error }), type, "a non-empty string", "string");
}

/** An absolute URL path of unreserved characters (`/a`, `/a/b-c`), no query. */
export function urlPath() {
  const phrase = "an absolute path such as /c7f3a9d2 (letters, digits, - . _ ~ and /)";
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).regex(/^(\/[A-Za-z0-9._~-]+)+$/, { error }),
    "URL path",
    phrase,
    "string",
  );
}

/** A secret string of at least `min` characters. */
export function secretText(min: number) {
  const phrase = `a string of at least ${min} characters`;
  const error = `expected ${phrase}`;
  return kind(z.string({ error }).min(min, { error }), `string, ≥ ${min} chars`, phrase, "string");
}

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const phrase = `one of ${values.join(", ")}`;
  return kind(
    z.enum(values, { error: `expected ${phrase}` }),
    values.map((v) => `"${v}"`).join(" | "),
    phrase,
    "string",
  );
}

/** A listen address `host:port` / `[ipv6]:port`; port 0 means "any free port". */
export function listenAddress() {
  return kind(
    z.string({ error: "expected host:port" }).superRefine((value, ctx) => {
      const r = checkBind(value, { allowPortZero: true });
      if (typeof r === "string") {
        ctx.addIssue({ code: "custom", message: `expected host:port (${r})` });
      }
    }),
    "host:port",
    "host:port",
    "string",
  );
}

/** A concrete socket address `ip:port` / `[ipv6]:port` with port 1..65535. */
export function socketAddress() {
  return kind(
    z.string({ error: "expected ip:port" }).superRefine((value, ctx) => {
      const r = checkBind(value, { allowPortZero: false, requireIp: true });
      if (typeof r === "string") {
        ctx.addIssue({ code: "custom", message: `expected ip:port (${r})` });
      }
    }),
    "ip:port",
    "ip:port",
    "string",
  );
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Hex of exactly `bytes` bytes, normalised to lower case. */
export function hexExact(bytes: number) {
  const phrase = `${bytes * 2} hex characters (${bytes} bytes)`;
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).length(bytes * 2, { error }).regex(HEX, { error })
      .transform((s) => s.toLowerCase()),
    `hex, ${bytes} bytes`,
    phrase,
    "string",
  );
}

/** Hex of at least `bytes` bytes, normalised to lower case. */
export function hexAtLeast(bytes: number) {
  const phrase = `an even number of hex characters, at least ${bytes * 2} (${bytes} bytes)`;
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).min(bytes * 2, { error }).regex(HEX, { error })
      .transform((s) => s.toLowerCase()),
    `hex, ≥ ${bytes} bytes`,
    phrase,
    "string",
  );
}

/** True when `value` parses as a URL whose scheme is one of `schemes` (without ':'). */
export function isUrlWithScheme(value: string, schemes: readonly string[]): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return schemes.includes(url.protocol.slice(0, -1)) &&
    (url.host !== "" || url.protocol === "unix:");
}

/** A URL with one of the given schemes. */
export function url(schemes: readonly string[]) {
  const phrase = `a ${schemes.map((s) => `${s}://`).join(" or ")} URL`;
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).refine((v) => isUrlWithScheme(v, schemes), { error }),
    "URL",
    phrase,
    "string",
  );
}

/** A multipath FEC policy (PROTOCOL.md §7): `auto`, `off`, `duplicate` or `raptorq[:<overhead>]`. */
export function fecPolicy() {
  const phrase = '"auto", "off", "duplicate" or "raptorq[:<overhead 0..4>]"';
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).refine((value) => {
      if (value === "auto" || value === "off" || value === "duplicate" || value === "raptorq") {
        return true;
      }
      const match = /^raptorq:([0-9]+(\.[0-9]+)?)$/.exec(value);
      return match !== null && Number(match[1]) <= 4;
    }, { error }),
    '"auto" | "off" | "duplicate" | "raptorq[:<overhead>]"',
    phrase,
    "string",
  );
}

/**
 * A padding policy (PROTOCOL.md §2 "Padding"): `off`, `classes` or
 * `block:<bytes>` with 16..65519 bytes (the largest Noise plaintext).
 */
export function paddingPolicy() {
  const phrase = '"off", "classes" or "block:<bytes>" (bytes 16..65519)';
  const error = `expected ${phrase}`;
  return kind(
    z.string({ error }).refine((value) => {
      if (value === "off" || value === "classes") return true;
      const match = /^block:([0-9]{1,5})$/.exec(value);
      return match !== null && Number(match[1]) >= 16 && Number(match[1]) <= 65519;
    }, { error }),
    '"off" | "classes" | "block:<bytes>"',
    phrase,
    "string",
  );
}
