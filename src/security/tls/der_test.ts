import assert from "node:assert/strict";
import { toHex } from "../../crypto/bytes.ts";
import {
  bitString,
  boolean,
  DerError,
  encodeLength,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  nullValue,
  octetString,
  oid,
  printableString,
  sequence,
  set,
  Tag,
  utcTime,
  utf8String,
  x509Time,
} from "./der.ts";
import {
  children,
  readElement,
  readOid,
  readSingle,
  readTime,
  readUnsignedInteger,
} from "./der_reader.ts";

const hex = (bytes: Uint8Array) => toHex(bytes).replace(/(..)(?!$)/g, "$1 ");

Deno.test("der: INTEGER is minimal, positive, 0x00-prefixed when the high bit is set", () => {
  assert.equal(hex(integer(0)), "02 01 00");
  assert.equal(hex(integer(127)), "02 01 7f");
  assert.equal(hex(integer(128)), "02 02 00 80");
  assert.equal(hex(integer(256)), "02 02 01 00");
  assert.equal(hex(integer(0xffffn)), "02 03 00 ff ff");
  assert.equal(hex(integer(Uint8Array.of(0xff))), "02 02 00 ff");
  assert.equal(hex(integer(Uint8Array.of(0, 0, 1))), "02 01 01");
  assert.equal(hex(integer(Uint8Array.of(0, 0, 0x80))), "02 02 00 80");
  assert.equal(hex(integer(Uint8Array.of(0, 0))), "02 01 00");
  assert.equal(hex(integer(new Uint8Array(0))), "02 01 00");
  assert.throws(() => integer(-1), DerError);
});

Deno.test("der: OBJECT IDENTIFIER vectors", () => {
  assert.equal(hex(oid("1.2.840.10045.4.3.2")), "06 08 2a 86 48 ce 3d 04 03 02");
  assert.equal(hex(oid("2.5.29.17")), "06 03 55 1d 11");
  assert.equal(hex(oid("1.3.6.1.5.5.7.3.1")), "06 08 2b 06 01 05 05 07 03 01");
  assert.equal(hex(oid("2.999.3")), "06 03 88 37 03"); // first subidentifier 1079 > 127
  assert.throws(() => oid("1"), DerError);
  assert.throws(() => oid("3.1"), DerError);
  assert.throws(() => oid("1.40"), DerError);
  assert.throws(() => oid("1.2.x"), DerError);
});

Deno.test("der: times use UTCTime before 2050 and GeneralizedTime from 2050", () => {
  const t = new Date("2026-01-02T03:04:05.678Z");
  const utc = utcTime(t);
  assert.equal(utc[0], Tag.UTC_TIME);
  assert.equal(new TextDecoder().decode(utc.subarray(2)), "260102030405Z");
  assert.equal(hex(utc.subarray(0, 2)), "17 0d");
  const gen = generalizedTime(t);
  assert.equal(new TextDecoder().decode(gen.subarray(2)), "20260102030405Z");
  assert.equal(x509Time(new Date("2049-12-31T23:59:59Z"))[0], Tag.UTC_TIME);
  assert.equal(x509Time(new Date("2050-01-01T00:00:00Z"))[0], Tag.GENERALIZED_TIME);
  assert.throws(() => utcTime(new Date("2050-01-01T00:00:00Z")), DerError);
  assert.throws(() => utcTime(new Date("nope")), DerError);
});

Deno.test("der: lengths, strings, tags and simple types", () => {
  assert.equal(hex(encodeLength(0)), "00");
  assert.equal(hex(encodeLength(127)), "7f");
  assert.equal(hex(encodeLength(128)), "81 80");
  assert.equal(hex(encodeLength(256)), "82 01 00");
  assert.equal(hex(encodeLength(65536)), "83 01 00 00");
  assert.equal(hex(sequence(new Uint8Array(200)).subarray(0, 3)), "30 81 c8");
  assert.equal(hex(sequence()), "30 00");
  assert.equal(hex(boolean(true)), "01 01 ff");
  assert.equal(hex(boolean(false)), "01 01 00");
  assert.equal(hex(nullValue()), "05 00");
  assert.equal(hex(bitString(Uint8Array.of(0x80), 7)), "03 02 07 80");
  assert.equal(hex(octetString(Uint8Array.of(1, 2))), "04 02 01 02");
  assert.equal(hex(utf8String("é")), "0c 02 c3 a9");
  assert.equal(hex(printableString("Ab 1")), "13 04 41 62 20 31");
  assert.equal(hex(ia5String("a")), "16 01 61");
  assert.equal(hex(explicit(0, integer(2))), "a0 03 02 01 02");
  assert.equal(hex(explicit(3, sequence())), "a3 02 30 00");
  assert.equal(hex(implicit(2, Uint8Array.of(0x61))), "82 01 61");
  assert.equal(hex(implicit(7, Uint8Array.of(127, 0, 0, 1))), "87 04 7f 00 00 01");
  assert.equal(hex(implicit(1, new Uint8Array(0), true)), "a1 00");
  // SET OF contents are sorted by encoding (X.690 11.6).
  assert.equal(hex(set(integer(2), integer(1))), "31 06 02 01 01 02 01 02");
  assert.throws(() => printableString("a@b"), DerError);
  assert.throws(() => ia5String("é"), DerError);
  assert.throws(() => bitString(Uint8Array.of(0), 8), DerError);
  assert.throws(() => explicit(31, sequence()), DerError);
});

Deno.test("der reader: round-trips what the encoder writes", () => {
  const encoded = sequence(
    integer(Uint8Array.of(0x80, 1)),
    oid("1.2.840.10045.4.3.2"),
    x509Time(new Date("2030-05-06T07:08:09Z")),
    x509Time(new Date("2061-05-06T07:08:09Z")),
    octetString(new Uint8Array(300)),
  );
  const [int, id, t1, t2, octets] = children(readSingle(encoded, Tag.SEQUENCE));
  assert.equal(toHex(readUnsignedInteger(int)), "8001");
  assert.equal(readOid(id), "1.2.840.10045.4.3.2");
  assert.equal(readTime(t1).toISOString(), "2030-05-06T07:08:09.000Z");
  assert.equal(readTime(t2).toISOString(), "2061-05-06T07:08:09.000Z");
  assert.equal(octets.content.length, 300);
});

Deno.test("der reader: rejects malformed input with DerError", () => {
  assert.throws(() => readElement(Uint8Array.of(0x30)), DerError); // truncated header
  assert.throws(() => readElement(Uint8Array.of(0x30, 0x80, 0, 0)), DerError); // indefinite
  assert.throws(() => readElement(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5)), DerError); // non-minimal
  assert.throws(() => readElement(Uint8Array.of(0x04, 0x03, 1)), DerError); // runs past the end
  assert.throws(() => readSingle(Uint8Array.of(0x05, 0x00, 0x00)), DerError); // trailing data
  assert.throws(() => readSingle(integer(1), Tag.SEQUENCE), DerError); // wrong tag
  const badTime = Uint8Array.of(0x17, 0x0d, ...new TextEncoder().encode("261302030405Z"));
  assert.throws(() => readTime(readSingle(badTime)), DerError); // month 13
});
