/**
 * snake_case (the file's spelling) → camelCase (the code's spelling), for
 * values and for types.
 *
 * @module
 */

/** `relay_ttl` → `relayTtl`, at the type level. */
export type CamelCase<S extends string> = S extends `${infer H}_${infer T}`
  ? `${H}${Capitalize<CamelCase<T>>}`
  : S;

/** Deeply camel-cases the keys of plain objects and makes everything read-only. */
export type Camelize<T> = T extends readonly (infer U)[] ? readonly Camelize<U>[]
  : T extends object
    ? { readonly [K in keyof T as K extends string ? CamelCase<K> : K]: Camelize<T[K]> }
  : T;

/** `relay_ttl` → `relayTtl`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Deeply camel-cases the keys of plain objects; drops `undefined` members. */
export function camelize<T>(value: T): Camelize<T> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v)) {
      if (inner !== undefined) out[camelCase(k)] = walk(inner);
    }
    return out;
  };
  return walk(value) as Camelize<T>;
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
