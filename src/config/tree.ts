/**
 * The schema seen as a tree of sections, tables and keys, and the flat,
 * ordered list of key descriptors derived from it (what the reference docs,
 * the loader's env overrides and `commucat diagnose` iterate).
 *
 * @module
 */
import type { z } from "zod";
import { type KeyMeta, keyMeta } from "./keys.ts";
import { rawConfigSchema } from "./schema.ts";

/** One configuration key: its dotted name plus its {@linkcode KeyMeta}. */
export interface KeyDescriptor extends KeyMeta {
  /** Dotted name as written in the file, e.g. `security.rate_limit.http_burst`;
   * `<name>` stands for a user-chosen table name (`ice.turn.<name>.urls`). */
  readonly key: string;
  /** Name segments as the loaded {@linkcode Config} spells them (camelCase). */
  readonly path: readonly string[];
}

/** A node of the schema tree. */
export type SchemaNode =
  | { readonly kind: "key"; readonly descriptor: KeyDescriptor }
  | { readonly kind: "section"; readonly children: ReadonlyMap<string, SchemaNode> }
  | { readonly kind: "tables"; readonly item: SchemaNode };

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips wrappers (default, optional, pipe …) down to an object or record. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    const next = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
    if (next === undefined) return s;
    s = next;
  }
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function build(schema: z.ZodType, prefix: string[]): SchemaNode {
  const meta = keyMeta.get(schema);
  if (meta !== undefined) {
    return {
      kind: "key",
      descriptor: { ...meta, key: prefix.join("."), path: prefix.map(camel) },
    };
  }
  const def = defOf(unwrap(schema));
  if (def.type === "object" && def.shape !== undefined) {
    const children = new Map<string, SchemaNode>();
    for (const [name, child] of Object.entries(def.shape)) {
      children.set(name, build(child, [...prefix, name]));
    }
    return { kind: "section", children };
  }
  if (def.type === "record" && def.valueType !== undefined) {
    return { kind: "tables", item: build(def.valueType, [...prefix, "<name>"]) };
  }
  throw new Error(`config schema: ${prefix.join(".")} has no key metadata`);
}

/** The schema tree, rooted at the file's top level. */
export const CONFIG_TREE: SchemaNode = build(rawConfigSchema, []);

function flatten(node: SchemaNode, out: KeyDescriptor[]): KeyDescriptor[] {
  if (node.kind === "key") out.push(node.descriptor);
  else if (node.kind === "tables") flatten(node.item, out);
  else for (const child of node.children.values()) flatten(child, out);
  return out;
}

/** Every key, in schema (and reference) order. */
export const CONFIG_KEYS: readonly KeyDescriptor[] = Object.freeze(flatten(CONFIG_TREE, []));

/** Result of {@linkcode locate}. */
export interface Located {
  /** Dotted name of the key reached (table names as written), e.g. `ice.turn.main.urls`. */
  readonly name: string;
  /** The key's descriptor, when the path reaches a key. */
  readonly descriptor?: KeyDescriptor;
  /** Remainder below the key, e.g. `[1].public_key`. */
  readonly rest: string;
}

/** Follows a value path (as zod reports it) down the tree to the key it is about. */
export function locate(path: readonly PropertyKey[]): Located {
  let node: SchemaNode = CONFIG_TREE;
  const names: string[] = [];
  let i = 0;
  for (; i < path.length && node.kind !== "key"; i++) {
    const segment = String(path[i]);
    names.push(segment);
    const next: SchemaNode | undefined = node.kind === "tables"
      ? node.item
      : node.children.get(segment);
    if (next === undefined) return { name: names.join("."), rest: "" };
    node = next;
  }
  const rest = path.slice(i).map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`)
    .join("");
  return {
    name: names.join("."),
    descriptor: node.kind === "key" ? node.descriptor : undefined,
    rest,
  };
}
