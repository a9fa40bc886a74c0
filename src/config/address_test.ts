import assert from "node:assert/strict";
import { checkBind, parseBind } from "./address.ts";
import { ConfigError } from "./errors.ts";

Deno.test("parseBind: IPv4, host names and bracketed IPv6", () => {
  assert.deepEqual(parseBind("0.0.0.0:8443"), { hostname: "0.0.0.0", port: 8443 });
  assert.deepEqual(parseBind("localhost:0"), { hostname: "localhost", port: 0 });
  assert.deepEqual(parseBind("[::]:8443"), { hostname: "::", port: 8443 });
  assert.deepEqual(parseBind("[2001:db8::1]:443"), { hostname: "2001:db8::1", port: 443 });
  assert.deepEqual(parseBind("[::ffff:192.0.2.1]:1"), { hostname: "::ffff:192.0.2.1", port: 1 });
});

Deno.test("parseBind: malformed addresses throw ConfigError", () => {
  for (
    const bad of [
      "8443",
      ":8443",
      "::8443",
      "[::]8443",
      "[::1:8443",
      "host:",
      "host:65536",
      "host:-1",
      "host:12abc",
      "999.1.1.1:80",
      "[1:2:3:4:5:6:7:8:9]:80",
      "[1::2::3]:80",
      "bad_host:80",
    ]
  ) {
    assert.throws(() => parseBind(bad), ConfigError, bad);
  }
});

Deno.test("checkBind: port 0 and host names can be refused", () => {
  assert.equal(checkBind("1.2.3.4:0", { allowPortZero: false }), "port out of range 1..65535");
  assert.equal(checkBind("example.org:3478", { requireIp: true }), "expected an IP address");
  assert.deepEqual(checkBind("1.2.3.4:3478", { requireIp: true, allowPortZero: false }), {
    hostname: "1.2.3.4",
    port: 3478,
  });
});
