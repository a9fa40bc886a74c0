/**
 * Where a device keeps its end-to-end state (group states, private key packages, pinned device
 * keys): a small key → bytes interface, backed by a directory in the CLI profile
 * ({@link DirectoryE2EStore} in `file_store.ts`), IndexedDB in the web client, or memory (tests,
 * bots that keep no history).
 *
 * @module
 */

/** Persistent key → bytes storage. Keys are short ASCII paths such as `group/5`. */
export interface E2EStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

/** An in-memory {@link E2EStore} (lost on exit). */
export class MemoryE2EStore implements E2EStore {
  readonly #map = new Map<string, Uint8Array>();
  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#map.get(key)?.slice());
  }
  put(key: string, value: Uint8Array): Promise<void> {
    this.#map.set(key, value.slice());
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.#map.delete(key);
    return Promise.resolve();
  }
  keys(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.#map.keys()].filter((k) => k.startsWith(prefix)));
  }
}
