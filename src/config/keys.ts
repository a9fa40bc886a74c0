/**
 * Declaring a key: a value kind plus its metadata (env variable, default,
 * description, secrecy), recorded in {@linkcode keyMeta} so the schema tree
 * can be iterated for docs and env overrides.
 *
 * @module
 */
import { z } from "zod";
import type { EnvKind, Kind } from "./kinds.ts";

/** Metadata of one configuration key (a leaf of the schema). */
export interface KeyMeta {
  /** Environment variable overriding the key, if any. */
  readonly env?: string;
  /** Type as shown in the reference. */
  readonly type: string;
  /** Noun phrase completing "expected …" in error messages. */
  readonly expected: string;
  /** How an environment string is coerced. */
  readonly envKind: EnvKind;
  /** Default value (`undefined`: the key is optional and unset by default). */
  readonly default?: unknown;
  /** How the default reads in the reference, when the value alone says too little. */
  readonly defaultText?: string;
  /** What the key does. */
  readonly description: string;
  /** The value is a secret: never printed, logged or echoed in errors. */
  readonly secret: boolean;
  /** The key may be absent. */
  readonly optional: boolean;
  /** Illustrative value for the sample file (keys without a default). */
  readonly example?: unknown;
}

/** Registry holding the {@linkcode KeyMeta} of every leaf schema. */
export const keyMeta: z.core.$ZodRegistry<KeyMeta> = z.registry<KeyMeta>();

/** What a key declaration says besides its kind. */
export interface KeyOptions {
  env?: string;
  description: string;
  secret?: boolean;
  defaultText?: string;
  example?: unknown;
}

function meta<S extends z.ZodType>(k: Kind<S>, o: KeyOptions, extra: Partial<KeyMeta>): KeyMeta {
  return {
    env: o.env,
    type: k.type,
    expected: k.expected,
    envKind: k.env,
    description: o.description,
    secret: o.secret ?? false,
    defaultText: o.defaultText,
    example: o.example,
    optional: false,
    ...extra,
  };
}

function registered<S extends z.ZodType>(schema: S, m: KeyMeta): S {
  keyMeta.add(schema as z.ZodType, m);
  return schema;
}

/** A key with a default. */
export function key<S extends z.ZodType>(k: Kind<S>, value: z.output<S>, o: KeyOptions) {
  return registered(k.schema.default(value as never), meta(k, o, { default: value }));
}

/** An optional key (absent by default). */
export function optional<S extends z.ZodType>(k: Kind<S>, o: KeyOptions) {
  return registered(k.schema.optional(), meta(k, o, { optional: true }));
}

/** A list-valued key with a custom schema and a default. */
export function list<S extends z.ZodType>(
  schema: S,
  k: Omit<Kind<S>, "schema">,
  value: z.input<S>,
  o: KeyOptions,
) {
  return registered(schema.prefault(value as never), meta({ ...k, schema }, o, { default: value }));
}

/** A required list-valued key with a custom schema. */
export function requiredList<S extends z.ZodType>(
  schema: S,
  k: Omit<Kind<S>, "schema">,
  o: KeyOptions,
) {
  return registered(schema, meta({ ...k, schema }, o, {}));
}
