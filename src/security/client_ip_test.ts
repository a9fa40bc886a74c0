import assert from "node:assert/strict";
import {
  clientIp,
  clientKey,
  normalizeIp,
  peerAddress,
  rateLimitKey,
  TrustedProxies,
  TrustedProxyError,
} from "./client_ip.ts";

function peer(hostname: string, port = 50_000): Deno.ServeHandlerInfo {
  return { remoteAddr: { transport: "tcp", hostname, port }, completed: Promise.resolve() };
}

function request(forwardedFor?: string): Request {
  const headers = new Headers();
  if (forwardedFor !== undefined) headers.set("x-forwarded-for", forwardedFor);
  return new Request("http://example.test/", { headers });
}

Deno.test("clientIp: the socket peer's IP, never ip:port", () => {
  assert.equal(clientIp(request(), peer("203.0.113.7", 1234), []), "203.0.113.7");
  assert.equal(clientIp(request(), peer("203.0.113.7", 9999), []), "203.0.113.7");
});

Deno.test("clientIp: X-Forwarded-For from an untrusted peer is ignored (spoofing)", () => {
  const spoofed = request("1.1.1.1");
  assert.equal(clientIp(spoofed, peer("203.0.113.7"), []), "203.0.113.7");
  assert.equal(clientIp(spoofed, peer("203.0.113.7"), ["10.0.0.0/8"]), "203.0.113.7");
});

Deno.test("clientIp: a trusted proxy's X-Forwarded-For names the client", () => {
  assert.equal(clientIp(request("198.51.100.9"), peer("10.1.2.3"), ["10.0.0.0/8"]), "198.51.100.9");
  assert.equal(clientIp(request(), peer("10.1.2.3"), ["10.0.0.0/8"]), "10.1.2.3", "no header");
});

Deno.test("clientIp: multi-hop X-Forwarded-For is walked from the right", () => {
  const trusted = ["10.0.0.0/8", "192.168.1.1"];
  // The client forged "6.6.6.6" on the left; proxies appended the real hops.
  const r = request("6.6.6.6, 198.51.100.9, 10.9.9.9,192.168.1.1");
  assert.equal(clientIp(r, peer("10.0.0.1"), trusted), "198.51.100.9");
  // Multiple header lines are combined in order.
  const headers = new Headers();
  headers.append("x-forwarded-for", "6.6.6.6, 198.51.100.9");
  headers.append("x-forwarded-for", "10.9.9.9");
  const combined = new Request("http://example.test/", { headers });
  assert.equal(clientIp(combined, peer("10.0.0.1"), trusted), "198.51.100.9");
  // Every hop trusted: the leftmost one.
  assert.equal(clientIp(request("10.2.2.2, 10.3.3.3"), peer("10.0.0.1"), trusted), "10.2.2.2");
});

Deno.test("clientIp: a malformed entry stops the walk at the socket peer", () => {
  const trusted = ["10.0.0.0/8"];
  for (
    const header of ["unknown", "198.51.100.9, garbage", "198.51.100.9,,10.1.1.1", "", "_hidden"]
  ) {
    assert.equal(clientIp(request(header), peer("10.0.0.1"), trusted), "10.0.0.1", header);
  }
  // Malformed entries left of the client are never reached.
  assert.equal(
    clientIp(request("garbage, 198.51.100.9"), peer("10.0.0.1"), trusted),
    "198.51.100.9",
  );
});

Deno.test("clientIp: entries with ports and bracketed IPv6", () => {
  const trusted = ["10.0.0.0/8"];
  assert.equal(clientIp(request("198.51.100.9:4711"), peer("10.0.0.1"), trusted), "198.51.100.9");
  assert.equal(clientIp(request("[2001:DB8::1]:443"), peer("10.0.0.1"), trusted), "2001:db8::1");
  assert.equal(clientIp(request("[2001:db8::2]"), peer("10.0.0.1"), trusted), "2001:db8::2");
  assert.equal(clientIp(request("2001:db8::3"), peer("10.0.0.1"), trusted), "2001:db8::3");
});

Deno.test("clientIp: IPv6 peers and proxies; IPv4-mapped addresses folded to IPv4", () => {
  assert.equal(clientIp(request(), peer("2001:0db8:0000::0001"), []), "2001:db8::1");
  assert.equal(clientIp(request(), peer("::ffff:203.0.113.7"), []), "203.0.113.7");
  assert.equal(clientIp(request(), peer("fe80::1%eth0"), []), "fe80::1", "zone dropped");
  // A mapped peer matches an IPv4 trusted entry, and a mapped client is folded.
  assert.equal(
    clientIp(request("::ffff:198.51.100.9"), peer("::ffff:10.0.0.1"), ["10.0.0.0/8"]),
    "198.51.100.9",
  );
  assert.equal(clientIp(request("2001:db8::9"), peer("::1"), ["::1"]), "2001:db8::9");
  assert.equal(clientIp(request("2001:db8::9"), peer("::2"), ["::1"]), "::2");
});

Deno.test("clientIp: a Unix-socket peer is 'unix' and its header is ignored", () => {
  const info: Deno.ServeHandlerInfo = {
    remoteAddr: { transport: "unix", path: "/run/commucat.sock" },
    completed: Promise.resolve(),
  };
  assert.equal(clientIp(request("198.51.100.9"), info, ["10.0.0.0/8"]), "unix");
});

Deno.test("trusted proxies: CIDR matching for IPv4 and IPv6", () => {
  const t = TrustedProxies.parse([
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.0.2.1",
    "fd00::/8",
    "2001:db8:1::/48",
    "::1",
    "::ffff:100.64.0.0/106",
  ]);
  assert.equal(t.size, 7);
  for (const ip of ["10.255.255.255", "172.31.0.1", "192.0.2.1", "fd12::1", "2001:db8:1:ffff::1"]) {
    assert.equal(t.trusts(ip), true, ip);
  }
  assert.equal(t.trusts("::1"), true);
  assert.equal(t.trusts("100.127.0.1"), true, "mapped CIDR covers plain IPv4");
  assert.equal(t.trusts("::ffff:10.0.0.1"), true, "mapped address matches an IPv4 CIDR");
  for (
    const ip of ["11.0.0.1", "172.32.0.1", "192.0.2.2", "fe00::1", "2001:db8:2::1", "::2", "x"]
  ) {
    assert.equal(t.trusts(ip), false, ip);
  }
  assert.equal(TrustedProxies.parse(["0.0.0.0/0"]).trusts("8.8.8.8"), true);
  assert.equal(TrustedProxies.parse(["0.0.0.0/0"]).trusts("::1"), false, "families differ");
  const odd = TrustedProxies.parse(["10.1.2.2/31", "172.20.16.0/20"]);
  assert.equal(odd.trusts("10.1.2.3"), true);
  assert.equal(odd.trusts("10.1.2.4"), false);
  assert.equal(odd.trusts("172.20.31.255"), true);
  assert.equal(odd.trusts("172.20.32.0"), false);
});

Deno.test("trusted proxies: bad entries are TrustedProxyErrors that say why", () => {
  const cases: [string, RegExp][] = [
    ["localhost", /not an IP address or CIDR/],
    ["10.0.0.0/33", /bad prefix length \(expected 0\.\.32\)/],
    ["::/129", /expected 0\.\.128/],
    ["10.0.0.0/", /bad prefix/],
    ["10.0.0.0/-1", /bad prefix/],
    ["10.0.0.1/8", /host bits set; did you mean "10\.0\.0\.0\/8"/],
  ];
  for (const [entry, message] of cases) {
    assert.throws(
      () => TrustedProxies.parse([entry]),
      (e) => e instanceof TrustedProxyError && message.test(e.message),
      entry,
    );
  }
  assert.throws(() => clientIp(request(), peer("10.0.0.1"), ["nope"]), TrustedProxyError);
});

Deno.test("rateLimitKey: IPv4 as is, IPv6 by its /64", () => {
  assert.equal(rateLimitKey("203.0.113.7"), "203.0.113.7");
  assert.equal(rateLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  assert.equal(rateLimitKey("2001:db8:1:2::1"), rateLimitKey("2001:db8:1:2:ffff::9"));
  assert.notEqual(rateLimitKey("2001:db8:1:2::1"), rateLimitKey("2001:db8:1:3::1"));
  assert.equal(rateLimitKey("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(rateLimitKey("::1"), "::/64");
  assert.equal(rateLimitKey("unix"), "unix");
});

Deno.test("normalizeIp: canonical text or null", () => {
  assert.equal(normalizeIp("2001:DB8:0:0::1"), "2001:db8::1");
  assert.equal(normalizeIp("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(normalizeIp("[::1]"), "::1");
  assert.equal(normalizeIp("1.2.3.4:80"), null);
});

Deno.test("clientKey and peerAddress: the keys the rate limit and the caps computed from the text", () => {
  const peers = [
    "203.0.113.7",
    "2001:db8:1:2:3:4:5:6",
    "::ffff:198.51.100.9",
    "fe80::1%eth0",
    "10.1.2.3",
    "not-an-ip",
  ];
  const lists = [[], ["10.0.0.0/8"], ["10.0.0.0/8", "::/0"], ["0.0.0.0/0", "::/0"]];
  const forwarded = [null, "192.0.2.44", "garbage, 10.9.9.9", "2001:db8::9, 10.0.0.1"];
  for (const hostname of peers) {
    for (const list of lists) {
      const trusted = TrustedProxies.parse(list);
      for (const xff of forwarded) {
        const request = new Request("https://example.test/connect", {
          headers: xff === null ? {} : { "x-forwarded-for": xff },
        });
        // A fresh address object each time, and the same one twice (parsed once, then reused).
        const addr = { transport: "tcp" as const, hostname, port: 1 };
        const info = { remoteAddr: addr, completed: Promise.resolve() };
        const expected = rateLimitKey(trusted.resolve(hostname, xff));
        assert.equal(clientKey(request, info, trusted), expected, `${hostname} ${list} ${xff}`);
        assert.equal(clientKey(request, info, trusted), expected);
        assert.equal(clientIp(request, info, trusted), trusted.resolve(hostname, xff));
      }
    }
    const bare = hostname.replace(/%.*$/, "");
    const capsKey = rateLimitKey(normalizeIp(bare) ?? bare);
    const addr = { transport: "tcp" as const, hostname, port: 1 };
    assert.equal(peerAddress(addr)?.key ?? bare, capsKey);
  }
});
