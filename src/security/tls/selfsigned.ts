/**
 * Self-signed X.509 v3 server certificates (ECDSA P-256, SHA-256) built in
 * TypeScript with WebCrypto, so a zero-config server needs no openssl.
 *
 * The extensions are what strict clients demand of a self-signed leaf:
 * rustls/webpki (Deno's client) rejects one without `basicConstraints`
 * critical CA:FALSE and a subjectAltName; browsers match names only
 * against subjectAltName, never the CN.
 *
 * @module
 */

import { toHex, utf8, wipe } from "../../crypto/bytes.ts";
import {
  bitString,
  boolean,
  type DerBytes,
  DerError,
  explicit,
  implicit,
  integer,
  octetString,
  oid,
  sequence,
  set,
  Tag,
  utf8String,
  x509Time,
} from "./der.ts";
import { children, readBitStringBytes, readSingle } from "./der_reader.ts";
import { parseIpAddress } from "./ip.ts";
import { encodePem } from "./pem.ts";

/** Object identifiers used in the certificate. */
export const Oid = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/**
 * Options that cannot make a valid self-signed TLS (X.509) certificate. Named
 * apart from the device-certificate `CertificateError` of `src/crypto`.
 */
export class TlsCertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsCertificateError";
  }
}

/** Options for {@link generateSelfSignedCertificate}. */
export interface SelfSignedOptions {
  /** Subject and issuer CN (1..64 characters). */
  commonName: string;
  /** dNSName entries, ASCII (punycode IDNs first); a leading "*." wildcard is allowed. */
  dnsNames: string[];
  /** iPAddress entries, IPv4 or IPv6 text (e.g. "127.0.0.1", "::1"). */
  ipAddresses: string[];
  /** Lifetime from `now`; 825 days is the longest Apple platforms accept for a TLS leaf. */
  validityDays?: number;
  /** Issue time (defaults to the current time); notBefore is one hour earlier. */
  now?: Date;
}

/** A generated certificate and its private key. */
export interface SelfSignedCertificate {
  /** The certificate, PEM "CERTIFICATE". */
  certPem: string;
  /** The PKCS#8 private key, PEM "PRIVATE KEY". Secret: never log it. */
  keyPem: string;
  /** Lower-case hex SHA-256 of the certificate DER (what browsers show). */
  fingerprintSha256: string;
  /** Start of validity (issue time minus one hour, whole seconds). */
  notBefore: Date;
  /** End of validity (whole seconds). */
  notAfter: Date;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Backdating tolerates clients whose clocks run a little behind ours. */
const CLOCK_SKEW_MS = HOUR_MS;

function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  const labels = lower.split(".");
  const valid = lower.length > 0 && lower.length <= 253 &&
    labels.every((label, i) =>
      (i === 0 && label === "*" && labels.length > 2) ||
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)
    );
  if (!valid) {
    throw new TlsCertificateError(
      `"${name}" is not a valid DNS name (internationalized names must be punycode)`,
    );
  }
  return lower;
}

function extension(id: string, critical: boolean, value: Uint8Array): DerBytes {
  // DER omits `critical` when it has its DEFAULT value FALSE.
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

function distinguishedName(commonName: string): DerBytes {
  return sequence(set(sequence(oid(Oid.commonName), utf8String(commonName))));
}

/**
 * Converts a WebCrypto ECDSA signature (IEEE P1363: r || s, fixed width)
 * to the DER `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` that
 * X.509 carries.
 */
export function p1363ToDerSignature(signature: Uint8Array): DerBytes {
  if (signature.length === 0 || signature.length % 2 !== 0) {
    throw new DerError(`P1363 signature has odd or zero length ${signature.length}`);
  }
  const half = signature.length / 2;
  return sequence(integer(signature.subarray(0, half)), integer(signature.subarray(half)));
}

function randomSerial(): Uint8Array {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  // Positive (high bit clear) and exactly 16 bytes long (0x40 bit set): never zero.
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

/**
 * Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate for
 * TLS server use, valid for `dnsNames` and `ipAddresses`.
 *
 * @throws {TlsCertificateError} for an empty name list, a bad CN, DNS name or validity
 * @throws {IpAddressError} for an unparsable IP address
 */
export async function generateSelfSignedCertificate(
  options: SelfSignedOptions,
): Promise<SelfSignedCertificate> {
  const { commonName, validityDays = 825 } = options;
  if (commonName.length < 1 || commonName.length > 64) {
    throw new TlsCertificateError("commonName must be 1..64 characters");
  }
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 3650) {
    throw new TlsCertificateError("validityDays must be an integer in 1..3650");
  }
  const dnsNames = [...new Set(options.dnsNames.map(normalizeDnsName))];
  const ipBytes = options.ipAddresses.map(parseIpAddress);
  if (dnsNames.length === 0 && ipBytes.length === 0) {
    throw new TlsCertificateError("a certificate needs at least one DNS name or IP address");
  }
  const nowMs = Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000;
  if (Number.isNaN(nowMs)) throw new TlsCertificateError("now is not a valid Date");
  const notBefore = new Date(nowMs - CLOCK_SKEW_MS);
  const notAfter = new Date(nowMs + validityDays * DAY_MS);

  const keyPair = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keyPair.privateKey));

  // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
  const publicKeyBits = readBitStringBytes(children(readSingle(spki, Tag.SEQUENCE))[1]).slice();
  const keyId = new Uint8Array(await crypto.subtle.digest("SHA-1", publicKeyBits));

  const generalNames = [
    // dNSName is [2] IMPLICIT IA5String; names are validated ASCII above.
    ...dnsNames.map((name) => implicit(2, utf8(name))),
    ...ipBytes.map((bytes) => implicit(7, bytes)),
  ];
  const signatureAlgorithm = sequence(oid(Oid.ecdsaWithSha256));
  const name = distinguishedName(commonName);
  const tbs = sequence(
    explicit(0, integer(2)), // version v3
    integer(randomSerial()),
    signatureAlgorithm,
    name, // issuer
    sequence(x509Time(notBefore), x509Time(notAfter)),
    name, // subject
    spki,
    explicit(
      3,
      sequence(
        extension(Oid.basicConstraints, true, sequence()), // CA:FALSE is the DEFAULT: empty
        extension(Oid.keyUsage, true, bitString(Uint8Array.of(0x80), 7)), // digitalSignature
        extension(Oid.extKeyUsage, false, sequence(oid(Oid.serverAuth))),
        extension(Oid.subjectAltName, false, sequence(...generalNames)),
        extension(Oid.subjectKeyIdentifier, false, octetString(keyId)),
      ),
    ),
  );

  const p1363 = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keyPair.privateKey, tbs),
  );
  const certDer = sequence(tbs, signatureAlgorithm, bitString(p1363ToDerSignature(p1363)));
  const fingerprint = new Uint8Array(await crypto.subtle.digest("SHA-256", certDer));

  const keyPem = encodePem("PRIVATE KEY", pkcs8);
  wipe(pkcs8);
  return {
    certPem: encodePem("CERTIFICATE", certDer),
    keyPem,
    fingerprintSha256: toHex(fingerprint),
    notBefore,
    notAfter,
  };
}
