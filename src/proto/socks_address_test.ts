import assert from "node:assert/strict";
import { encodeSocksAddress, parseSocksAddress, SocksAddressError } from "./socks_address.ts";

Deno.test("SOCKS5 addresses: IPv4, domain, IPv6; incomplete → null; unknown type refused", () => {
  assert.deepEqual(parseSocksAddress(new Uint8Array([1, 127, 0, 0, 1, 0x20, 0xfb, 9])), {
    host: "127.0.0.1",
    port: 8443,
    length: 7,
  });
  const domain = new Uint8Array([3, 9, ...new TextEncoder().encode("localhost"), 0x01, 0xbb]);
  assert.deepEqual(parseSocksAddress(domain), { host: "localhost", port: 443, length: 13 });
  assert.equal(parseSocksAddress(domain.subarray(0, 12)), null);
  const v6 = new Uint8Array(19);
  v6[0] = 4;
  v6[16] = 1;
  v6[18] = 80;
  assert.deepEqual(parseSocksAddress(v6), { host: "0:0:0:0:0:0:0:1", port: 80, length: 19 });
  assert.throws(() => parseSocksAddress(new Uint8Array([0x16, 3, 1])), SocksAddressError);
});

Deno.test("SOCKS5 addresses encode as they parse (IPv4, IPv6, names)", () => {
  for (
    const [host, port] of [["127.0.0.1", 8443], ["localhost", 443], [
      "0:0:0:0:0:0:0:1",
      80,
    ]] as const
  ) {
    const bytes = encodeSocksAddress(host, port);
    assert.deepEqual(parseSocksAddress(bytes), { host, port, length: bytes.length });
  }
  assert.deepEqual([...encodeSocksAddress("10.1.2.3", 258)], [1, 10, 1, 2, 3, 1, 2]);
  assert.deepEqual([...encodeSocksAddress("[::1]", 1)].slice(0, 1), [4]);
  assert.throws(() => encodeSocksAddress("x".repeat(256), 1), /longer than 255/);
});
