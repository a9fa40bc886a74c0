/**
 * TLS certificates for a zero-configuration server: generate a self-signed
 * ECDSA P-256 certificate in TypeScript (no openssl at runtime), keep it in
 * the data directory, and read validity and names from any certificate for
 * `commucat diagnose`.
 *
 * @example
 * ```ts
 * import { ensureSelfSignedCertificate } from "./mod.ts";
 * const { certPath, keyPath } = await ensureSelfSignedCertificate("./var", { domain: "localhost" });
 * ```
 *
 * @module
 */

export { certificateCovers, type CertificateInfo, readCertificateInfo } from "./cert_info.ts";
export { DerError } from "./der.ts";
export {
  type EnsureCertificateOptions,
  type EnsuredCertificate,
  ensureSelfSignedCertificate,
} from "./files.ts";
export { formatIpAddress, IpAddressError, parseIpAddress } from "./ip.ts";
export { decodePem, decodePemAll, encodePem, PemError } from "./pem.ts";
export {
  generateSelfSignedCertificate,
  type SelfSignedCertificate,
  type SelfSignedOptions,
  TlsCertificateError,
} from "./selfsigned.ts";
