import assert from "node:assert/strict";
import { toHex } from "../../crypto/bytes.ts";
import { formatIpAddress, IpAddressError, parseIpAddress } from "./ip.ts";

Deno.test("ip: parses IPv4 and IPv6 (including ::1 and embedded IPv4)", () => {
  assert.equal(toHex(parseIpAddress("127.0.0.1")), "7f000001");
  assert.equal(toHex(parseIpAddress("0.10.255.100")), "000aff64");
  assert.equal(toHex(parseIpAddress("::1")), "00".repeat(15) + "01");
  assert.equal(toHex(parseIpAddress("[::1]")), "00".repeat(15) + "01");
  assert.equal(toHex(parseIpAddress("::")), "00".repeat(16));
  assert.equal(
    toHex(parseIpAddress("2001:DB8::8a2e:370:7334")),
    "20010db8000000000000" + "8a2e03707334",
  );
  assert.equal(toHex(parseIpAddress("::ffff:192.0.2.1")), "00".repeat(10) + "ffffc0000201");
  assert.equal(toHex(parseIpAddress("1:2:3:4:5:6:7::")), "0001000200030004000500060007" + "0000");
});

Deno.test("ip: rejects malformed addresses with IpAddressError", () => {
  for (
    const bad of [
      "",
      "1.2.3",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.4.5",
      "1..3.4",
      "1.2.3.",
      ".1.2.3",
      "1.2.3.1000",
      "1.2.3.00",
      "1.2.3.4 ",
      "+1.2.3.4",
      "localhost",
      ":1",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "::1:2:3:4:5:6:7:8",
      "12345::1",
      "fe80::1%eth0",
      "1.2.3.4::1",
    ]
  ) {
    assert.throws(() => parseIpAddress(bad), IpAddressError, bad);
  }
});

Deno.test("ip: formats canonically (RFC 5952)", () => {
  assert.equal(formatIpAddress(parseIpAddress("127.0.0.1")), "127.0.0.1");
  assert.equal(formatIpAddress(parseIpAddress("0:0:0:0:0:0:0:1")), "::1");
  assert.equal(formatIpAddress(parseIpAddress("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
  assert.equal(formatIpAddress(parseIpAddress("2001:db8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1");
  assert.equal(formatIpAddress(parseIpAddress("::")), "::");
  assert.throws(() => formatIpAddress(new Uint8Array(5)), IpAddressError);
});
