/**
 * A human-readable, secret-free rendering of a loaded configuration (what
 * `commucat config check` prints).
 *
 * @module
 */
import type { LoadedConfig, ValueSource } from "./load.ts";
import { CONFIG_KEYS, type KeyDescriptor } from "./tree.ts";
import type { TurnServer } from "./tables.ts";

/** Replacement text for secret values. */
export const REDACTED = "<redacted>";

function getAt(root: unknown, path: readonly string[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function render(d: KeyDescriptor, value: unknown): string {
  if (value === undefined) return "(unset)";
  if (d.secret) return REDACTED;
  return JSON.stringify(value);
}

function turnField(t: TurnServer, field: string): unknown {
  switch (field) {
    case "urls":
      return t.urls;
    case "secret":
      return t.auth.kind === "secret" ? t.auth.secret : undefined;
    case "username":
      return t.auth.kind === "static" ? t.auth.username : undefined;
    case "password":
      return t.auth.kind === "static" ? t.auth.password : undefined;
    case "realm":
      return t.realm;
  }
  return undefined;
}

function describeSource(s: ValueSource | undefined): string {
  if (s === undefined) return "default";
  return s.kind === "file" ? s.file : s.kind === "env" ? `env ${s.name}` : "override";
}

/**
 * One `key = value  (source)` line per key, in schema order; secrets show as
 * {@linkcode REDACTED}, unset optional keys as `(unset)`.
 */
export function summarizeConfig(loaded: LoadedConfig): string[] {
  const rows: [string, string, string][] = [];
  const turn = loaded.config.ice.turn;
  for (const d of CONFIG_KEYS) {
    if (d.key.includes("<name>")) {
      const field = d.path[d.path.length - 1];
      for (const t of turn) {
        const key = d.key.replace("<name>", t.name);
        const value = turnField(t, field);
        if (value !== undefined) {
          rows.push([key, render(d, value), describeSource(loaded.sources.get(key))]);
        }
      }
      continue;
    }
    rows.push([
      d.key,
      render(d, getAt(loaded.config, d.path)),
      describeSource(loaded.sources.get(d.key)),
    ]);
  }
  const width = Math.max(...rows.map(([k, v]) => k.length + v.length + 3));
  return rows.map(([k, v, s]) => `${`${k} = ${v}`.padEnd(width)}  (${s})`);
}
