/**
 * Browser stand-in for `src/crypto/noise/native.ts` (swapped in by
 * `import_map.browser.json`): the "native" Noise primitives are the noble
 * ones, so no node:crypto code reaches the web bundle.
 *
 * @module
 */
export {
  nobleBlake2b as nativeBlake2b,
  nobleBlake2s as nativeBlake2s,
  nobleChaChaPoly as nativeChaChaPoly,
  nobleSha256 as nativeSha256,
  nobleX25519 as nativeX25519,
} from "../../crypto/noise/noble.ts";
