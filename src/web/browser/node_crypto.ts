/**
 * Browser stand-in for `node:crypto` and `node:buffer` (swapped in by
 * `import_map.browser.json`). The web client uses the noble backend
 * (`backend: "noble"`), so none of these is ever called; if one were, it
 * fails with a clear error instead of a missing-module crash at load time.
 *
 * @module
 */
function unavailable(): never {
  throw new Error("node:crypto is not available in the browser; use the noble backend");
}

/** Not available in the browser. */
export const createPrivateKey = unavailable;
/** Not available in the browser. */
export const createPublicKey = unavailable;
/** Not available in the browser. */
export const sign = unavailable;
/** Not available in the browser. */
export const verify = unavailable;
/** Not available in the browser. */
export const Buffer = { from: unavailable, alloc: unavailable };
/** Type-only in the modules that import it. */
export type KeyObject = never;
