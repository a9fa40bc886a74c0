/**
 * The MLS (RFC 9420) pieces a delivery service needs: a TLS-presentation
 * reader, labelled signatures per cipher suite, and KeyPackage decoding and
 * verification. Clients run MLS itself (ts-mls); the server never decrypts.
 *
 * @module
 */
export * from "./key_package.ts";
export * from "./signature.ts";
export { encodeOpaque, encodeVarint, MlsDecodeError, TlsReader } from "./tls.ts";
