/**
 * MLS KeyPackages (RFC 9420 §10) as a delivery service sees them: decoded
 * far enough to know whose they are (the leaf's credential), which cipher
 * suite, how long they live, and whether their two signatures hold. The
 * server never needs more: it stores and hands out the bytes as uploaded.
 *
 * @module
 */
import { MLS_SIGNATURE_SCHEMES, type MlsSignatureScheme, verifyWithLabel } from "./signature.ts";
import { MlsDecodeError, TlsReader } from "./tls.ts";

/** `ProtocolVersion mls10`. */
export const MLS_VERSION_10 = 1;
/** `WireFormat mls_key_package`. */
export const MLS_WIRE_FORMAT_KEY_PACKAGE = 5;
/** `CredentialType basic`. */
export const MLS_CREDENTIAL_BASIC = 1;
/** `CredentialType x509`. */
export const MLS_CREDENTIAL_X509 = 2;
/** `LeafNodeSource key_package`. */
const LEAF_SOURCE_KEY_PACKAGE = 1;

/** A leaf node's credential: a basic identity, or an X.509 chain (DER certificates). */
export type MlsCredential =
  | { type: "basic"; identity: Uint8Array }
  | { type: "x509"; certificates: Uint8Array[] };

/** The parts of a KeyPackage a delivery service looks at. */
export interface MlsKeyPackageInfo {
  /** True when the input was an `MLSMessage` wrapping the KeyPackage. */
  wrapped: boolean;
  version: number;
  cipherSuite: number;
  /** Its signature scheme, or null for a suite this server cannot check. */
  scheme: MlsSignatureScheme | null;
  initKey: Uint8Array;
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: MlsCredential;
  /** Lifetime, seconds since the epoch. */
  notBefore: bigint;
  notAfter: bigint;
  /** `LeafNodeTBS` (for a key-package leaf: the leaf node up to its signature) and its signature. */
  leafTbs: Uint8Array;
  leafSignature: Uint8Array;
  /** `KeyPackageTBS` and the KeyPackage signature. */
  tbs: Uint8Array;
  signature: Uint8Array;
}

function skipVector(r: TlsReader, what: string, element: (v: TlsReader) => void): void {
  const v = r.vector(what);
  while (v.remaining > 0) element(v);
}

function readCredential(r: TlsReader): MlsCredential {
  const type = r.u16("credential type");
  if (type === MLS_CREDENTIAL_BASIC) return { type: "basic", identity: r.opaque("identity") };
  if (type === MLS_CREDENTIAL_X509) {
    const certificates: Uint8Array[] = [];
    skipVector(r, "certificates", (v) => certificates.push(v.opaque("certificate")));
    return { type: "x509", certificates };
  }
  // Other credential types have a body whose shape only their definition knows.
  throw new MlsDecodeError(`unsupported credential type ${type}`);
}

/**
 * Decodes a KeyPackage, bare or wrapped in an `MLSMessage`
 * (`version = mls10, wire_format = mls_key_package`). Throws
 * {@link MlsDecodeError} for anything malformed, truncated or followed by
 * trailing bytes, and for a leaf node that is not a key-package leaf.
 * Checks no signature (see {@link verifyKeyPackage}).
 */
export function decodeKeyPackage(bytes: Uint8Array): MlsKeyPackageInfo {
  const r = new TlsReader(bytes);
  // A bare KeyPackage starts with its version (0x0001) and a cipher suite; an
  // MLSMessage with its version (0x0001) and wire format 5. Suite 5 exists too,
  // so look one field further: an MLSMessage's KeyPackage repeats version 1.
  let wrapped = false;
  if (bytes.length >= 6 && bytes[0] === 0 && bytes[1] === MLS_VERSION_10) {
    const second = (bytes[2] << 8) | bytes[3];
    const third = (bytes[4] << 8) | bytes[5];
    if (second === MLS_WIRE_FORMAT_KEY_PACKAGE && third === MLS_VERSION_10) {
      r.u16("version");
      r.u16("wire format");
      wrapped = true;
    }
  }
  const start = r.offset;
  const version = r.u16("version");
  if (version !== MLS_VERSION_10) throw new MlsDecodeError(`unsupported MLS version ${version}`);
  const cipherSuite = r.u16("cipher suite");
  const initKey = r.opaque("init key");
  const leafStart = r.offset;
  const encryptionKey = r.opaque("encryption key");
  const signatureKey = r.opaque("signature key");
  const credential = readCredential(r);
  // Capabilities: versions, cipher suites, extensions, proposals, credentials.
  for (const what of ["versions", "cipher suites", "extensions", "proposals", "credentials"]) {
    const v = r.vector(`capabilities ${what}`);
    if (v.remaining % 2 !== 0) throw new MlsDecodeError(`capabilities ${what}: odd length`);
  }
  const source = r.u8("leaf node source");
  if (source !== LEAF_SOURCE_KEY_PACKAGE) {
    throw new MlsDecodeError(`leaf node source ${source} is not key_package`);
  }
  const notBefore = r.u64("lifetime");
  const notAfter = r.u64("lifetime");
  skipVector(r, "leaf extensions", (v) => {
    v.u16("extension type");
    v.opaque("extension data");
  });
  const leafTbs = bytes.subarray(leafStart, r.offset);
  const leafSignature = r.opaque("leaf signature");
  skipVector(r, "extensions", (v) => {
    v.u16("extension type");
    v.opaque("extension data");
  });
  const tbs = bytes.subarray(start, r.offset);
  const signature = r.opaque("signature");
  r.end("key package");
  return {
    wrapped,
    version,
    cipherSuite,
    scheme: MLS_SIGNATURE_SCHEMES.get(cipherSuite) ?? null,
    initKey,
    encryptionKey,
    signatureKey,
    credential,
    notBefore,
    notAfter,
    leafTbs,
    leafSignature,
    tbs,
    signature,
  };
}

/**
 * True when both signatures of the KeyPackage hold under its leaf's
 * signature key: the leaf node's (`LeafNodeTBS`) and the package's own
 * (`KeyPackageTBS`). False for a cipher suite this server cannot check.
 */
export function verifyKeyPackage(info: MlsKeyPackageInfo): boolean {
  if (info.scheme === null) return false;
  return verifyWithLabel(
    info.scheme,
    info.signatureKey,
    "LeafNodeTBS",
    info.leafTbs,
    info.leafSignature,
  ) &&
    verifyWithLabel(info.scheme, info.signatureKey, "KeyPackageTBS", info.tbs, info.signature);
}
