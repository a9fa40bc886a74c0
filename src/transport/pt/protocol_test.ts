import assert from "node:assert/strict";
import {
  formatPtArgs,
  parsePtAddress,
  parsePtArgs,
  parsePtLine,
  socksCredentials,
} from "./protocol.ts";

Deno.test("PT stdout lines: obfs4proxy's server and client answers parse", () => {
  assert.deepEqual(parsePtLine("VERSION 1"), { kind: "VERSION", version: "1" });
  const s = parsePtLine(
    "SMETHOD obfs4 127.0.0.1:35483 ARGS:cert=tc+fsgT1JZ/Mz5R2fHkw1Gg,iat-mode=0",
  );
  assert.equal(s.kind, "SMETHOD");
  if (s.kind !== "SMETHOD") return;
  assert.equal(s.transport, "obfs4");
  assert.deepEqual(s.address, { hostname: "127.0.0.1", port: 35483 });
  assert.deepEqual([...s.args], [["cert", "tc+fsgT1JZ/Mz5R2fHkw1Gg"], ["iat-mode", "0"]]);
  assert.deepEqual(parsePtLine("CMETHOD obfs4 socks5 [::1]:43265"), {
    kind: "CMETHOD",
    transport: "obfs4",
    protocol: "socks5",
    address: { hostname: "::1", port: 43265 },
  });
  assert.deepEqual(parsePtLine("CMETHOD-ERROR meek no such transport is supported"), {
    kind: "CMETHOD-ERROR",
    transport: "meek",
    message: "no such transport is supported",
  });
  assert.deepEqual(parsePtLine("SMETHODS DONE"), { kind: "SMETHODS DONE" });
  assert.deepEqual(parsePtLine("VERSION-ERROR no-version"), {
    kind: "VERSION-ERROR",
    message: "no-version",
  });
  assert.deepEqual(parsePtLine("ENV-ERROR no TOR_PT_STATE_LOCATION"), {
    kind: "ENV-ERROR",
    message: "no TOR_PT_STATE_LOCATION",
  });
  // A method line with a broken address is not a method.
  assert.equal(parsePtLine("SMETHOD obfs4 nowhere").kind, "unknown");
  assert.equal(parsePtLine("SMETHOD obfs4 1.2.3.4:99999").kind, "unknown");
  assert.equal(parsePtLine("something else").kind, "unknown");
});

Deno.test("PT addresses and arguments: escapes survive a round trip", () => {
  assert.deepEqual(parsePtAddress("[2001:db8::1]:443"), { hostname: "2001:db8::1", port: 443 });
  assert.equal(parsePtAddress("::1:443"), null);
  const args = parsePtArgs("a=1\\,2,b=x\\=y,c=back\\\\slash");
  assert.deepEqual([...args], [["a", "1,2"], ["b", "x=y"], ["c", "back\\slash"]]);
  assert.deepEqual([...parsePtArgs(formatPtArgs(args), ";")], [...args]);
});

Deno.test("SOCKS5 credentials carry the PT arguments split in two non-empty fields", () => {
  const args = "cert=" + "A".repeat(70) + ";iat-mode=0";
  const { username, password } = socksCredentials(args);
  assert.equal(username + password, args);
  assert.ok(username.length > 0 && password.length > 0);
  const long = "cert=" + "B".repeat(400);
  const split = socksCredentials(long);
  assert.equal(split.username.length, 255);
  assert.equal(split.username + split.password, long);
  assert.throws(() => socksCredentials("x".repeat(511)), /at most 510/);
});
