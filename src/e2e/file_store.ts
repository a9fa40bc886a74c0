/**
 * An {@link E2EStore} in a directory (the CLI profile's `e2e/`): one file per key, written
 * atomically (temporary file + rename) with mode 0600, since group states hold secrets.
 *
 * @module
 */
import type { E2EStore } from "./store.ts";

/** Keys become file names: anything but `[A-Za-z0-9._-]` is %-escaped. */
function fileName(key: string): string {
  return key.replace(
    /[^A-Za-z0-9._-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function keyOf(name: string): string {
  return name.replace(/%([0-9a-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/** A directory-backed {@link E2EStore} (created with mode 0700 on first write). */
export class DirectoryE2EStore implements E2EStore {
  readonly #dir: string;
  constructor(dir: string) {
    this.#dir = dir;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(`${this.#dir}/${fileName(key)}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = `${this.#dir}/${fileName(key)}`;
    const temp = `${path}.tmp-${crypto.randomUUID()}`;
    await Deno.writeFile(temp, value, { mode: 0o600 });
    await Deno.rename(temp, path);
  }

  async delete(key: string): Promise<void> {
    try {
      await Deno.remove(`${this.#dir}/${fileName(key)}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (!entry.isFile || entry.name.includes(".tmp-")) continue;
        const key = keyOf(entry.name);
        if (key.startsWith(prefix)) out.push(key);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return out.sort();
  }
}
