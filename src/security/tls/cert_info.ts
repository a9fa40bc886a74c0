/**
 * Reads the facts `commucat diagnose` and certificate reuse need from any
 * X.509 certificate (ours or user-provided): validity, names and
 * fingerprint. Parses the DER just enough; it does not verify signatures.
 *
 * @module
 */

import { fromUtf8, toHex } from "../../crypto/bytes.ts";
import { DerError, Tag } from "./der.ts";
import {
  children,
  type DerElement,
  expectTag,
  readOid,
  readSingle,
  readTime,
} from "./der_reader.ts";
import { formatIpAddress, isIpAddress, parseIpAddress } from "./ip.ts";
import { decodePem } from "./pem.ts";

const SUBJECT_ALT_NAME = "2.5.29.17";
const COMMON_NAME = "2.5.4.3";

/** What {@link readCertificateInfo} reports about a certificate. */
export interface CertificateInfo {
  /** The subject's CN, or null when absent or not a text string we read. */
  subjectCommonName: string | null;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** subjectAltName entries in openssl style: "DNS:localhost", "IP:127.0.0.1". */
  subjectAltNames: string[];
  /** The dNSName entries. */
  dnsNames: string[];
  /** The iPAddress entries in canonical text form. */
  ipAddresses: string[];
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprintSha256: string;
  /** The SubjectPublicKeyInfo DER, to check a private key matches. */
  subjectPublicKeyInfo: Uint8Array<ArrayBuffer>;
}

function readName(name: DerElement): string | null {
  for (const rdn of children(expectTag(name, Tag.SEQUENCE))) {
    for (const attribute of children(expectTag(rdn, Tag.SET))) {
      const [type, value] = children(expectTag(attribute, Tag.SEQUENCE));
      if (type && value && readOid(type) === COMMON_NAME) {
        const textTags: number[] = [Tag.UTF8_STRING, Tag.PRINTABLE_STRING, Tag.IA5_STRING];
        return textTags.includes(value.tag) ? fromUtf8(value.content) : null;
      }
    }
  }
  return null;
}

function readSubjectAltNames(extensions: DerElement | undefined) {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const subjectAltNames: string[] = [];
  if (!extensions) return { dnsNames, ipAddresses, subjectAltNames };
  const list = children(expectTag(extensions, 0xa3))[0];
  if (!list) throw new DerError("empty extensions");
  for (const ext of children(expectTag(list, Tag.SEQUENCE))) {
    const parts = children(expectTag(ext, Tag.SEQUENCE));
    if (parts.length < 2 || readOid(parts[0]) !== SUBJECT_ALT_NAME) continue;
    const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING);
    for (const generalName of children(readSingle(value.content, Tag.SEQUENCE))) {
      if (generalName.tag === 0x82) { // [2] dNSName
        const name = fromUtf8(generalName.content);
        dnsNames.push(name);
        subjectAltNames.push(`DNS:${name}`);
      } else if (generalName.tag === 0x87) { // [7] iPAddress
        const ip = formatIpAddress(generalName.content);
        ipAddresses.push(ip);
        subjectAltNames.push(`IP:${ip}`);
      }
    }
  }
  return { dnsNames, ipAddresses, subjectAltNames };
}

/**
 * Facts about the first certificate in `pem` (the leaf of a chain file).
 *
 * @throws {PemError} when there is no CERTIFICATE block
 * @throws {DerError} when the certificate is malformed
 */
export async function readCertificateInfo(pem: string): Promise<CertificateInfo> {
  const der = decodePem(pem, "CERTIFICATE");
  const [tbs] = children(readSingle(der, Tag.SEQUENCE));
  if (!tbs) throw new DerError("empty certificate");
  const fields = children(expectTag(tbs, Tag.SEQUENCE));
  // version [0] is optional (absent means v1); everything after is positional.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = fields[base + 3];
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!validity || !subject || !spki) throw new DerError("truncated TBSCertificate");
  const [notBeforeEl, notAfterEl] = children(expectTag(validity, Tag.SEQUENCE));
  if (!notBeforeEl || !notAfterEl) throw new DerError("malformed validity");
  const extensions = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  const fingerprint = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return {
    subjectCommonName: readName(subject),
    notBefore: readTime(notBeforeEl),
    notAfter: readTime(notAfterEl),
    ...readSubjectAltNames(extensions),
    fingerprintSha256: toHex(fingerprint),
    subjectPublicKeyInfo: expectTag(spki, Tag.SEQUENCE).encoded.slice(),
  };
}

/**
 * True when the certificate's subjectAltName covers `host` (a DNS name or
 * IP address). Wildcards match exactly one leftmost label, as browsers do.
 */
export function certificateCovers(info: CertificateInfo, host: string): boolean {
  if (isIpAddress(host)) {
    const wanted = formatIpAddress(parseIpAddress(host));
    return info.ipAddresses.includes(wanted);
  }
  const name = host.toLowerCase().replace(/\.$/, "");
  return info.dnsNames.some((entry) => {
    const pattern = entry.toLowerCase();
    if (pattern === name) return true;
    if (!pattern.startsWith("*.")) return false;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}
