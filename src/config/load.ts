/**
 * Loading: file (TOML) < environment < programmatic overrides, validated by
 * the schema into a frozen {@linkcode Config}.
 *
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { deepFreeze } from "./case.ts";
import { ConfigError } from "./errors.ts";
import { type Config, configSchema } from "./schema.ts";
import { CONFIG_KEYS, CONFIG_TREE, type KeyDescriptor, locate, type SchemaNode } from "./tree.ts";

/** File name looked up in the working directory when no path is given. */
export const DEFAULT_CONFIG_FILE = "commucat.toml";
/** Environment variable naming the config file. */
export const CONFIG_ENV = "COMMUCAT_CONFIG";

/** Options of {@linkcode loadConfig}. */
export interface LoadOptions {
  /** Config file; must exist. Default: `$COMMUCAT_CONFIG`, else `commucat.toml` in `cwd` if present. */
  path?: string;
  /** Environment to read overrides from. Default: the process environment. */
  env?: Record<string, string | undefined>;
  /** Highest-priority values by dotted key (`{"server.bind": "127.0.0.1:0"}`) or nested sections. */
  overrides?: Record<string, unknown>;
  /** Directory searched for the default `commucat.toml`. Default: `Deno.cwd()`. */
  cwd?: string;
}

/** Where a key's value came from. */
export type ValueSource =
  | { readonly kind: "file"; readonly file: string }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "override" };

/** A loaded configuration with provenance. */
export interface LoadedConfig {
  /** The validated, frozen configuration. */
  readonly config: Config;
  /** The file read, if any. */
  readonly file: string | undefined;
  /** Source of every key that was set (dotted file names); keys absent here took their default. */
  readonly sources: ReadonlyMap<string, ValueSource>;
}

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Short, single-line rendering of a bad value for an error message. */
function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" || isTable(value) || Array.isArray(value)
      ? JSON.stringify(value)
      : String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

class Merger {
  readonly raw: Table = {};
  readonly sources = new Map<string, ValueSource>();

  /** Copies `input` (a table at `prefix`) into the raw config, rejecting unknown keys. */
  mergeTable(node: SchemaNode, input: Table, target: Table, prefix: string[], source: ValueSource) {
    for (const [name, value] of Object.entries(input)) {
      const path = [...prefix, name];
      const child = node.kind === "tables"
        ? node.item
        : node.kind === "section"
        ? node.children.get(name)
        : undefined;
      if (child === undefined) {
        throw new ConfigError(
          `unknown key "${path.join(".")}" ${where(source)}${removedHint(path.join("."))}`,
        );
      }
      this.mergeValue(child, value, target, name, path, source);
    }
  }

  mergeValue(
    node: SchemaNode,
    value: unknown,
    target: Table,
    name: string,
    path: string[],
    source: ValueSource,
  ) {
    const dotted = path.join(".");
    if (node.kind === "key") {
      if (value === undefined) delete target[name];
      else target[name] = value;
      this.sources.set(dotted, source);
      return;
    }
    if (!isTable(value)) {
      throw new ConfigError(
        `${dotted}: expected a table ([${dotted}]), got ${show(value)}`,
        dotted,
      );
    }
    const inner = isTable(target[name]) ? target[name] as Table : (target[name] = {});
    this.mergeTable(node, value, inner as Table, path, source);
  }

  /** Sets one key given by its dotted name; table names (`ice.turn.<name>`) are literal. */
  setDotted(dotted: string, value: unknown, source: ValueSource) {
    const path = dotted.split(".");
    let node: SchemaNode = CONFIG_TREE;
    let target: Table = this.raw;
    for (const [i, segment] of path.entries()) {
      const child: SchemaNode | undefined = node.kind === "tables"
        ? node.item
        : node.kind === "section"
        ? node.children.get(segment)
        : undefined;
      if (child === undefined) {
        throw new ConfigError(`unknown key "${dotted}" ${where(source)}${removedHint(dotted)}`);
      }
      if (i === path.length - 1 || child.kind === "key") {
        if (i !== path.length - 1) {
          throw new ConfigError(`unknown key "${dotted}" ${where(source)}${removedHint(dotted)}`);
        }
        this.mergeValue(child, value, target, segment, path, source);
        return;
      }
      if (!isTable(target[segment])) target[segment] = {};
      target = target[segment] as Table;
      node = child;
    }
  }
}

function where(source: ValueSource): string {
  return source.kind === "file"
    ? `in ${source.file}`
    : source.kind === "env"
    ? `(${source.name})`
    : "in overrides";
}

/** Coerces an environment string to the key's type; `undefined` means "unset". */
function fromEnv(d: KeyDescriptor, name: string, value: string): unknown {
  const fail = (): never => {
    throw new ConfigError(
      `${d.key} (${name}): expected ${d.expected}, got ${d.secret ? "<redacted>" : show(value)}`,
      d.key,
    );
  };
  switch (d.envKind) {
    case "integer": {
      if (!/^[+-]?\d+$/.test(value)) fail();
      const n = Number(value);
      if (!Number.isSafeInteger(n)) fail();
      return n;
    }
    case "boolean":
      if (value === "true") return true;
      if (value === "false") return false;
      return fail();
    case "string":
      // `VAR=` on an optional key unsets it (common in container env files).
      return value === "" && d.optional ? undefined : value;
  }
}

function readFile(path: string, origin: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`config file ${JSON.stringify(path)}${origin} not found`);
    }
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConfigError(`cannot read config file ${JSON.stringify(path)}${origin}: ${reason}`);
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function parseFile(text: string, file: string): Table {
  try {
    return parseToml(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`${file}:${e.line}:${e.column}: invalid TOML: ${reason}`);
    }
    throw e;
  }
}

function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Keys upstream has and we removed, with what replaces them (appended to "unknown key"). */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  "crypto.pq_kem_public": "hybrid handshakes use a fresh ML-KEM key per handshake; see crypto.pq",
  "crypto.pq_kem_secret": "hybrid handshakes use a fresh ML-KEM key per handshake; see crypto.pq",
};

function removedHint(key: string): string {
  const hint = REMOVED_KEYS[key];
  return hint === undefined ? "" : ` (removed: ${hint})`;
}

/** The one-line message for a schema issue. */
function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Table,
  sources: Map<string, ValueSource>,
): ConfigError {
  if (issue.code === "unrecognized_keys") {
    const at = locate(issue.path);
    const name = `${at.name}${at.rest}.${issue.keys[0]}`;
    const source = sources.get(at.name);
    return new ConfigError(
      `unknown key "${name}"${source ? ` ${where(source)}` : ""}${removedHint(name)}`,
      name,
    );
  }
  const at = locate(issue.path);
  const source = sources.get(at.name);
  const env = source?.kind === "env" ? ` (${source.name})` : "";
  const value = getAt(raw, issue.path);
  let message = issue.message;
  if (value === undefined && issue.code === "invalid_type") message = "is required";
  else if (message.startsWith("expected ") && value !== undefined) {
    message += `, got ${at.descriptor?.secret ? "<redacted>" : show(value)}`;
  }
  return new ConfigError(`${at.name}${at.rest}${env}: ${message}`, at.name);
}

/**
 * The process environment restricted to the variables the configuration
 * reads, so the server runs with `--allow-env=COMMUCAT_*` only.
 */
function commucatEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (
    const name of [
      CONFIG_ENV,
      ...CONFIG_KEYS.map((k) => k.env).filter((e) => e !== undefined),
    ]
  ) {
    env[name as string] = Deno.env.get(name as string);
  }
  return env;
}

/**
 * Loads and validates the configuration, keeping track of where each value
 * came from. Throws {@linkcode ConfigError} (one line, naming the key) on any
 * problem.
 */
export function loadConfigDetailed(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? commucatEnv();
  const merger = new Merger();

  const envPath = env[CONFIG_ENV] === "" ? undefined : env[CONFIG_ENV];
  let file: string | undefined;
  let text: string | undefined;
  if (options.path !== undefined) {
    file = options.path;
    text = readFile(file, "");
  } else if (envPath !== undefined) {
    file = envPath;
    text = readFile(file, ` (${CONFIG_ENV})`);
  } else {
    const candidate = `${options.cwd ?? Deno.cwd()}/${DEFAULT_CONFIG_FILE}`;
    if (exists(candidate)) {
      file = candidate;
      text = readFile(file, "");
    }
  }
  if (file !== undefined && text !== undefined) {
    const display = options.path ?? envPath ?? DEFAULT_CONFIG_FILE;
    const table = parseFile(text, display);
    merger.mergeTable(CONFIG_TREE, table, merger.raw, [], { kind: "file", file: display });
  }

  for (const d of CONFIG_KEYS) {
    if (d.env === undefined) continue;
    const value = env[d.env];
    if (value === undefined) continue;
    if (value === "" && d.envKind !== "string") {
      throw new ConfigError(`${d.key} (${d.env}): expected ${d.expected}, got ""`, d.key);
    }
    merger.setDotted(d.key, fromEnv(d, d.env, value), { kind: "env", name: d.env });
  }

  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    merger.setDotted(dotted, value, { kind: "override" });
  }

  const result = configSchema.safeParse(merger.raw);
  if (!result.success) throw describeIssue(result.error.issues[0], merger.raw, merger.sources);
  return { config: deepFreeze(result.data), file, sources: merger.sources };
}

/**
 * Loads the configuration: defaults < config file < environment < `overrides`.
 * The file is `path`, else `$COMMUCAT_CONFIG`, else `commucat.toml` in the
 * working directory when present (no file at all is fine: all defaults).
 * Throws {@linkcode ConfigError} whose message is one line naming the key.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  return loadConfigDetailed(options).config;
}
